/**
 * Complete trades through the whole daemon, deployed as it runs for real: the daemon (`mostro start`: worker and
 * ingress) in its own process, the Temporal server in its own, and in this process what surrounds a daemon in a
 * deployment — the relay on 127.0.0.1, the simulated Lightning network behind LND's gRPC API (TLS + macaroon), and
 * the clients, which publish real signed v2 messages (one fresh trade key per order side) and read the replies from
 * the relay. Database: PostgreSQL (a throwaway cluster from the Debian binaries), or the daemon's own PGlite.
 *
 * Reports: complete trades per second with `--concurrency` trades in flight, the latency of each step (client event
 * published → the reply to that client received) p50/p99, and each process's RSS with `--open` more pending orders.
 *
 *   npm run bench:trades -- [--trades 200] [--concurrency 40] [--open 10000] [--db postgres|pglite] [--cache 1000] [--server embedded|real]
 *   npm run bench:trades -- --vs-mostrod …   the same trades through mostrod and this daemon (bench/vs-mostrod.ts)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import { nip19 } from 'nostr-tools';
import { ENV_OVERRIDES } from '../src/config/settings.js';
import { startLnsim } from '@mostro/lnsim';
import { useFastCrypto } from '../src/nostr/fast-crypto.js';
import { startLocalRelay } from '../src/nostr/local-relay.js';
import { RelayPool } from '../src/nostr/relay-pool.js';
import { message, unwrapKind, unwrapMessage, wrapMessage, type NostrEvent } from '@mostro/protocol';
import { freshDatabaseUrl, startThrowawayPostgres } from '../support/postgres.js';
import { spawnTs } from '../support/process.js';
import { startRealTemporal } from '../support/real-temporal.js';
import { cpuSecs, machineLine, pct, rssMb } from './stats.js';

// `--vs-mostrod`: the same trades through mostrod and this daemon, side by side (bench/vs-mostrod.ts).
if (process.argv.includes('--vs-mostrod')) {
  await import('./vs-mostrod.js');
  process.exit(0);
}

const { values } = parseArgs({
  options: {
    trades: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '40' },
    open: { type: 'string', default: '10000' },
    db: { type: 'string', default: 'postgres' },
    /** Workflows kept in the worker's cache (the rest are replayed from history when they wake up). */
    cache: { type: 'string', default: '1000' },
    /** `embedded`: this project's server (packages/temporal-devserver); `real`: `temporal server start-dev` (SQLite file). */
    server: { type: 'string', default: 'embedded' },
  },
});
const TRADES = Number(values.trades);
const CONCURRENCY = Number(values.concurrency);
const OPEN = Number(values.open);

useFastCrypto();
console.log(machineLine());

const benchDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-trades-'));
const server =
  values.server === 'real'
    ? await startRealTemporal({ dbFile: path.join(benchDir, 'temporal.db') })
    : spawnTs(
        'packages/temporal-devserver/src/cli.ts',
        ['--port', '0', '--log-level', 'error'],
        process.env.SERVER_NODE_OPTIONS ? { NODE_OPTIONS: process.env.SERVER_NODE_OPTIONS } : {},
        // e.g. SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" (not allowed in NODE_OPTIONS)
        process.env.SERVER_NODE_ARGS?.split(' ').filter(Boolean),
      );
const temporalAddress = 'address' in server ? server.address : await server.line('address');
const relay = await startLocalRelay();
const dir = benchDir;
const lnsim = await startLnsim({ dir: path.join(dir, 'lnsim') });
let stopPg: (() => Promise<void>) | undefined;
let databaseUrl: string | undefined;
if (values.db !== 'pglite') {
  const pg = process.env.DATABASE_URL ? { url: process.env.DATABASE_URL, stop: async () => undefined } : await startThrowawayPostgres();
  stopPg = pg.stop;
  databaseUrl = await freshDatabaseUrl(pg.url);
}
const config = path.join(dir, 'settings.toml');
fs.writeFileSync(
  config,
  `[lightning]
lnd_grpc_host = "${lnsim.credentials.socket}"
lnd_cert_file = "${lnsim.certFile}"
lnd_macaroon_file = "${lnsim.macaroonFile}"
[nostr]
relays = ["${relay.url}"]
[mostro]
fee = 0.006
fiat_currencies_accepted = []
dev_fee_lightning_address = ""
bitcoin_price_api_url = "http://127.0.0.1:9"
${databaseUrl ? `[database]\nurl = "${databaseUrl}"\n` : ''}[temporal]
address = "${temporalAddress}"
# The server shares this machine: gzip over loopback would only cost CPU on both sides.
grpc_compression = "none"
max_cached_workflows = ${Number(values.cache)}
max_concurrent_workflow_tasks = 100
max_concurrent_activities = 200
workflow_thread_pool_size = 2
[metrics]
listen = ""
`,
);
const mostroKey = generateSecretKey();
const mostroPubkey = getPublicKey(mostroKey);
const daemon = spawnTs('src/main.ts', ['start', '--config', config, '--data-dir', path.join(dir, 'data'), '--log-level', 'warn'], {
  ...Object.fromEntries(Object.keys(ENV_OVERRIDES).map((k) => [k, ''])),
  MOSTRO_NSEC_PRIVKEY: nip19.nsecEncode(mostroKey),
}, process.env.DAEMON_NODE_ARGS?.split(' ').filter(Boolean));
await daemon.waitFor(/^Ready\./m, 120_000);
const pool = new RelayPool([relay.url], { backoffMinMs: 20, backoffMaxMs: 100 });
await pool.ready(5000);
console.log(`daemon up (${values.db}); mostro ${mostroPubkey}`);

