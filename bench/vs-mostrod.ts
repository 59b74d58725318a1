/**
 * Side by side with the reference: the same clients, relay and simulated Lightning network drive complete trades
 * through mostrod (crates.io `mostro`, built by `scripts/tools.sh install mostrod`) and through this daemon, one
 * daemon at a time on an otherwise idle machine, both reading the same settings.toml (support/daemons.ts, the
 * conformance suite's world; mostrod with its SQLite, this daemon with PGlite) — this daemon twice: on its embedded
 * Temporal server, and on the real one (`temporal server start-dev` with a SQLite file, of scripts/tools.sh).
 *
 * Per daemon: trades/s and each step's reply latency (client event published → the reply received) p50/p99, one
 * trade at a time and `--concurrency` in flight; CPU per complete trade (all the daemon's processes and threads,
 * and the real Temporal server's where there is one, measured over the concurrent run) and RSS at the end. Results and the machine are reported in docs/benchmarks.md.
 *
 *   npm run bench:trades -- --vs-mostrod [--sequential 20] [--trades 100] [--concurrency 20] [--only mostrod|this|this-real]
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import { message, unwrapKind, unwrapMessage, wrapMessage, type NostrEvent } from '@mostro/protocol';
import { useFastCrypto } from '../src/nostr/fast-crypto.js';
import { RelayPool } from '../src/nostr/relay-pool.js';
import { tool } from '../src/tools.js';
import { startMostrod, startThisDaemon, startWorld, type DaemonUnderTest, type World } from '../support/daemons.js';
import { startRealTemporal } from '../support/real-temporal.js';
import { machineLine, pct } from './stats.js';

const { values } = parseArgs({
  options: {
    sequential: { type: 'string', default: '20' },
    trades: { type: 'string', default: '100' },
    concurrency: { type: 'string', default: '20' },
    only: { type: 'string' },
    'vs-mostrod': { type: 'boolean' },
  },
});
const SEQUENTIAL = Number(values.sequential);
const TRADES = Number(values.trades);
const CONCURRENCY = Number(values.concurrency);

useFastCrypto();
console.log(machineLine());

/** The processes of a daemon: its process group when it leads one (this daemon), else the process itself. */
function processesOf(pid: number): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const fields = fs.readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1]!.split(' ');
      if (Number(d) === pid || Number(fields[2]) === pid) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}
const cpuOf = (pid: number) =>
  processesOf(pid).reduce((s, p) => {
    const f = fs.readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return s + (Number(f[11]) + Number(f[12])) / 100;
  }, 0);
