/** The daemon's LND: the configured node (`[lightning]` credentials) or the simulated network of the embedded default. */
import fs from 'node:fs';
import * as ln from 'lightning';
import { ConfigError, type Settings } from '../config/settings.js';
import type { LndCredentials } from '../lnsim/lnd-grpc.js';

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
