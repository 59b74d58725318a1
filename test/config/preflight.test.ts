/**
 * Start-up problems name the setting they come from (and the file or port, and the environment variable when the
 * value came from one): what can be checked before anything starts is checked at once, and a part that still fails
 * while starting is reported under the same names. Secrets never appear in these lines.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { freePort } from '../../src/free-port.js';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, settingsFrom } from '../../src/config/settings.js';
import { preflight, setting, step } from '../../src/daemon/checks.js';
import { prepareDataDir } from '../../src/daemon/data-dir.js';
import { connectLnd, probeLnd } from '../../src/daemon/lnd.js';
import { openDatabase } from '../../src/db/database.js';
import { ensureTlsCertificate } from '@mostro/lnsim';
import { startMetricsServer } from '../../src/metrics.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mostro-preflight-'));
const lndTls = ensureTlsCertificate(path.join(dir, 'tls'));
const goodCert = path.join(dir, 'tls', 'tls.cert');
const goodKey = path.join(dir, 'tls', 'tls.key');
const file = (name: string, content: string | Buffer) => {
  const f = path.join(dir, name);
  fs.writeFileSync(f, content);
  return f;
};
const garbageCert = file('garbage.cert', 'this is not a certificate\n');
const macaroon = file('admin.macaroon', Buffer.from('0201036c6e6402', 'hex'));

/** Holds ports on 127.0.0.1 for a test (port 0: a free one). */
const held: net.Server[] = [];
async function holdPort(port = 0): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', resolve);
  });
  held.push(srv);
  return (srv.address() as net.AddressInfo).port;
}
afterAll(() => {
  for (const s of held) s.close();
});

async function startProblem(fn: () => Promise<unknown>): Promise<string[]> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

const lnd = (cert: string, mac = macaroon) => ({ lightning: { lnd_grpc_host: '127.0.0.1:10009', lnd_cert_file: cert, lnd_macaroon_file: mac } });

