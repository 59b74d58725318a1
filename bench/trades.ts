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
 *   npm run bench:trades -- [--trades 200] [--concurrency 40] [--open 10000] [--db postgres|pglite] [--cache 1000] [--server embedded|real] [--hold 0]
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
import { freshDatabaseUrl, startThrowawayPostgres } from '../support/postgres.js';
import { spawnTs } from '../support/process.js';
import { startRealTemporal } from '../support/real-temporal.js';
import { cpuByThread, cpuSecs, machineLine, pct, rssMb, threadBreakdown } from './stats.js';
import { TradeClient } from './trade-client.js';

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
    /** Keep everything running this long after the last figure (to inspect the processes: heap snapshots, /proc). */
    hold: { type: 'string', default: '0' },
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

const client = new TradeClient({ pool, mostroPubkey, net: lnsim.net, fee: 0.006 });
await new Promise((r) => setTimeout(r, 100));
const { steps } = client;
const trade = (n: number) => client.trade(10_000 + n, Math.max(1, Math.round((10_000 + n) / 1000)));

// Warm-up (bundle caches, JIT, connection pools), not measured.
for (let i = 0; i < 5; i++) await trade(-i - 1);
for (const k of Object.keys(steps)) delete steps[k]; // the same object: client.steps

const cpu0 = { daemon: cpuSecs(daemon.child.pid!), server: cpuSecs(server.child.pid!), bench: cpuSecs(process.pid) };
const threads0 = { daemon: cpuByThread(daemon.child.pid!), server: cpuByThread(server.child.pid!) };
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
console.log(`  daemon by thread, ms per trade: ${threadBreakdown(threads0.daemon, cpuByThread(daemon.child.pid!), done)}`);
console.log(`  server by thread, ms per trade: ${threadBreakdown(threads0.server, cpuByThread(server.child.pid!), done)}`);
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
    const batch = Array.from({ length: Math.min(BATCH, OPEN - i) }, () => client.party());
    await Promise.all(
      batch.map(async (p, j) => {
        await client.send(p, { action: 'new-order', payload: TradeClient.sellOrder(20_000 + i + j, 20) });
        await client.next(p, 'new-order', 300_000);
        acked++;
        client.parties.delete(p.pk);
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
  console.log(`RSS right after: ${rssLine()}; daemon + server ${(daemonRss + serverRss).toFixed(0)} MB`);
  // What the orders hold, apart from the garbage of opening them at full speed: V8 gives idle heap back once the
  // process has been quiet for a while (its memory reducer), within a minute.
  await new Promise((r) => setTimeout(r, 60_000));
  console.log(`RSS after 60 s idle: ${rssLine()}; daemon + server ${(rssMb(daemon.child.pid!) + rssMb(server.child.pid!)).toFixed(0)} MB`);
}
if (Number(values.hold) > 0) {
  console.log(`holding ${values.hold} s: daemon pid ${daemon.child.pid}, server pid ${server.child.pid}`);
  await new Promise((r) => setTimeout(r, Number(values.hold) * 1000));
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
