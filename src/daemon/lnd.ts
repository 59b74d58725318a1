/** The daemon's LND: the configured node (`[lightning]` credentials) or the simulated network of the embedded default. */
import fs from 'node:fs';
import * as ln from 'lightning';
import { ConfigError, settingName, type Settings } from '../config/settings.js';
import type { LndCredentials } from '@mostro/lnsim';

/** `lightning`'s credentials from mostrod's settings: the socket without scheme, the cert as base64, the macaroon hex. */
export function lndCredentialsOf(s: Settings['lightning']): LndCredentials | null {
  if (!s.lnd_grpc_host || !s.lnd_cert_file || !s.lnd_macaroon_file) return null;
  const read = (key: string, file: string) => {
    try {
      return fs.readFileSync(file);
    } catch (err) {
      throw new ConfigError([`[lightning] ${key}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`]);
    }
  };
  return {
    socket: s.lnd_grpc_host.replace(/^https?:\/\//, '').replace(/\/$/, ''),
    cert: read('lnd_cert_file', s.lnd_cert_file).toString('base64'),
    macaroon: read('lnd_macaroon_file', s.lnd_macaroon_file).toString('hex'),
  };
}

export function connectLnd(c: LndCredentials): ln.AuthenticatedLnd {
  return ln.authenticatedLndGrpc(c).lnd;
}

/**
 * Asks LND for its info once at start, so a node that cannot be reached, a certificate that does not match it or a
 * macaroon it refuses stops the start with the setting to fix (the activities' errors keep only LND's error code).
 */
export async function probeLnd(lnd: ln.AuthenticatedLnd, s: Settings): Promise<void> {
  try {
    await ln.getWalletInfo({ lnd });
  } catch (err) {
    const l = s.lightning;
    const [code, name, extra] = Array.isArray(err) ? (err as [number, string, { err?: { details?: string } }?]) : [0, String((err as Error)?.message ?? err)];
    // grpc-js says "No connection established. Last error: Error: <cause>. Resolution note: …".
    const details = String(extra?.err?.details ?? '');
    const cause = /Last error: (?:Error: )?(.*?)\.?(?: Resolution note:.*)?$/.exec(details)?.[1] ?? details;
    const key = (k: string, v?: string) => `${settingName(s, 'lightning', k)}${v ? ` = ${v}` : ''}`;
    let line: string;
    if (/certificate|SSL|TLS|altname/i.test(cause)) line = `${key('lnd_cert_file', l.lnd_cert_file)}: LND at ${l.lnd_grpc_host} does not present this certificate (${cause})`;
    else if (/macaroon|verification failed|permission denied/i.test(details)) line = `${key('lnd_macaroon_file', l.lnd_macaroon_file)}: LND at ${l.lnd_grpc_host} refused the macaroon (${details})`;
    else if (details) line = `${key('lnd_grpc_host', l.lnd_grpc_host)}: cannot reach LND (${cause})`;
    else line = `${key('lnd_grpc_host', l.lnd_grpc_host)}: LND did not answer GetInfo (${code ? `${code} ${name}` : name})`;
    throw new ConfigError([line], 'cannot start');
  }
}
