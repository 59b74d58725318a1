/**
 * Start-up problems, each naming the setting it comes from: what can be checked before anything starts (files exist
 * and parse, ports are free) is checked all at once by `preflight`, and a part that still fails to start (LND or the
 * database unreachable, a port taken in the meantime) is reported by `step` under the same names.
 *
 * A value is shown when it is an address or a file name, never when it is a secret (key, macaroon, API key, a
 * database URL's credentials): only the key is named then.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import { ConfigError, settingName, type Settings } from '../config/settings.js';
import { DirInUseError } from '@mostro/dir-lock';
import { scrub } from '../log.js';
import { EMBEDDED_PORTS } from './ports.js';

export const CANNOT_START = 'cannot start';

/** `[section] key (ENV) = value` — the setting and, for addresses and file names, its value. */
export function setting(s: Settings, section: string, key: string, value?: string): string {
  return `${settingName(s, section, key)}${value === undefined ? '' : ` = ${value}`}`;
}

/** For an unset key whose embedded part runs instead: `[temporal] address: unset, so the embedded … listens on …`. */
export function embedded(s: Settings, section: string, key: string, what: string): string {
  return `${settingName(s, section, key)}: unset, so ${what}`;
}

/** Runs one start-up step; a failure becomes a ConfigError naming the setting (`label`). */
export async function step<T>(label: string, fn: () => Promise<T>, hint?: string): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const sep = label.includes(': unset, so ') ? ' — ' : ': ';
    throw new ConfigError([`${label}${sep}${reasonOf(err)}${hint ? ` (${hint})` : ''}`], CANNOT_START);
  }
}

/** A failure in a few words: a busy port, a refused connection, else the error's first line (secrets scrubbed). */
export function reasonOf(err: unknown): string {
  if (err instanceof DirInUseError) return err.message;
  if (err instanceof AggregateError && err.errors.length) return reasonOf(err.errors[0]);
  const e = err as (NodeJS.ErrnoException & { address?: string; port?: number; hostname?: string }) | undefined;
  const message = String(e?.message ?? err);
  if (e?.code === 'EADDRINUSE' || /EADDRINUSE/.test(message)) {
    const port = e?.port ?? /:(\d+)\b[^:]*$/.exec(message)?.[1];
    return port !== undefined ? `port ${port} is in use` : 'its port is in use';
  }
  if (e?.code && (e.syscall === 'connect' || e.syscall === 'getaddrinfo')) {
    const where = e.address ?? e.hostname;
    return `cannot connect (${e.code}${where ? ` ${where}${e.port ? `:${e.port}` : ''}` : ''})`;
  }
  return scrub(message.split('\n')[0]!.trim() || String(e?.code ?? 'failed'));
}

export interface PreflightOptions {
  settings: Settings;
  /** `fixed`: the embedded parts on EMBEDDED_PORTS, the metrics endpoint on `[metrics] listen`; `ephemeral`: free ports. */
  ports: 'fixed' | 'ephemeral';
  /** Where the embedded parts listen (EMBEDDED_PORTS unless a test moves them). */
  embeddedPorts?: typeof EMBEDDED_PORTS;
}

/**
 * Everything that can be checked before a part starts: the files the settings name exist and parse, and the ports
 * the daemon will listen on are free (and distinct). Returns one line per problem.
 */