// ---- a light client: one subscription for every reply from the daemon, routed by recipient -------------------

interface Party {
  sk: Uint8Array;
  pk: string;
  inbox: { action: string; kind: Record<string, unknown> }[];
  wake?: () => void;
}
const parties = new Map<string, Party>();
const party = (): Party => {
  const sk = generateSecretKey();
  const p: Party = { sk, pk: getPublicKey(sk), inbox: [] };
  parties.set(p.pk, p);
  return p;
};
pool.subscribe({
  filters: () => [{ kinds: [14], authors: [mostroPubkey], limit: 0 }],
  onEvent: (ev) => {
    const to = (ev as NostrEvent).tags.find((t) => t[0] === 'p')?.[1];
    const p = to ? parties.get(to) : undefined;
    if (!p) return;
    const r = unwrapMessage(ev as NostrEvent, p.sk, 'nip44');
    if (!r.ok) return;
    const { kind } = unwrapKind(r.value.message);
    p.inbox.push({ action: kind.action, kind: kind as never });
    p.wake?.();
  },
});
await new Promise((r) => setTimeout(r, 100));

async function next(p: Party, action: string, timeoutMs = 60_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const i = p.inbox.findIndex((m) => m.action === action);
    if (i >= 0) return p.inbox.splice(i, 1)[0]!.kind;
    if (Date.now() > deadline) throw new Error(`no ${action} (inbox: ${p.inbox.map((m) => m.action).join(',')})`);
    await new Promise<void>((r) => {
      const t = setTimeout(r, 1000);
      p.wake = () => {
        clearTimeout(t);
        r();
      };
    });
  }
}

async function send(p: Party, f: Parameters<typeof message>[0]): Promise<void> {
  const ev = wrapMessage({ transport: 'nip44', message: message(f), tradeKey: p.sk, receiver: mostroPubkey });
  const r = await pool.publish(ev);
  if (r.accepted.length === 0) throw new Error('relay refused');
}

const steps: Record<string, number[]> = {};
async function timed(step: string, fn: () => Promise<unknown>): Promise<void> {
  const t0 = performance.now();
  await fn();
  (steps[step] ??= []).push(performance.now() - t0);
}

const order = (amount: number) => ({
  order: { kind: 'sell' as const, status: 'pending' as const, amount, fiat_code: 'USD', fiat_amount: Math.max(1, Math.round(amount / 1000)), payment_method: 'bank', premium: 0, created_at: 0, expires_at: null },
});

async function trade(n: number): Promise<void> {
  const seller = party(); // full privacy: the trade key is the identity
  const buyer = party();
  const amount = 10_000 + n;
  let id = '';
  await timed('new-order → new-order', async () => {
    await send(seller, { action: 'new-order', payload: order(amount) });
    id = String((await next(seller, 'new-order')).id);
  });
  const fee = Math.round((0.006 * amount) / 2);
  const inv = lnsim.net.createInvoice({ node: 'buyer', valueSats: amount - fee, expirySecs: 7200 });
  let hold = '';
  await timed('take-sell → waiting-seller-to-pay', async () => {
    await send(buyer, { action: 'take-sell', id, payload: { payment_request: [null, inv.request, null] } });
    await next(buyer, 'waiting-seller-to-pay');
  });
  hold = ((await next(seller, 'pay-invoice')).payload as { payment_request: [unknown, string] }).payment_request[1];
  await timed('seller pays → buyer-took-order', async () => {
    lnsim.net.pay('seller', hold);
    await next(seller, 'buyer-took-order');
  });
  await next(buyer, 'hold-invoice-payment-accepted');
  await timed('fiat-sent → fiat-sent-ok', async () => {
    await send(buyer, { action: 'fiat-sent', id });
    await next(buyer, 'fiat-sent-ok');
  });
  await next(seller, 'fiat-sent-ok');
  const t0 = performance.now();
  await timed('release → hold-invoice-payment-settled', async () => {
    await send(seller, { action: 'release', id });
    await next(seller, 'hold-invoice-payment-settled');
  });
  await next(buyer, 'purchase-completed');
  (steps['release → purchase-completed (payout)'] ??= []).push(performance.now() - t0);
  parties.delete(seller.pk);
  parties.delete(buyer.pk);
}