const rssOf = (pid: number) => processesOf(pid).reduce((s, p) => s + Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'))![1]) / 1024, 0);

interface Party {
  sk: Uint8Array;
  pk: string;
  inbox: { action: string; kind: Record<string, unknown> }[];
  wake?: () => void;
}

interface Result {
  daemon: string;
  seq: { secs: number; steps: Record<string, number[]> };
  conc: { secs: number; steps: Record<string, number[]>; cpuMsPerTrade: number };
  rssMb: number;
}

async function measure(world: World, d: DaemonUnderTest, label: string, serverPid?: number): Promise<Result> {
  const pool = new RelayPool([world.relay.url], { backoffMinMs: 20, backoffMaxMs: 100 });
  await pool.ready(5000);
  const parties = new Map<string, Party>();
  const party = (): Party => {
    const sk = generateSecretKey();
    const p: Party = { sk, pk: getPublicKey(sk), inbox: [] };
    parties.set(p.pk, p);
    return p;
  };
  pool.subscribe({
    filters: () => [{ kinds: [14], authors: [d.pubkey], limit: 0 }],
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
  await new Promise((r) => setTimeout(r, 200));
  const next = async (p: Party, action: string, timeoutMs = 120_000): Promise<Record<string, unknown>> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = p.inbox.findIndex((m) => m.action === action);
      if (i >= 0) return p.inbox.splice(i, 1)[0]!.kind;
      if (Date.now() > deadline) throw new Error(`${d.name}: no ${action} (inbox: ${p.inbox.map((m) => m.action).join(',')})\n${d.output().slice(-3000)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 1000);
        p.wake = () => {
          clearTimeout(t);
          r();
        };
      });
    }
  };
  const send = async (p: Party, f: Parameters<typeof message>[0]) => {
    const r = await pool.publish(wrapMessage({ transport: 'nip44', message: message(f), tradeKey: p.sk, receiver: d.pubkey }));
    if (r.accepted.length === 0) throw new Error('relay refused');
  };
  let steps: Record<string, number[]> = {};
  const timed = async (step: string, fn: () => Promise<unknown>) => {
    const t0 = performance.now();
    await fn();
    (steps[step] ??= []).push(performance.now() - t0);
  };

  // The conformance settings: fee 0, so the buyer's invoice is for the order's amount.
  const trade = async (n: number) => {
    const seller = party(); // full privacy: the trade key is the identity
    const buyer = party();
    const amount = 10_000 + n;
    let id = '';
    await timed('new-order → new-order', async () => {
      await send(seller, { action: 'new-order', payload: { order: { kind: 'sell', status: 'pending', amount, fiat_code: 'USD', fiat_amount: 10, payment_method: 'bank transfer', premium: 0, created_at: 0 } } });
      id = String((await next(seller, 'new-order')).id);
    });
    const inv = world.net.createInvoice({ node: 'buyer', valueSats: amount, expirySecs: 7200 });
    await timed('take-sell → waiting-seller-to-pay', async () => {
      await send(buyer, { action: 'take-sell', id, payload: { payment_request: [null, inv.request, null] } });
      await next(buyer, 'waiting-seller-to-pay');
    });
    const hold = ((await next(seller, 'pay-invoice')).payload as { payment_request: [unknown, string] }).payment_request[1];
    await timed('seller pays → buyer-took-order', async () => {
      world.net.pay('seller', hold);
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
  };

  for (let i = 0; i < 3; i++) await trade(-i - 1); // warm-up, not measured
  steps = {};
  let t0 = performance.now();
  for (let i = 0; i < SEQUENTIAL; i++) await trade(i);
  const seq = { secs: (performance.now() - t0) / 1000, steps };

  steps = {};
  const cpuNow = () => cpuOf(d.pid) + (serverPid ? cpuOf(serverPid) : 0);
  const cpu0 = cpuNow();
  t0 = performance.now();
  let started = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (started < TRADES) await trade(1000 + started++);
    }),
  );
  const conc = { secs: (performance.now() - t0) / 1000, steps, cpuMsPerTrade: ((cpuNow() - cpu0) / TRADES) * 1000 };
  const rssMb = rssOf(d.pid) + (serverPid ? rssOf(serverPid) : 0);
  pool.close();
  return { daemon: label, seq, conc, rssMb };
}

const results: Result[] = [];
const targets = [
  { which: 'mostrod', label: 'mostrod 0.18.8' },
  { which: 'this', label: 'this daemon (embedded Temporal)' },
  ...(tool('temporal').installed ? [{ which: 'this-real', label: 'this daemon (real Temporal server, SQLite)' }] : []),
];
for (const { which, label } of targets) {
  if (values.only && values.only !== which) continue;
  const world = await startWorld();
  const server = which === 'this-real' ? await startRealTemporal({ dbFile: `${world.dir}/temporal.db` }) : undefined;
  const d =
    which === 'mostrod' ? await startMostrod(world) : await startThisDaemon(world, 'nip44', server ? `[temporal]\naddress = "${server.address}"` : '');
  try {
    console.log(`${label} up; measuring…`);
    results.push(await measure(world, d, label, server?.child.pid));
  } finally {
    await d.stop();
    await server?.stop();
    await world.close();
  }
}

const cols = results.map((r) => r.daemon);
const row = (label: string, f: (r: Result) => string) => console.log(`| ${label} | ${results.map(f).join(' | ')} |`);
console.log(`\n| | ${cols.join(' | ')} |`);
console.log(`|---|${cols.map(() => '---').join('|')}|`);
row(`trades/s, one at a time (${SEQUENTIAL})`, (r) => (SEQUENTIAL / r.seq.secs).toFixed(2));
row(`trades/s, ${CONCURRENCY} in flight (${TRADES})`, (r) => (TRADES / r.conc.secs).toFixed(2));
row('CPU per complete trade, in flight (with the real server: both)', (r) => `${r.conc.cpuMsPerTrade.toFixed(0)} ms`);
row('RSS at the end (with the real server: both)', (r) => `${r.rssMb.toFixed(0)} MB`);
for (const step of Object.keys(results[0]?.seq.steps ?? {})) {
  row(`${step}, one at a time, p50 / p99 ms`, (r) => `${pct(r.seq.steps[step]!, 50).toFixed(0)} / ${pct(r.seq.steps[step]!, 99).toFixed(0)}`);
  row(`${step}, ${CONCURRENCY} in flight, p50 / p99 ms`, (r) => `${pct(r.conc.steps[step]!, 50).toFixed(0)} / ${pct(r.conc.steps[step]!, 99).toFixed(0)}`);
}
process.exit(0);