describe('checked before anything starts', () => {
  it('a garbage LND certificate and a missing macaroon: one line each, naming the key and the file', async () => {
    const missing = path.join(dir, 'nope', 'admin.macaroon');
    const problems = await preflight({ settings: settingsFrom(lnd(garbageCert, missing)), ports: 'ephemeral' });
    expect(problems).toEqual([`[lightning] lnd_cert_file = ${garbageCert}: not a PEM certificate (LND's tls.cert)`, `[lightning] lnd_macaroon_file = ${missing}: no such file`]);
  });

  it('names the environment variable a value came from', async () => {
    const s = settingsFrom({}, { MOSTRO_LND_GRPC_HOST: '127.0.0.1:10009', MOSTRO_LND_CERT_FILE: '/nonexistent/tls.cert', MOSTRO_LND_MACAROON_FILE: macaroon });
    expect(await preflight({ settings: s, ports: 'ephemeral' })).toEqual(['[lightning] lnd_cert_file (MOSTRO_LND_CERT_FILE) = /nonexistent/tls.cert: no such file']);
  });

  it('accepts LND\'s certificate and Temporal mTLS files that parse; a key that does not parse is named, never shown', async () => {
    expect(lndTls.cert.toString()).toContain('BEGIN CERTIFICATE');
    expect(await preflight({ settings: settingsFrom(lnd(goodCert)), ports: 'ephemeral' })).toEqual([]);
    const temporal = { address: 'temporal.example:7233', tls_cert_file: goodCert, tls_key_file: goodKey, tls_ca_file: goodCert };
    expect(await preflight({ settings: settingsFrom({ temporal }), ports: 'ephemeral' })).toEqual([]);
    const secretLooking = file('client.key', 'SECRET-KEY-MATERIAL-0123456789\n');
    const problems = await preflight({ settings: settingsFrom({ temporal: { ...temporal, tls_key_file: secretLooking, tls_ca_file: garbageCert } }), ports: 'ephemeral' });
    expect(problems).toEqual([`[temporal] tls_key_file = ${secretLooking}: not a PEM private key`, `[temporal] tls_ca_file = ${garbageCert}: not a PEM certificate`]);
    expect(problems.join('\n')).not.toContain('SECRET-KEY-MATERIAL');
  });

  it('busy ports: the embedded Temporal server, relay and simulated LND by the key left unset, the metrics endpoint by its own', async () => {
    const [temporal, relay, lndGrpc, metrics] = [await holdPort(), await holdPort(), await holdPort(), await holdPort()];
    const embeddedPorts = { temporal, relay, lndGrpc, lnsimControl: await freePort(), lnurl: await freePort() };
    const problems = await preflight({ settings: settingsFrom({ metrics: { listen: `127.0.0.1:${metrics}` } }), ports: 'fixed', embeddedPorts });
    expect(problems).toHaveLength(4);
    expect(problems[0]).toBe(`[temporal] address: unset, so the embedded Temporal server listens on 127.0.0.1:${temporal} — port ${temporal} is in use (stop what holds it, or start with --ephemeral-ports, or set [temporal] address)`);
    expect(problems[1]).toMatch(new RegExp(`^\\[nostr\\] relays: unset, so the embedded relay listens on 127\\.0\\.0\\.1:${relay} — port ${relay} is in use`));
    expect(problems[2]).toMatch(new RegExp(`^\\[lightning\\] lnd_grpc_host: unset, so the simulated Lightning network's LND gRPC API listens on 127\\.0\\.0\\.1:${lndGrpc} — port ${lndGrpc} is in use`));
    expect(problems[3]).toBe(`[metrics] listen = 127.0.0.1:${metrics}: port ${metrics} is in use (choose another port, or listen = "" to switch the endpoint off)`);
    // With --ephemeral-ports every part picks a free port: nothing to check.
    expect(await preflight({ settings: settingsFrom({ metrics: { listen: `127.0.0.1:${metrics}` } }), ports: 'ephemeral', embeddedPorts })).toEqual([]);
  });

  it('two parts on one port, and a metrics address that is not this machine\'s', async () => {
    const embeddedPorts = { temporal: await freePort(), relay: await freePort(), lndGrpc: await freePort(), lnsimControl: await freePort(), lnurl: await freePort() };
    expect(await preflight({ settings: settingsFrom({ metrics: { listen: `127.0.0.1:${embeddedPorts.relay}` } }), ports: 'fixed', embeddedPorts })).toEqual([
      `[metrics] listen = 127.0.0.1:${embeddedPorts.relay}: port ${embeddedPorts.relay} is taken by the embedded relay too`,
    ]);
    const configured = { temporal: { address: 'temporal.example:7233' }, nostr: { relays: ['wss://relay.example'] }, ...lnd(goodCert) };
    expect(await preflight({ settings: settingsFrom({ ...configured, metrics: { listen: '192.0.2.1:9464' } }), ports: 'fixed', embeddedPorts })).toEqual([
      '[metrics] listen = 192.0.2.1:9464: 192.0.2.1 is not an address of this machine (choose another port, or listen = "" to switch the endpoint off)',
    ]);
  });
});

describe('malformed addresses and URLs are refused when the settings load', () => {
  const problemsOf = (doc: Record<string, unknown>, env: Record<string, string> = {}) => {
    try {
      settingsFrom(doc, env);
    } catch (err) {
      if (err instanceof ConfigError) return err.problems;
      throw err;
    }
    return [];
  };
  it('names each key (and the variable), never a password', () => {
    expect(problemsOf({ metrics: { listen: '9464' } })[0]).toMatch(/^\[metrics\] listen: must be host:port, or "" to switch the endpoint off/);
    expect(problemsOf({ metrics: { listen: '' } })).toEqual([]);
    expect(problemsOf({ temporal: { address: 'temporal:99999' } })[0]).toMatch(/^\[temporal\] address: must be host:port/);
    expect(problemsOf({}, { MOSTRO_LND_GRPC_HOST: 'lnd.internal', MOSTRO_LND_CERT_FILE: goodCert, MOSTRO_LND_MACAROON_FILE: macaroon })[0]).toMatch(/^\[lightning\] lnd_grpc_host \(MOSTRO_LND_GRPC_HOST\): must be host:port/);
    expect(problemsOf({ lightning: { lnd_grpc_host: 'https://127.0.0.1:10009', lnd_cert_file: goodCert, lnd_macaroon_file: macaroon } })).toEqual([]);
    const bad = problemsOf({}, { MOSTRO_DATABASE_URL: 'postgresql://mostro:hunter2@[db/x' });
    expect(bad[0]).toMatch(/^\[database\] url \(MOSTRO_DATABASE_URL\): must be a postgresql:\/\/ URL/);
    expect(bad.join('\n')).not.toContain('hunter2');
    expect(problemsOf({ nostr: { relays: ['wss://[relay'] } })[0]).toMatch(/^\[nostr\] relays\.0: must be a ws:\/\/ or wss:\/\/ URL/);
  });
});