export async function preflight(o: PreflightOptions): Promise<string[]> {
  const s = o.settings;
  const problems: string[] = [];
  const ports = o.embeddedPorts ?? EMBEDDED_PORTS;

  const l = s.lightning;
  if (l.lnd_grpc_host && l.lnd_cert_file && l.lnd_macaroon_file) {
    const cert = readFileSetting(problems, setting(s, 'lightning', 'lnd_cert_file', l.lnd_cert_file), l.lnd_cert_file);
    if (cert && !isPemCertificate(cert)) problems.push(`${setting(s, 'lightning', 'lnd_cert_file', l.lnd_cert_file)}: not a PEM certificate (LND's tls.cert)`);
    readFileSetting(problems, setting(s, 'lightning', 'lnd_macaroon_file', l.lnd_macaroon_file), l.lnd_macaroon_file);
  }
  const t = s.temporal;
  if (t.address && t.tls_cert_file && t.tls_key_file) {
    const cert = readFileSetting(problems, setting(s, 'temporal', 'tls_cert_file', t.tls_cert_file), t.tls_cert_file);
    if (cert && !isPemCertificate(cert)) problems.push(`${setting(s, 'temporal', 'tls_cert_file', t.tls_cert_file)}: not a PEM certificate`);
    const key = readFileSetting(problems, setting(s, 'temporal', 'tls_key_file', t.tls_key_file), t.tls_key_file);
    if (key && !isPrivateKey(key)) problems.push(`${setting(s, 'temporal', 'tls_key_file', t.tls_key_file)}: not a PEM private key`);
  }
  if (t.address && t.tls_ca_file) {
    const ca = readFileSetting(problems, setting(s, 'temporal', 'tls_ca_file', t.tls_ca_file), t.tls_ca_file);
    if (ca && !isPemCertificate(ca)) problems.push(`${setting(s, 'temporal', 'tls_ca_file', t.tls_ca_file)}: not a PEM certificate`);
  }

  // The ports the daemon will listen on; with --ephemeral-ports every one is picked free.
  if (o.ports === 'fixed') {
    const hint = 'stop what holds it, or start with --ephemeral-ports';
    const wanted: { label: string; what: string; host: string; port: number; fix: string }[] = [];
    const local = (section: string, key: string, what: string, port: number, fix: string) =>
      wanted.push({ label: embedded(s, section, key, `${what} listens on 127.0.0.1:${port}`), what, host: '127.0.0.1', port, fix: `${hint}, or ${fix}` });
    if (!t.address) local('temporal', 'address', 'the embedded Temporal server', ports.temporal, 'set [temporal] address');
    if (s.nostr.relays.length === 0) local('nostr', 'relays', 'the embedded relay', ports.relay, 'set [nostr] relays');
    if (!l.lnd_grpc_host) {
      local('lightning', 'lnd_grpc_host', "the simulated Lightning network's LND gRPC API", ports.lndGrpc, 'configure [lightning]');
      local('lightning', 'lnd_grpc_host', "the simulated Lightning network's control API", ports.lnsimControl, 'configure [lightning]');
      local('lightning', 'lnd_grpc_host', "the simulated Lightning network's Lightning Addresses", ports.lnurl, 'configure [lightning]');
    }
    if (s.metrics.listen !== '') {
      const i = s.metrics.listen.lastIndexOf(':');
      const host = s.metrics.listen.slice(0, i).replace(/^\[(.*)\]$/, '$1');
      wanted.push({ label: setting(s, 'metrics', 'listen', s.metrics.listen), what: 'the metrics endpoint', host, port: Number(s.metrics.listen.slice(i + 1)), fix: 'choose another port, or listen = "" to switch the endpoint off' });
    }
    const seen = new Map<number, string>();
    for (const w of wanted) {
      if (w.port === 0) continue;
      const first = seen.get(w.port);
      if (first !== undefined) {
        problems.push(`${w.label}: port ${w.port} is taken by ${first} too`);
        continue;
      }
      seen.set(w.port, w.what);
      const err = await tryListen(w.host, w.port);
      if (!err) continue;
      const sep = w.label.includes(': unset, so ') ? ' — ' : ': ';
      problems.push(`${w.label}${sep}${listenProblem(err, w.host, w.port)} (${w.fix})`);
    }
  }
  return problems;
}

function readFileSetting(problems: string[], label: string, file: string): Buffer | undefined {
  try {
    const b = fs.readFileSync(file);
    if (b.length === 0) {
      problems.push(`${label}: the file is empty`);
      return undefined;
    }
    return b;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    problems.push(`${label}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'not readable (permission denied)' : code === 'EISDIR' ? 'a directory, not a file' : `cannot read it (${code ?? (err as Error).message})`}`);
    return undefined;
  }
}

/** A PEM file whose first CERTIFICATE block parses (LND's tls.cert, a CA bundle, a client certificate). */
export function isPemCertificate(b: Buffer): boolean {
  const m = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(b.toString('latin1'));
  if (!m) return false;
  try {
    new crypto.X509Certificate(m[0]);
    return true;
  } catch {
    return false;
  }
}

function isPrivateKey(b: Buffer): boolean {
  try {
    crypto.createPrivateKey(b);
    return true;
  } catch {
    return false;
  }
}

function tryListen(host: string, port: number): Promise<NodeJS.ErrnoException | null> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', (err) => resolve(err));
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(null)));
  });
}

function listenProblem(err: NodeJS.ErrnoException, host: string, port: number): string {
  switch (err.code) {
    case 'EADDRINUSE':
      return `port ${port} is in use`;
    case 'EACCES':
      return `port ${port} needs privileges (ports below 1024 do)`;
    case 'EADDRNOTAVAIL':
      return `${host} is not an address of this machine`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve ${host}`;
    default:
      return `cannot listen on ${host}:${port} (${err.code ?? err.message})`;
  }
}
