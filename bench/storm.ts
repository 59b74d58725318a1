/**
 * An honest trader during a storm of hostile events (issue 14, item 5). The daemon runs as `npm start` runs it — one
 * process with the embedded relay, Temporal server, simulated Lightning network and PGlite (or `--db postgres`: a
 * throwaway PostgreSQL cluster) — and this process plays:
 *
 *  - the storm: `--rate` events/s for `--secs` seconds from `--keys` hostile identities, published to the daemon's
 *    relay without waiting for answers: undecryptable junk, wrong kinds, stale messages, replays of earlier events,
 *    and well-formed but bogus `new-order`s (no fiat amount, below the minimum, a premium on a fixed amount, a reused
 *    trade index), each from a fresh trade key of one of the hostile identities, as mostro-cli would send them;
 *  - an honest trader (reputation mode, a fresh trade key per order) that, once a second, sends a `new-order` and,
 *    once it is acknowledged, cancels it: the latency of each (published → reply received) is the figure of merit.
 *
 * The storm's events are signed before the daemon starts, so that the storm costs this process only the sending.
 * Reports honest-reply p50/p99 before and during the storm, the daemon's RSS and CPU, and its drop counters.
 *
 *   npm run bench:storm -- [--rate 200] [--secs 60] [--keys 150] [--db pglite|postgres]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { finalizeEvent, generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import { nip19 } from 'nostr-tools';
import { MostroTrader } from '../src/client/trader.js';
import { ENV_OVERRIDES } from '../src/config/settings.js';
import { useFastCrypto } from '../src/nostr/fast-crypto.js';
import { RelayPool } from '../src/nostr/relay-pool.js';
import { message, wrapMessage, type NostrEvent, type Payload } from '@mostro/protocol';
import { freshDatabaseUrl, startThrowawayPostgres } from '../support/postgres.js';
import { spawnTs } from '../support/process.js';
import { cpuSecs, machineLine, pct, rssMb } from './stats.js';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '200' },
    secs: { type: 'string', default: '60' },
    keys: { type: 'string', default: '150' },
    db: { type: 'string', default: 'pglite' },
  },
});
const RATE = Number(values.rate);
const SECS = Number(values.secs);
const KEYS = Number(values.keys);
const TOTAL = RATE * SECS;

useFastCrypto();
const nowSecs = () => Math.floor(Date.now() / 1000);
console.log(machineLine(`, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`));

// ---- the daemon: `npm start`, everything embedded ----------------------------------------------------------------

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-storm-'));
let stopPg: (() => Promise<void>) | undefined;
let databaseUrl: string | undefined;
if (values.db === 'postgres') {
  const pg = process.env.DATABASE_URL ? { url: process.env.DATABASE_URL, stop: async () => undefined } : await startThrowawayPostgres();
  stopPg = pg.stop;
  databaseUrl = await freshDatabaseUrl(pg.url);
}
const config = path.join(dir, 'settings.toml');
fs.writeFileSync(
  config,
  `[mostro]
fiat_currencies_accepted = []
dev_fee_lightning_address = ""
bitcoin_price_api_url = "http://127.0.0.1:9"
${databaseUrl ? `[database]\nurl = "${databaseUrl}"\n` : ''}`,
);
const mostroKey = generateSecretKey();
const mostroPubkey = getPublicKey(mostroKey);

// ---- the storm, signed in advance -----------------------------------------------------------------------------

const identities = Array.from({ length: KEYS }, () => ({ key: generateSecretKey(), index: 0 }));
const pick = <T>(xs: T[]): T => xs[Math.floor(Math.random() * xs.length)]!;
const order = (o: Partial<{ amount: number; fiat_amount: number; premium: number }>): Payload =>
  ({
    order: { kind: 'sell', status: 'pending', amount: o.amount ?? 20_000, fiat_code: 'USD', min_amount: null, max_amount: null, fiat_amount: o.fiat_amount ?? 10, payment_method: 'bank', premium: o.premium ?? 0, created_at: 0, expires_at: null },
  }) as Payload;

/**
 * A well-formed `new-order` the daemon refuses (each answered with a cant-do, as the reference does): no fiat amount,
 * a sats amount below the minimum, a premium on a fixed amount, or a trade index already used.
 */
