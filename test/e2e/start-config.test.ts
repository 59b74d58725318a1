/**
 * `mostro start` with settings that cannot work, as an operator meets them: the daemon exits non-zero with one line
 * per problem naming the setting (and the file, port or environment variable), finds what it can before starting
 * anything (the data directory then holds no Temporal store, database or relay file), stops what it had started
 * when a part fails later, and keeps its data directory owner-only.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ENV_OVERRIDES } from '../../src/config/settings.js';
import { EMBEDDED_PORTS } from '../../src/daemon/ports.js';
import { spawnTs, type Spawned } from '../../support/process.js';
import { realServerAddress } from '../helpers/temporal.js';

const cleanEnv = Object.fromEntries(Object.keys(ENV_OVERRIDES).map((k) => [k, '']));
const READY = /^Ready\. Press Ctrl\+C to stop\.$/m;
const running: Spawned[] = [];
const held: net.Server[] = [];
afterAll(() => {
  for (const p of running) p.child.kill('SIGKILL');
  for (const s of held) s.close();
});

function start(dataDir: string, opts: { env?: Record<string, string>; config?: string; fixedPorts?: boolean; logLevel?: string } = {}): Spawned {
  const args = ['start', '--data-dir', dataDir, '--log-level', opts.logLevel ?? 'warn', ...(opts.fixedPorts ? [] : ['--ephemeral-ports']), ...(opts.config ? ['--config', opts.config] : [])];
  const p = spawnTs('src/main.ts', args, { ...cleanEnv, ...opts.env });
  running.push(p);
  return p;
}

/** The lines under `mostro: cannot start:`. */
function problemLines(out: string): string[] {
  const i = out.indexOf('mostro: cannot start:\n');
  expect(i, out).toBeGreaterThanOrEqual(0);
  return out.slice(i).split('\n').slice(1).filter((l) => l.startsWith('  ')).map((l) => l.trim());
}

/** Listens on 127.0.0.1:`port` (0: a free one) for the rest of the file; resolves with the port, or null when it is already taken. */
async function hold(port = 0): Promise<number | null> {
  const srv = net.createServer();
  const ok = await new Promise<boolean>((resolve) => {
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => resolve(true));
  });
  if (!ok) return null;
  held.push(srv);
  return (srv.address() as net.AddressInfo).port;
}

