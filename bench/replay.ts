/**
 * The order workflow's own CPU per trade, apart from everything around it: a recorded complete sell trade
 * (test/fixtures/order-history-local-activities.json, every activation a live trade goes through) replayed again and
 * again in one worker, timed. The number that changes when the workflow's code or the SDK's sandbox does — stable
 * to a few percent, unlike a whole-daemon benchmark on a shared machine.
 *
 *   npm run bench:replay -- [--replays 300] [--history test/fixtures/order-history-local-activities.json] [--stack-traces]
 *
 * `--stack-traces`: with the SDK's per-promise stack recording on (`[temporal] workflow_stack_traces = true`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { DefaultLogger, Runtime, Worker, bundleWorkflowCode } from '@temporalio/worker';
import { setWorkflowStackTraces } from '../src/workers/worker.js';
import { machineLine } from './stats.js';

const { values } = parseArgs({
  options: {
    replays: { type: 'string', default: '300' },
    history: { type: 'string', default: 'test/fixtures/order-history-local-activities.json' },
    'stack-traces': { type: 'boolean', default: false },
  },
});
// Read when the replay worker's sandbox starts, as the daemon's worker threads do (src/workers/worker.ts).
setWorkflowStackTraces(values['stack-traces']);
const REPLAYS = Number(values.replays);

Runtime.install({ logger: new DefaultLogger('WARN') });
console.log(`${machineLine()}; workflow stack traces ${values['stack-traces'] ? 'on' : 'off'}`);
const history = historyFromJSON(JSON.parse(fs.readFileSync(path.resolve(values.history), 'utf8')));
const tasks = (history.events ?? []).filter((e) => e.workflowTaskCompletedEventAttributes).length;
const workflowBundle = await bundleWorkflowCode({ workflowsPath: path.resolve('src/workflows/index.ts'), logger: new DefaultLogger('WARN') });

async function* histories(n: number) {
  for (let i = 0; i < n; i++) yield { workflowId: `order-replay-${i}`, history };
}

async function run(n: number): Promise<{ wallMs: number; cpuMs: number }> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for await (const r of Worker.runReplayHistories({ workflowBundle }, histories(n))) {
    if (r.error) throw r.error;
  }
  const cpu = process.cpuUsage(cpu0);
  return { wallMs: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000 };
}

await run(Math.min(50, REPLAYS)); // warm-up: JIT, the bundle's first evaluation
const { counts, sites } = process.env.COUNT_PROMISES ? await import('./promise-count.js') : { counts: undefined, sites: undefined };
const r = await run(REPLAYS);
if (counts) console.log(`promises per trade: ${(counts.sandbox / REPLAYS).toFixed(0)} in workflows, ${(counts.outer / REPLAYS).toFixed(0)} outside`);
if (sites) for (const [k, v] of [...sites].sort((a, b) => b[1] - a[1]).slice(0, 40)) console.log((v / REPLAYS).toFixed(1).padStart(6), k);
console.log(
  `${REPLAYS} replays of a complete trade (${tasks} workflow tasks): ${(r.wallMs / REPLAYS).toFixed(2)} ms wall, ` +
    `${(r.cpuMs / REPLAYS).toFixed(2)} ms CPU per trade (all threads of this process), ${((r.cpuMs / REPLAYS / tasks) * 1000).toFixed(0)} µs per workflow task`,
);