function bogusOrder(n: number, createdAt: number): NostrEvent {
  const who = pick(identities);
  const kind = n % 4;
  const payload = kind === 0 ? order({ fiat_amount: 0 }) : kind === 1 ? order({ amount: 10 }) : kind === 2 ? order({ premium: 5 }) : order({});
  // An identity's first message registers its trade index (first contact); index 1 is then always a reuse.
  const index = kind === 3 && who.index > 0 ? 1 : ++who.index;
  const msg = message({ action: 'new-order', request_id: n, trade_index: index, payload });
  return wrapMessage({ transport: 'nip44', message: msg, tradeKey: generateSecretKey(), identityKey: who.key, receiver: mostroPubkey, now: createdAt });
}

/** An event to send; a replay sends again the event of an earlier entry; a bogus order is signed just before the storm. */
type Planned = { kind: string; event?: NostrEvent; of?: number };
const plan: Planned[] = [];
const t0gen = performance.now();
const junkKeys = Array.from({ length: KEYS }, () => generateSecretKey());
for (let i = 0; i < TOTAL; i++) {
  const r = i % 20;
  const sk = pick(junkKeys);
  if (r < 5) {
    plan.push({ kind: 'junk', event: finalizeEvent({ kind: 14, created_at: nowSecs(), tags: [['p', mostroPubkey]], content: Buffer.from(generateSecretKey()).toString('base64').repeat(3) }, sk) as NostrEvent });
  } else if (r < 7) {
    plan.push({ kind: 'wrong-kind', event: finalizeEvent({ kind: pick([1, 4, 1059]), created_at: nowSecs(), tags: [['p', mostroPubkey]], content: 'hello' }, sk) as NostrEvent });
  } else if (r < 10) {
    plan.push({ kind: 'stale', event: bogusOrder(i, nowSecs() - 600) });
  } else if (r < 13) {
    plan.push({ kind: 'replay', of: Math.floor(Math.random() * plan.length) });
  } else {
    plan.push({ kind: 'bogus-order' }); // signed later, stamped with the second it will be sent in
  }
}
console.log(`storm planned: ${TOTAL} events (${(performance.now() - t0gen).toFixed(0)} ms so far)`);

const daemon = spawnTs('src/main.ts', ['start', '--config', config, '--data-dir', path.join(dir, 'data'), '--ephemeral-ports', '--log-level', 'warn'], {
  ...Object.fromEntries(Object.keys(ENV_OVERRIDES).map((k) => [k, ''])),
  MOSTRO_NSEC_PRIVKEY: nip19.nsecEncode(mostroKey),
}, process.env.DAEMON_NODE_ARGS?.split(' ').filter(Boolean));
// The daemon must not outlive a benchmark that fails.
process.on('exit', () => daemon.child.kill('SIGKILL'));
await daemon.waitFor(/^Ready\./m, 180_000);
const relayUrl = await daemon.line('relay');
const metricsUrl = await daemon.line('metrics');
console.log(`daemon up (${values.db}); relay ${relayUrl}`);

// Sign the bogus orders with the second they will be sent in (stamped ahead by the time signing takes).
const bogus = plan.filter((p) => p.kind === 'bogus-order').length;
const t0sign = performance.now();
const sample = bogusOrder(0, nowSecs());
void sample;
const perSign = performance.now() - t0sign;
const startAt = nowSecs() + Math.ceil((bogus * perSign * 1.5) / 1000) + 5;
plan.forEach((p, i) => {
  if (p.kind === 'bogus-order') p.event = bogusOrder(i, startAt + Math.floor(i / RATE));
});
const eventAt = (i: number): NostrEvent => plan[i]!.event ?? eventAt(plan[i]!.of!);
console.log(`${bogus} bogus orders signed; the storm starts in ${startAt - nowSecs()} s`);