describe('failures while starting name the key too', () => {
  it('a database that refuses connections: [database] url and its variable, no password', async () => {
    const port = await freePort();
    const s = settingsFrom({}, { MOSTRO_DATABASE_URL: `postgresql://mostro:hunter2@127.0.0.1:${port}/mostro` });
    const problems = await startProblem(() => step(setting(s, 'database', 'url'), () => openDatabase({ url: s.database.url! })));
    expect(problems).toEqual([`[database] url (MOSTRO_DATABASE_URL): cannot connect (ECONNREFUSED 127.0.0.1:${port})`]);
  });

  it('a metrics port taken after the check: [metrics] listen and the port', async () => {
    const port = await holdPort();
    const s = settingsFrom({ metrics: { listen: `127.0.0.1:${port}` } });
    expect(await startProblem(() => step(setting(s, 'metrics', 'listen', s.metrics.listen), () => startMetricsServer(s.metrics.listen, {})))).toEqual([`[metrics] listen = 127.0.0.1:${port}: port ${port} is in use`]);
  });

  it('LND that cannot be reached, or that presents another certificate: the key to fix', async () => {
    const port = await freePort();
    const s = settingsFrom({ lightning: { lnd_grpc_host: `127.0.0.1:${port}`, lnd_cert_file: goodCert, lnd_macaroon_file: macaroon } });
    const unreachable = connectLnd({ socket: `127.0.0.1:${port}`, cert: lndTls.cert.toString('base64'), macaroon: '0201' });
    expect(await startProblem(() => probeLnd(unreachable, s))).toEqual([`[lightning] lnd_grpc_host = 127.0.0.1:${port}: cannot reach LND (connect ECONNREFUSED 127.0.0.1:${port})`]);

    // A TLS server with a certificate of its own (another node, or LND after it regenerated tls.cert).
    const other = ensureTlsCertificate(path.join(dir, 'other-tls'));
    const server = tls.createServer({ cert: other.cert, key: other.key, ALPNProtocols: ['h2'] }, (c) => c.destroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const otherPort = (server.address() as net.AddressInfo).port;
    try {
      const s2 = settingsFrom({ lightning: { lnd_grpc_host: `127.0.0.1:${otherPort}`, lnd_cert_file: goodCert, lnd_macaroon_file: macaroon } });
      const mismatched = connectLnd({ socket: `127.0.0.1:${otherPort}`, cert: lndTls.cert.toString('base64'), macaroon: '0201' });
      const [line] = await startProblem(() => probeLnd(mismatched, s2));
      expect(line).toContain(`[lightning] lnd_cert_file = ${goodCert}: LND at 127.0.0.1:${otherPort} does not present this certificate (`);
      expect(line).toMatch(/certificate\)$/);
    } finally {
      server.close();
    }
  }, 60_000);
});

describe('the data directory', () => {
  it('is created 0700; an existing one open to others is tightened, with a warning', () => {
    const warnings: string[] = [];
    const log = { debug: () => {}, info: () => {}, warn: (m: string) => void warnings.push(m), error: () => {} };
    const fresh = path.join(dir, 'fresh', 'data');
    prepareDataDir(fresh, log);
    expect(fs.statSync(fresh).mode & 0o777).toBe(0o700);
    expect(warnings).toEqual([]);
    const loose = path.join(dir, 'loose');
    fs.mkdirSync(loose, { mode: 0o755 });
    fs.chmodSync(loose, 0o755);
    prepareDataDir(loose, log);
    expect(fs.statSync(loose).mode & 0o777).toBe(0o700);
    expect(warnings[0]).toMatch(/changed its mode to 0700/);
    const notDir = file('not-a-dir', '');
    expect(() => prepareDataDir(notDir, log)).toThrow(`--data-dir ${notDir}: not a directory`);
  });
});
