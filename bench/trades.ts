/**
 * Complete trades through the whole daemon: relay on 127.0.0.1, ingress, embedded Temporal, the order worker, the
 * simulated Lightning network over LND's gRPC API, PostgreSQL (a throwaway cluster from the Debian binaries, or
 * PGlite with --db pglite). Clients publish real signed v2 messages (built with the protocol library, one fresh trade
 * key per order side) and read the daemon's replies from the relay.
 *
 * Reports: complete trades per second with `--concurrency` trades in flight, the latency of each step (client event
 * published → the reply to that client received) p50/p99, and the process RSS with `--open` more pending orders.
 *
 *   npm run bench:trades -- [--trades 200] [--concurrency 40] [--open 10000] [--db postgres|pglite] [--cache 1000]
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import { openDatabase, type Database } from '../src/db/database.js';
import { useFastCrypto } from '../src/nostr/fast-crypto.js';
import { message, unwrapKind, unwrapMessage, wrapMessage, type NostrEvent } from '../src/protocol/index.js';
import { freshDatabaseUrl, startThrowawayPostgres } from '../test/helpers/postgres.js';
import { spawnTs } from '../test/helpers/process.js';
import { pct, rssMb } from './stats.js';

const { values } = parseArgs({
  options: {
    trades: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '40' },
    open: { type: 'string', default: '10000' },
    db: { type: 'string', default: 'postgres' },
    /** Workflows kept in the worker's cache (the rest are replayed from history when they wake up). */
    cache: { type: 'string', default: '1000' },
  },
});
const TRADES = Number(values.trades);
const CONCURRENCY = Number(values.concurrency);
const OPEN = Number(values.open);

useFastCrypto();

// The Temporal server runs as its own process, as in a deployment: its CPU and memory are its own.
const server = spawnTs('src/devserver/cli.ts', ['--port', '0', '--log-level', 'error'], process.env.SERVER_NODE_OPTIONS ? { NODE_OPTIONS: process.env.SERVER_NODE_OPTIONS } : {});
process.env.TEMPORAL_ADDRESS = await server.line('address');
// Imported after TEMPORAL_ADDRESS is set: the test environment then connects to that server.
const { TestDaemon } = await import('../test/helpers/daemon.js');
console.log(`machine: ${os.cpus().length} × ${os.cpus()[0]?.model}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}`);

let stopPg: (() => Promise<void>) | undefined;
let database: Database;
if (values.db === 'pglite') {
  database = await openDatabase({ memory: true });
} else {
  const pg = process.env.DATABASE_URL ? { url: process.env.DATABASE_URL, stop: async () => undefined } : await startThrowawayPostgres();
  stopPg = pg.stop;
  database = await openDatabase({ url: await freshDatabaseUrl(pg.url) });
}
const d = await TestDaemon.start({
  database,
  settings: { expirationHours: 24 },
  workerOptions: {
    maxConcurrentWorkflowTaskExecutions: 100,
    maxConcurrentActivityTaskExecutions: 200,
    workflowThreadPoolSize: 2,
    maxCachedWorkflows: Number(values.cache),
  },
});
console.log(`daemon up (${values.db}); mostro ${d.mostroPubkey}`);

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
d.clientPool.subscribe({
  filters: () => [{ kinds: [14], authors: [d.mostroPubkey], limit: 0 }],
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
  const ev = wrapMessage({ transport: 'nip44', message: message(f), tradeKey: p.sk, receiver: d.mostroPubkey });
  const r = await d.clientPool.publish(ev);
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
  const inv = d.net.createInvoice({ node: 'buyer', valueSats: amount - fee, expirySecs: 7200 });
  let hold = '';
  await timed('take-sell → waiting-seller-to-pay', async () => {
    await send(buyer, { action: 'take-sell', id, payload: { payment_request: [null, inv.request, null] } });
    await next(buyer, 'waiting-seller-to-pay');
  });
  hold = ((await next(seller, 'pay-invoice')).payload as { payment_request: [unknown, string] }).payment_request[1];
  await timed('seller pays → buyer-took-order', async () => {
    d.net.pay('seller', hold);
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
console.log('step (client event published → reply received)       p50 ms   p99 ms');
for (const [k, xs] of Object.entries(steps)) console.log(`${k.padEnd(52)} ${pct(xs, 50).toFixed(1).padStart(7)} ${pct(xs, 99).toFixed(1).padStart(8)}`);

// ---- memory with OPEN pending orders -------------------------------------------------------------------------
const mb = (b: number) => `${(b / 1024 / 1024).toFixed(0)} MB`;
global.gc?.();
console.log(`\nRSS after the trades: daemon+relay+LND+clients ${mb(process.memoryUsage().rss)}, Temporal server ${rssMb(server.child.pid!).toFixed(0)} MB`);
if (OPEN > 0) {
  const t1 = performance.now();
  const makers: Party[] = [];
  let acked = 0;
  const BATCH = 200;
  for (let i = 0; i < OPEN; i += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, OPEN - i) }, () => party());
    makers.push(...batch);
    await Promise.all(
      batch.map(async (p, j) => {
        await send(p, { action: 'new-order', payload: order(20_000 + i + j) });
        await next(p, 'new-order', 300_000);
        acked++;
        parties.delete(p.pk);
      }),
    );
  }
  const openSecs = (performance.now() - t1) / 1000;
  const pending = await d.db.prisma.order.count({ where: { status: 'pending' } });
  await new Promise((r) => setTimeout(r, 2000));
  global.gc?.();
  const rss = process.memoryUsage().rss;
  console.log(`${acked} more orders opened in ${openSecs.toFixed(1)} s (${(acked / openSecs).toFixed(0)}/s); ${pending} pending in the database`);
  const serverRss = rssMb(server.child.pid!);
  console.log(`RSS: Temporal server ${serverRss.toFixed(0)} MB; worker + ingress + relay + simulated LND + clients ${mb(rss)}; total ${(serverRss + rss / 2 ** 20).toFixed(0)} MB`);
}
await d.close();
server.child.kill('SIGTERM');
await stopPg?.();
process.exit(0);