// ---- the honest trader ------------------------------------------------------------------------------------------

const pool = new RelayPool([relayUrl], { backoffMinMs: 50, backoffMaxMs: 200 });
await pool.ready(5000);
const honest = new MostroTrader('honest', pool, mostroPubkey);
const latencies: { phase: 'before' | 'storm' | 'after'; action: string; ms: number; at: number }[] = [];
let phase: 'before' | 'storm' | 'after' = 'before';
let index = 0;
let honestRunning = true;
const lost: string[] = [];
async function honestRound(): Promise<void> {
  const i = ++index;
  const p = phase;
  let t = performance.now();
  try {
    await honest.send(i, { action: 'new-order', payload: order({}) });
    const created = await honest.next(i, 'new-order', 60_000);
    latencies.push({ phase: p, action: 'new-order', ms: performance.now() - t, at: t });
    t = performance.now();
    await honest.send(i, { action: 'cancel', id: created.id! });
    await honest.next(i, 'canceled', 60_000);
    latencies.push({ phase: p, action: 'cancel', ms: performance.now() - t, at: t });
  } catch (err) {
    lost.push(`${p}: ${String(err)}`);
  }
}
const honestLoop = (async () => {
  while (honestRunning) {
    const started = performance.now();
    await honestRound();
    await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (performance.now() - started))));
  }
})();

// ---- the storm --------------------------------------------------------------------------------------------------

const sockets = await Promise.all(
  Array.from({ length: 4 }, () => new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(relayUrl);
    ws.on('open', () => resolve(ws));
    ws.on('error', reject);
  })),
);
const oks = { accepted: 0, refused: 0, duplicate: 0 };
for (const ws of sockets) {
  ws.on('message', (d) => {
    const m = JSON.parse(d.toString()) as [string, string, boolean, string];
    if (m[0] !== 'OK') return;
    if (!m[2]) oks.refused++;
    else if (m[3]?.startsWith('duplicate')) oks.duplicate++;
    else oks.accepted++;
  });
}
const rss: { t: number; mb: number; heapMb?: number }[] = [];
/** The daemon's V8 heap in use (its Prometheus endpoint), to tell live memory from what the allocator keeps. */
async function heapMb(): Promise<number | undefined> {
  try {
    const text = await (await fetch(metricsUrl)).text();
    const m = /^mostro_process_nodejs_heap_size_used_bytes (\S+)$/m.exec(text);
    return m ? Number(m[1]) / 2 ** 20 : undefined;
  } catch {
    return undefined;
  }
}
let rssTick = 0;
const rssTimer = setInterval(() => {
  const sample: { t: number; mb: number; heapMb?: number } = { t: nowSecs(), mb: rssMb(daemon.child.pid!) };
  rss.push(sample);
  if (rssTick++ % 10 === 0) void heapMb().then((h) => (sample.heapMb = h));
}, 1000);
while (nowSecs() < startAt) await new Promise((r) => setTimeout(r, 50));
phase = 'storm';
const cpu0 = cpuSecs(daemon.child.pid!);
const stormStart = performance.now();
let sent = 0;
await new Promise<void>((resolve) => {
  const tick = setInterval(() => {
    const due = Math.min(TOTAL, Math.floor(((performance.now() - stormStart) / 1000) * RATE));
    for (; sent < due; sent++) sockets[sent % sockets.length]!.send(JSON.stringify(['EVENT', eventAt(sent)]));
    if (sent >= TOTAL) {
      clearInterval(tick);
      resolve();
    }
  }, 10);
});
const stormSecs = (performance.now() - stormStart) / 1000;
const stormCpu = cpuSecs(daemon.child.pid!) - cpu0;
phase = 'after';
await new Promise((r) => setTimeout(r, 10_000));
honestRunning = false;
await honestLoop;
clearInterval(rssTimer);

