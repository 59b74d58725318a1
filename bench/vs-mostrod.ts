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
import { useFastCrypto } from '../src/nostr/fast-crypto.js';
import { RelayPool } from '../src/nostr/relay-pool.js';
import { tool } from '../src/tools.js';
import { startMostrod, startThisDaemon, startWorld, type DaemonUnderTest, type World } from '../support/daemons.js';
import { startRealTemporal } from '../support/real-temporal.js';
import { machineLine, pct } from './stats.js';
import { TradeClient } from './trade-client.js';

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

interface Result {
  daemon: string;
  seq: { secs: number; steps: Record<string, number[]> };
  conc: { secs: number; steps: Record<string, number[]>; cpuMsPerTrade: number };
  rssMb: number;
}

async function measure(world: World, d: DaemonUnderTest, label: string, serverPid?: number): Promise<Result> {
  const pool = new RelayPool([world.relay.url], { backoffMinMs: 20, backoffMaxMs: 100 });
  await pool.ready(5000);
  // The conformance settings: fee 0, so the buyer's invoice is for the order's amount.
  const client = new TradeClient({ pool, mostroPubkey: d.pubkey, net: world.net, fee: 0, describe: () => `${d.name}:\n${d.output().slice(-3000)}` });
  await new Promise((r) => setTimeout(r, 200));
  const trade = (n: number) => client.trade(10_000 + n, 10);

  for (let i = 0; i < 3; i++) await trade(-i - 1); // warm-up, not measured
  client.resetSteps();
  let t0 = performance.now();
  for (let i = 0; i < SEQUENTIAL; i++) await trade(i);
  const seq = { secs: (performance.now() - t0) / 1000, steps: client.steps };

  client.resetSteps();
  const cpuNow = () => cpuOf(d.pid) + (serverPid ? cpuOf(serverPid) : 0);
  const cpu0 = cpuNow();
  t0 = performance.now();
  let started = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (started < TRADES) await trade(1000 + started++);
    }),
  );
  const conc = { secs: (performance.now() - t0) / 1000, steps: client.steps, cpuMsPerTrade: ((cpuNow() - cpu0) / TRADES) * 1000 };
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
