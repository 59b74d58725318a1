/**
 * Two Mostro daemons on one world, for the conformance suite (test/conformance) and the side-by-side benchmark
 * (bench/vs-mostrod.ts): one relay on 127.0.0.1, one simulated Lightning network with a node per daemon behind LND's
 * gRPC API (TLS and macaroon files, as mostrod's `[lightning]` wants them), a yadio-style price API — and the daemons
 * on it with the same `settings.toml`: the reference mostrod (crates.io `mostro`, built by
 * `scripts/tools.sh install mostrod`) and this daemon (`npm start --config`).
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import { nip19 } from 'nostr-tools';
import type { Transport } from '@mostro/protocol';
import { startSimLnd, type SimLndServer, SimNetwork } from '@mostro/lnsim';
import { startLocalRelay, type LocalRelay } from '../src/nostr/local-relay.js';
import { tool } from '../src/tools.js';
import { storedEvents } from './relay-query.js';
import { spawnTs, type Spawned } from './process.js';

export type DaemonName = 'mostrod' | 'this daemon';

export interface World {
  dir: string;
  relay: LocalRelay;
  net: SimNetwork;
  priceUrl: string;
  /** BTC price per fiat code the price API serves. */
  rates: Record<string, number>;
  close(): Promise<void>;
}

