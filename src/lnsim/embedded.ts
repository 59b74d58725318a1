/**
 * The simulated Lightning network as one unit: the daemon's node behind LND's gRPC API (TLS + macaroon written to
 * `dir` like LND's), the wallets around it with Lightning Addresses, and the control API. Used by
 * `npm run lnsim -- serve` and by the daemon's embedded default. Node keys persist in `dir` so the daemon's node
 * keeps its identity across restarts; invoices and payments live in memory only.
 */
import fs from 'node:fs';
import path from 'node:path';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { startControlServer } from './control.js';
import { startSimLnd, type LndCredentials } from './lnd-grpc.js';
import { startLnurlServer } from './lnurl-server.js';
import { SimNetwork, type NetworkName } from './network.js';

export interface LnsimOptions {
  dir: string;
  network?: NetworkName;
  /** 0 (the default) picks free ports. */
  grpcPort?: number;
  controlPort?: number;
  lnurlPort?: number;
  /** Interface to listen on (default 127.0.0.1; 0.0.0.0 inside a container). */
  host?: string;
  /** Extra DNS names for the TLS certificate (how other containers reach it). */
  tlsHosts?: string[];
  /** Wallets besides `buyer`, `seller` and `dev`. */
  wallets?: string[];
}

export interface Lnsim {
  net: SimNetwork;
  credentials: LndCredentials;
  certFile: string;
  macaroonFile: string;
  controlUrl: string;
  addressOf(wallet: string): string;
  close(): Promise<void>;
}

export async function startLnsim(o: LnsimOptions): Promise<Lnsim> {
  const dir = path.resolve(o.dir);
  fs.mkdirSync(dir, { recursive: true });
  const net = new SimNetwork(o.network ?? 'regtest');
  const keysFile = path.join(dir, 'nodes.json');
  const keys: Record<string, string> = fs.existsSync(keysFile) ? (JSON.parse(fs.readFileSync(keysFile, 'utf8')) as Record<string, string>) : {};
  for (const alias of ['mostro', 'buyer', 'seller', 'dev', ...(o.wallets ?? [])]) {
    if (net.nodes.has(alias)) continue;
    const sk = keys[alias] ? hexToBytes(keys[alias]) : secp256k1.utils.randomSecretKey();
    keys[alias] = bytesToHex(sk);
    net.addNode(alias, sk);
  }
  fs.writeFileSync(keysFile, JSON.stringify(keys, null, 2), { mode: 0o600 });
  const macaroonFile = path.join(dir, 'admin.macaroon');
  if (!fs.existsSync(macaroonFile)) fs.writeFileSync(macaroonFile, crypto.getRandomValues(new Uint8Array(32)), { mode: 0o600 });
  const macaroon = fs.readFileSync(macaroonFile).toString('hex');
  const lnd = await startSimLnd(net, { node: 'mostro', tlsDir: dir, port: o.grpcPort ?? 0, macaroon, host: o.host, tlsHosts: o.tlsHosts });
  const control = await startControlServer(net, { port: o.controlPort ?? 0, host: o.host });
  const lnurl = await startLnurlServer(net, { port: o.lnurlPort ?? 0, host: o.host });
  fs.writeFileSync(path.join(dir, 'control.url'), control.url);
  return {
    net,
    credentials: lnd.credentials,
    certFile: path.join(dir, 'tls.cert'),
    macaroonFile,
    controlUrl: control.url,
    addressOf: (w) => lnurl.addressOf(w),
    close: async () => {
      await Promise.allSettled([lnd.close(), control.close(), lnurl.close()]);
    },
  };
}
