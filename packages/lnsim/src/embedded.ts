/**
 * The simulated Lightning network as one unit: the daemon's node behind LND's gRPC API (TLS + macaroon written to
 * `dir` like LND's), the wallets around it with Lightning Addresses, and the control API. Used by
 * `npm run lnsim -- serve` and by the daemon's embedded default. Everything persists in `dir` (0700): node keys, so
 * the daemon's node keeps its identity, and the network's whole state in a journal (journal.ts), so a restart in the
 * middle of a trade finds every invoice, payment and the block height where they were.
 */
import fs from 'node:fs';
import path from 'node:path';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import type { Logger } from './logger.js';
import { startControlServer } from './control.js';
import { FileJournal, writeFileDurably } from './journal.js';
import { startSimLnd, type LndCredentials } from './lnd-grpc.js';
import { startLnurlServer } from './lnurl-server.js';
import type { NetworkName } from './model.js';
import { SimNetwork } from './network.js';

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
  /** Wallets besides `buyer`, `seller` and `dev` (and those created by earlier runs in `dir`). */
  wallets?: string[];
  /** Where warnings go (a torn journal record after a crash); default: stderr. */
  log?: Logger;
}

const toStderr = (msg: string, extra?: Record<string, unknown>) => console.error(`lnsim: ${msg}${extra ? ` ${JSON.stringify(extra)}` : ''}`);
const stderrLogger: Logger = { debug: () => undefined, info: () => undefined, warn: toStderr, error: toStderr };

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
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700); // made by an earlier version, or by hand
  const net = new SimNetwork(o.network ?? 'regtest');
  // First: it locks the directory, so no other simulator writes keys or state here meanwhile.
  const journal = await FileJournal.open(net, dir, o.log ?? stderrLogger);
  const started: { close(): Promise<void> }[] = [];
  try {
    const keysFile = path.join(dir, 'nodes.json');
    const keys: Record<string, string> = fs.existsSync(keysFile) ? (JSON.parse(fs.readFileSync(keysFile, 'utf8')) as Record<string, string>) : {};
    // Every wallet an earlier run had too: its invoices and payments are in the journal.
    for (const alias of ['mostro', 'buyer', 'seller', 'dev', ...(o.wallets ?? []), ...Object.keys(keys)]) {
      if (net.nodes.has(alias)) continue;
      const sk = keys[alias] ? hexToBytes(keys[alias]) : secp256k1.utils.randomSecretKey();
      keys[alias] = bytesToHex(sk);
      net.addNode(alias, sk);
    }
    writeFileDurably(keysFile, JSON.stringify(keys, null, 2));
    const macaroonFile = path.join(dir, 'admin.macaroon');
    if (!fs.existsSync(macaroonFile)) writeFileDurably(macaroonFile, crypto.getRandomValues(new Uint8Array(32)));
    const macaroon = fs.readFileSync(macaroonFile).toString('hex');
    const lnd = await startSimLnd(net, { node: 'mostro', tlsDir: dir, port: o.grpcPort ?? 0, macaroon, host: o.host, tlsHosts: o.tlsHosts });
    started.push(lnd);
    const control = await startControlServer(net, { port: o.controlPort ?? 0, host: o.host });
    started.push(control);
    const lnurl = await startLnurlServer(net, { port: o.lnurlPort ?? 0, host: o.host });
    started.push(lnurl);
    writeFileDurably(path.join(dir, 'control.url'), control.url);
    return {
      net,
      credentials: lnd.credentials,
      certFile: path.join(dir, 'tls.cert'),
      macaroonFile,
      controlUrl: control.url,
      addressOf: (w) => lnurl.addressOf(w),
      close: async () => {
        await Promise.allSettled([lnd.close(), control.close(), lnurl.close()]);
        await journal.close();
      },
    };
  } catch (err) {
    await Promise.allSettled(started.map((s) => s.close()));
    await journal.close();
    throw err;
  }
}