// ---- report -----------------------------------------------------------------------------------------------------

const byKind: Record<string, number> = {};
for (const p of plan) byKind[p.kind] = (byKind[p.kind] ?? 0) + 1;
console.log(`\nstorm: ${TOTAL} events in ${stormSecs.toFixed(1)} s (${(TOTAL / stormSecs).toFixed(0)}/s) from ${KEYS} identities + ${KEYS} junk keys: ${JSON.stringify(byKind)}`);
console.log(`relay answers: ${JSON.stringify(oks)}`);
console.log(`daemon CPU during the storm: ${stormCpu.toFixed(1)} s (${((100 * stormCpu) / stormSecs).toFixed(0)} % of one core)`);
const rssBefore = rss.filter((r) => r.t < startAt).at(-1)?.mb ?? NaN;
const rssMax = Math.max(...rss.map((r) => r.mb));
console.log(`daemon RSS: ${rssBefore.toFixed(0)} MB before, max ${rssMax.toFixed(0)} MB, ${rss.at(-1)!.mb.toFixed(0)} MB after`);
const stormStartSec = startAt;
const rssSteps = [];
for (let s = 0; s <= SECS + 10; s += 10) {
  const r = rss.find((x) => x.t >= stormStartSec + s);
  const h = rss.find((x) => x.t >= stormStartSec + s && x.heapMb !== undefined);
  if (r) rssSteps.push(`${s} s ${r.mb.toFixed(0)}${h ? ` (heap ${h.heapMb!.toFixed(0)})` : ''}`);
}
console.log(`daemon RSS (V8 heap in use), MB, by storm time: ${rssSteps.join(', ')}`);
console.log('honest trader (published → reply)   n    p50 ms   p99 ms   max ms');
for (const ph of ['before', 'storm', 'after'] as const) {
  for (const action of ['new-order', 'cancel', 'both']) {
    const xs = latencies.filter((l) => l.phase === ph && (action === 'both' || l.action === action)).map((l) => l.ms);
    if (xs.length === 0) continue;
    console.log(`${`${ph} ${action}`.padEnd(32)} ${String(xs.length).padStart(5)} ${pct(xs, 50).toFixed(0).padStart(8)} ${pct(xs, 99).toFixed(0).padStart(8)} ${Math.max(...xs).toFixed(0).padStart(8)}`);
  }
}
const windows: string[] = [];
for (let w = 0; w * 10 < stormSecs + 10; w++) {
  const xs = latencies.filter((l) => l.at >= stormStart + w * 10_000 && l.at < stormStart + (w + 1) * 10_000).map((l) => l.ms);
  if (xs.length) windows.push(`${w * 10}–${w * 10 + 10} s: max ${Math.max(...xs).toFixed(0)} ms`);
}
console.log(`honest replies by storm time: ${windows.join('; ')}`);
if (lost.length) console.log(`honest messages never answered (60 s): ${lost.length}\n  ${lost.slice(0, 5).join('\n  ')}`);
const metrics = await (await fetch(metricsUrl)).text();
const dropped = [...metrics.matchAll(/^mostro_ingress_dropped\{reason="([^"]+)"\} (\d+)$/gm)].filter((m) => m[2] !== '0').map((m) => `${m[1]} ${m[2]}`);
console.log(`ingress drops: ${dropped.join(', ')}`);
const inbound = [...metrics.matchAll(/^mostro_messages_in_total\{action="([^"]+)"\} (\d+)$/gm)].map((m) => `${m[1]} ${m[2]}`);
console.log(`messages in: ${inbound.join(', ')}`);

for (const ws of sockets) ws.close();
honest.close();
pool.close();
daemon.child.kill('SIGTERM');
await daemon.exited;
await stopPg?.();
fs.rmSync(dir, { recursive: true, force: true });
process.exit(0);