export async function startWorld(): Promise<World> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mostro-conformance-'));
  const relay = await startLocalRelay();
  const net = new SimNetwork('regtest');
  for (const n of ['seller', 'buyer']) net.addNode(n);
  const rates: Record<string, number> = { USD: 100_000, EUR: 90_000, VES: 3_600_000 };
  const prices = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ BTC: rates, base: 'BTC', timestamp: Date.now() }));
  });
  await new Promise<void>((r) => prices.listen(0, '127.0.0.1', r));
  return {
    dir,
    relay,
    net,
    rates,
    priceUrl: `http://127.0.0.1:${(prices.address() as AddressInfo).port}`,
    close: async () => {
      await new Promise((r) => prices.close(r));
      await relay.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface DaemonUnderTest {
  name: DaemonName;
  transport: Transport;
  pubkey: string;
  /** The daemon's key: the admin's identity (mostrod's admin is the daemon's own key). */
  secretKey: Uint8Array;
  /** The simulated node the daemon's LND is. */
  node: string;
  /** The daemon's process (this daemon leads a process group of its own: its pid is the group's id). */
  pid: number;
  output(): string;
  stop(): Promise<void>;
}

/** The settings both daemons read: mostrod's format (this daemon reads it too, warning about mostrod-only keys). */
function settingsToml(o: { nsec: string; relay: string; cert: string; macaroon: string; grpc: string; priceUrl: string; db: string; transport: Transport }): string {
  return `[lightning]
lnd_cert_file = '${o.cert}'
lnd_macaroon_file = '${o.macaroon}'
lnd_grpc_host = 'https://${o.grpc}'
invoice_expiration_window = 3600
hold_invoice_cltv_delta = 144
hold_invoice_expiration_window = 300
payment_attempts = 3
payment_retries_interval = 60

[nostr]
nsec_privkey = '${o.nsec}'
relays = ['${o.relay}']

[mostro]
fee = 0
max_routing_fee = 0.002
max_order_amount = 1000000
min_payment_amount = 100
expiration_hours = 24
max_expiration_days = 15
expiration_seconds = 900
user_rates_sent_interval_seconds = 3600
publish_relays_interval = 60
pow = 0
transport = "${o.transport}"
publish_mostro_info_interval = 300
bitcoin_price_api_url = "${o.priceUrl}"
fiat_currencies_accepted = ['USD', 'EUR', 'VES']
max_orders_per_response = 10
dev_fee_percentage = 0.30

[database]
url = "sqlite://${o.db}"

[expiration]
order_days = 30
rating_days = 90
dispute_days = 90
fee_audit_days = 365
dm_days = 30

[rpc]
enabled = false
listen_address = "127.0.0.1"
port = 50051
`;
}

/** A node of its own on the world's network behind LND's gRPC API, and the settings file naming it. */
async function prepare(world: World, name: string, transport: Transport): Promise<{ dir: string; settings: string; nsec: string; pubkey: string; secretKey: Uint8Array; lnd: SimLndServer }> {
  const dir = path.join(world.dir, name);
  fs.mkdirSync(dir, { recursive: true });
  world.net.addNode(name);
  const lnd = await startSimLnd(world.net, { node: name, tlsDir: dir });
  fs.writeFileSync(path.join(dir, 'admin.macaroon'), Buffer.from(lnd.credentials.macaroon, 'hex'));
  const key = generateSecretKey();
  const nsec = nip19.nsecEncode(key);
  const settings = settingsToml({
    nsec,
    relay: world.relay.url,
    cert: path.join(dir, 'tls.cert'),
    macaroon: path.join(dir, 'admin.macaroon'),
    grpc: `127.0.0.1:${lnd.port}`,
    priceUrl: world.priceUrl,
    db: path.join(dir, 'mostro.db'),
    transport,
  });
  fs.writeFileSync(path.join(dir, 'settings.toml'), settings);
  return { dir, settings: path.join(dir, 'settings.toml'), nsec, pubkey: getPublicKey(key), secretKey: key, lnd };
}

/** Until `f` is true. */
async function until(what: string, f: () => boolean | Promise<boolean>, timeoutMs: number, output: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await f())) {
    if (Date.now() > deadline) throw new Error(`${what} not within ${timeoutMs} ms; output:\n${output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Until the daemon's kind-38385 info event is on the relay (both publish it once they serve). */
async function infoEventPublished(world: World, pubkey: string): Promise<boolean> {
  return (await storedEvents(world.relay.url, { kinds: [38385], authors: [pubkey] })).length > 0;
}

export async function startMostrod(world: World, transport: Transport = 'nip44'): Promise<DaemonUnderTest> {
  const p = await prepare(world, `mostrod-${transport}`, transport);
  const bin = tool('mostrod').binary;
  // mostrod clears the screen on start (a terminal is assumed); TERM names one.
  const child: ChildProcess = spawn(bin, ['-d', p.dir], { cwd: p.dir, env: { PATH: process.env.PATH, HOME: p.dir, TERM: 'xterm' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  const output = () => out;
  await until('mostrod serving (its info event on the relay)', async () => {
    if (child.exitCode !== null) throw new Error(`mostrod exited ${child.exitCode}:\n${out}`);
    return infoEventPublished(world, p.pubkey);
  }, 120_000, output);
  return {
    name: 'mostrod',
    transport,
    pubkey: p.pubkey,
    secretKey: p.secretKey,
    node: `mostrod-${transport}`,
    pid: child.pid!,
    output,
    stop: async () => {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
      await p.lnd.close();
    },
  };
}

/** `extraSettings`: more settings.toml sections for this daemon only (e.g. `[temporal]` naming a real server). */
export async function startThisDaemon(world: World, transport: Transport = 'nip44', extraSettings = ''): Promise<DaemonUnderTest> {
  const p = await prepare(world, `this-daemon-${transport}`, transport);
  if (extraSettings) fs.appendFileSync(p.settings, `\n${extraSettings}\n`);
  const daemon: Spawned = spawnTs('src/main.ts', ['start', '--config', p.settings, '--data-dir', path.join(p.dir, 'data'), '--ephemeral-ports', '--log-level', 'warn'], {}, [], { detached: true });
  await daemon.waitFor(/^Ready\. Press Ctrl\+C to stop\.$/m, 180_000);
  const pubkey = await daemon.line('pubkey');
  if (pubkey !== p.pubkey) throw new Error(`this daemon runs as ${pubkey}, not the key of its settings (${p.pubkey})`);
  await until('this daemon serving (its info event on the relay)', () => infoEventPublished(world, p.pubkey), 60_000, daemon.output);
  return {
    name: 'this daemon',
    transport,
    pubkey,
    secretKey: p.secretKey,
    node: `this-daemon-${transport}`,
    pid: daemon.child.pid!,
    output: daemon.output,
    stop: async () => {
      try {
        process.kill(-daemon.child.pid!, 'SIGTERM');
      } catch {
        // already gone
      }
      const killer = setTimeout(() => {
        try {
          process.kill(-daemon.child.pid!, 'SIGKILL');
        } catch {
          // gone
        }
      }, 15_000);
      await daemon.exited;
      clearTimeout(killer);
      await p.lnd.close();
    },
  };
}