/** Whether something accepts connections on 127.0.0.1:`port`. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

const embeddedState = ['temporal', 'pglite', 'lnsim', 'relay-events.jsonl', 'mostro.nsec'];
const tmp = (prefix: string) => fs.mkdtempSync(path.join(os.tmpdir(), prefix));

describe.skipIf(realServerAddress)('mostro start with settings that cannot work', () => {
  it('a garbage LND certificate and a missing macaroon: named with their variables, found before anything starts', async () => {
    const dir = tmp('mostro-cfg-lnd-');
    const cert = path.join(dir, 'tls.cert');
    fs.writeFileSync(cert, 'garbage\n');
    const macaroon = path.join(dir, 'missing', 'admin.macaroon');
    const dataDir = path.join(dir, 'data');
    const p = start(dataDir, { env: { MOSTRO_LND_GRPC_HOST: '127.0.0.1:10009', MOSTRO_LND_CERT_FILE: cert, MOSTRO_LND_MACAROON_FILE: macaroon } });
    expect(await p.exited, p.output()).toBe(2);
    expect(problemLines(p.output())).toEqual([
      `[lightning] lnd_cert_file (MOSTRO_LND_CERT_FILE) = ${cert}: not a PEM certificate (LND's tls.cert)`,
      `[lightning] lnd_macaroon_file (MOSTRO_LND_MACAROON_FILE) = ${macaroon}: no such file`,
    ]);
    expect(fs.readdirSync(dataDir).filter((f) => embeddedState.includes(f))).toEqual([]);
  }, 120_000);

  it('busy ports for the embedded Temporal server, the relay and the metrics endpoint: each named, nothing started', async () => {
    const dataDir = path.join(tmp('mostro-cfg-ports-'), 'data');
    // The fixed ports may already be taken by another daemon on this machine: busy either way.
    await hold(EMBEDDED_PORTS.temporal);
    await hold(EMBEDDED_PORTS.relay);
    const metrics = (await hold())!;
    const config = path.join(path.dirname(dataDir), 'settings.toml');
    fs.writeFileSync(config, `[metrics]\nlisten = "127.0.0.1:${metrics}"\n`);
    const p = start(dataDir, { config, fixedPorts: true });
    const code = await p.exited;
    // The fixed ports go back at once (someone may be starting a daemon on them).
    for (const s of held.splice(0)) s.close();
    expect(code, p.output()).toBe(2);
    const lines = problemLines(p.output());
    expect(lines).toContain(`[temporal] address: unset, so the embedded Temporal server listens on 127.0.0.1:${EMBEDDED_PORTS.temporal} — port ${EMBEDDED_PORTS.temporal} is in use (stop what holds it, or start with --ephemeral-ports, or set [temporal] address)`);
    expect(lines).toContain(`[nostr] relays: unset, so the embedded relay listens on 127.0.0.1:${EMBEDDED_PORTS.relay} — port ${EMBEDDED_PORTS.relay} is in use (stop what holds it, or start with --ephemeral-ports, or set [nostr] relays)`);
    expect(lines).toContain(`[metrics] listen = 127.0.0.1:${metrics}: port ${metrics} is in use (choose another port, or listen = "" to switch the endpoint off)`);
    expect(fs.readdirSync(dataDir).filter((f) => embeddedState.includes(f))).toEqual([]);
  }, 120_000);

  it('a database that refuses connections: [database] url and its variable, no password; the Temporal server it had started is stopped', async () => {
    const refused = await hold();
    held.pop()!.close(); // a port nothing listens on
    const dataDir = path.join(tmp('mostro-cfg-db-'), 'data');
    const p = start(dataDir, { env: { MOSTRO_DATABASE_URL: `postgresql://mostro:hunter2@127.0.0.1:${refused}/mostro` }, logLevel: 'info' });
    expect(await p.exited, p.output()).toBe(2);
    const out = p.output();
    expect(problemLines(out)).toEqual([`[database] url (MOSTRO_DATABASE_URL): cannot connect (ECONNREFUSED 127.0.0.1:${refused})`]);
    expect(out).not.toContain('hunter2');
    // The embedded Temporal server had started (the database comes after it) and is gone with the process.
    const record = out.split('\n').find((l) => l.includes('"msg":"embedded Temporal server listening"'));
    expect(record, out).toBeDefined();
    const temporalPort = Number((JSON.parse(record!) as { address: string }).address.split(':')[1]);
    expect(await listening(temporalPort)).toBe(false);
  }, 150_000);

  it('the data directory and everything under it are owner-only (0700 / 0600); an existing one open to others is tightened', async () => {
    const dataDir = path.join(tmp('mostro-cfg-perm-'), 'data');
    fs.mkdirSync(dataDir);
    fs.chmodSync(dataDir, 0o755);
    const p = start(dataDir);
    await p.waitFor(READY, 150_000);
    expect(p.output()).toContain('the data directory was open to other users: changed its mode to 0700');
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    const open: string[] = [];
    const walk = (f: string) => {
      const st = fs.lstatSync(f);
      const want = st.isDirectory() ? 0o700 : 0o600;
      if ((st.mode & 0o777) !== want) open.push(`${(st.mode & 0o777).toString(8)} ${path.relative(dataDir, f) || '.'}`);
      if (st.isDirectory()) for (const e of fs.readdirSync(f)) walk(path.join(f, e));
    };
    walk(dataDir);
    expect(fs.readdirSync(dataDir)).toEqual(expect.arrayContaining(['temporal', 'pglite', 'lnsim', 'relay-events.jsonl', 'mostro.nsec']));
    expect(open).toEqual([]);
  }, 240_000);
});