// Warm-up (bundle caches, JIT, connection pools), not measured.
for (let i = 0; i < 5; i++) await trade(-i - 1);
for (const k of Object.keys(steps)) delete steps[k];

const cpu0 = { daemon: cpuSecs(daemon.child.pid!), server: cpuSecs(server.child.pid!), bench: cpuSecs(process.pid) };
const t0 = performance.now();
let started = 0;
let done = 0;
await Promise.all(
  Array.from({ length: CONCURRENCY }, async () => {
    while (started < TRADES) {
      started++;
      await trade(started);
      done++;
    }
  }),
);
const secs = (performance.now() - t0) / 1000;
console.log(`\n${done} complete trades, ${CONCURRENCY} in flight, in ${secs.toFixed(1)} s: ${(done / secs).toFixed(1)} trades/s`);
const cpu = (pid: number, before: number) => `${(cpuSecs(pid) - before).toFixed(1)} s (${((100 * (cpuSecs(pid) - before)) / secs).toFixed(0)} %)`;
console.log(
  `CPU during the run: daemon ${cpu(daemon.child.pid!, cpu0.daemon)}, Temporal server ${cpu(server.child.pid!, cpu0.server)}, ` +
    `relay + simulated LND + clients ${cpu(process.pid, cpu0.bench)}; per trade ${(((cpuSecs(daemon.child.pid!) - cpu0.daemon) / done) * 1000).toFixed(0)} ms daemon CPU`,
);
console.log('step (client event published → reply received)       p50 ms   p99 ms');
for (const [k, xs] of Object.entries(steps)) console.log(`${k.padEnd(52)} ${pct(xs, 50).toFixed(1).padStart(7)} ${pct(xs, 99).toFixed(1).padStart(8)}`);

// ---- memory with OPEN pending orders -------------------------------------------------------------------------
const mb = (b: number) => `${(b / 1024 / 1024).toFixed(0)} MB`;
global.gc?.();
const rssLine = () =>
  `daemon (worker + ingress) ${rssMb(daemon.child.pid!).toFixed(0)} MB, Temporal server ${rssMb(server.child.pid!).toFixed(0)} MB; ` +
  `relay + simulated LND + clients ${mb(process.memoryUsage().rss)}`;
console.log(`\nRSS after the trades: ${rssLine()}`);
if (OPEN > 0) {
  const t1 = performance.now();
  let acked = 0;
  const BATCH = 200;
  for (let i = 0; i < OPEN; i += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, OPEN - i) }, () => party());
    await Promise.all(
      batch.map(async (p, j) => {
        await send(p, { action: 'new-order', payload: order(20_000 + i + j) });
        await next(p, 'new-order', 300_000);
        acked++;
        parties.delete(p.pk);
      }),
    );
    // The scale figures (issue 19): RSS with every 10,000 more pending orders.
    if ((i + BATCH) % 10_000 === 0 && i + BATCH < OPEN) console.log(`  ${i + BATCH} pending orders: ${rssLine()}`);
  }
  const openSecs = (performance.now() - t1) / 1000;
  await new Promise((r) => setTimeout(r, 2000));
  global.gc?.();
  console.log(`${acked} more orders opened in ${openSecs.toFixed(1)} s (${(acked / openSecs).toFixed(0)}/s)`);
  const daemonRss = rssMb(daemon.child.pid!);
  const serverRss = rssMb(server.child.pid!);
  console.log(`RSS: ${rssLine()}; daemon + server ${(daemonRss + serverRss).toFixed(0)} MB`);
}
daemon.child.kill('SIGTERM');
await daemon.exited;
if ('stop' in server) await server.stop();
else server.child.kill('SIGTERM');
pool.close();
await lnsim.close();
await relay.close();
await stopPg?.();
process.exit(0);
