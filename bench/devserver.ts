/**
 * Benchmark of the embedded Temporal server with the real SDK (see docs/benchmarks.md for results):
 *   1. workflows/s for start → one activity → complete, one worker;
 *   2. signal → workflow → activity latency as the client sees it, p50/p99;
 *   3. server RSS with N open workflows each waiting on a signal.
 * The server runs as its own process (`temporal:dev`), so its memory is measured alone.
 *
 *   npm run bench -- [--workflows 2000] [--signals 500] [--idle 10000] [--data-dir DIR] [--no-fsync] [--gzip]
 *                    [--workflow-threads 2]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker, bundleWorkflowCode } from '@temporalio/worker';
import * as activities from './activities.js';
import { spawnTs } from '../support/process.js';
import { pct, rssMb } from './stats.js';

const { values } = parseArgs({
  options: {
    workflows: { type: 'string', default: '2000' },
    signals: { type: 'string', default: '500' },
    idle: { type: 'string', default: '10000' },
    'data-dir': { type: 'string' },
    'no-fsync': { type: 'boolean', default: false },
    'workflow-threads': { type: 'string', default: '2' },
    gzip: { type: 'boolean', default: false },
  },
});

Runtime.install({ logger: new DefaultLogger('ERROR') });

/** CPU seconds (user + system) a process has used so far. */
function cpuSecs(pid: number): number {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

async function main(): Promise<void> {
  const args = ['--port', '0', '--log-level', 'error'];
  if (values['data-dir']) {
    fs.rmSync(values['data-dir'], { recursive: true, force: true });
    args.push('--data-dir', values['data-dir']);
  }
  if (values['no-fsync']) args.push('--no-fsync');
  const server = spawnTs('packages/temporal-devserver/src/cli.ts', args);
  const address = await server.line('address');
  const pid = server.child.pid!;
  console.log(`machine: ${os.cpus().length} × ${os.cpus()[0]?.model}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}`);
  console.log(`server: ${address} pid ${pid}, ${values['data-dir'] ? `data dir ${values['data-dir']}${values['no-fsync'] ? ' (no fsync)' : ' (fdatasync per commit)'}` : 'in memory'}`);
  console.log(`server RSS at start: ${rssMb(pid).toFixed(0)} MB`);

  const connection = await Connection.connect({ address });
  const client = new Client({ connection });
  // On loopback, gzip only costs CPU on both sides; the daemon's worker turns it off for a local server (--gzip: SDK default).
  const nc = await NativeConnection.connect({ address, grpcCompression: { codec: values.gzip ? 'gzip' : 'none' } });
  console.log(`worker gRPC compression: ${values.gzip ? 'gzip (SDK default)' : 'none'}`);
  const workflowBundle = await bundleWorkflowCode({
    workflowsPath: fileURLToPath(new URL('./workflows.ts', import.meta.url)),
    logger: new DefaultLogger('ERROR'),
  });
  const taskQueue = 'bench';
  const worker = await Worker.create({
    connection: nc,
    taskQueue,
    workflowBundle,
    activities,
    maxConcurrentWorkflowTaskExecutions: 100,
    maxConcurrentActivityTaskExecutions: 200,
    maxCachedWorkflows: 20_000,
    workflowThreadPoolSize: Number(values['workflow-threads']),
  });
  const running = worker.run();
  try {
    // 1. Throughput
    const n = Number(values.workflows);
    const cpu0 = cpuSecs(pid);
    const self0 = process.cpuUsage();
    const t0 = performance.now();
    const handles = [];
    for (let i = 0; i < n; i += 100) {
      handles.push(
        ...(await Promise.all(
          Array.from({ length: Math.min(100, n - i) }, (_, j) =>
            client.workflow.start('oneActivity', { taskQueue, workflowId: `tp-${i + j}` }),
          ),
        )),
      );
    }
    await Promise.all(handles.map((h) => h.result()));
    const secs = (performance.now() - t0) / 1000;
    const self = process.cpuUsage(self0);
    console.log(`throughput: ${n} workflows (start → activity → complete) in ${secs.toFixed(2)} s = ${(n / secs).toFixed(0)} workflows/s`);
    console.log(
      `  CPU during it: server ${(cpuSecs(pid) - cpu0).toFixed(2)} s, worker+client process ${((self.user + self.system) / 1e6).toFixed(2)} s`,
    );

    // 2. Signal → activity latency
    const m = Number(values.signals);
    const h = await client.workflow.start('pingPong', { taskQueue, workflowId: 'latency', args: [m] });
    const lat: number[] = [];
    for (let seq = 0; seq < m; seq++) {
      const seen = new Promise<void>((resolve) => activities.marks.set(seq, resolve));
      const s = performance.now();
      await h.signal('ping', seq);
      await seen;
      lat.push(performance.now() - s);
      activities.marks.delete(seq);
    }
    await h.result();
    console.log(`signal → activity latency over ${m} signals: p50 ${pct(lat, 50).toFixed(2)} ms, p99 ${pct(lat, 99).toFixed(2)} ms`);
    const first = lat.slice(0, Math.min(50, lat.length));
    const last = lat.slice(-Math.min(50, lat.length));
    console.log(`  first 50 signals p50 ${pct(first, 50).toFixed(2)} ms, last 50 p50 ${pct(last, 50).toFixed(2)} ms`);

    // 3. Memory with idle open workflows
    const k = Number(values.idle);
    const before = rssMb(pid);
    const t1 = performance.now();
    for (let i = 0; i < k; i += 200) {
      await Promise.all(
        Array.from({ length: Math.min(200, k - i) }, (_, j) => client.workflow.start('idle', { taskQueue, workflowId: `idle-${i + j}` })),
      );
    }
    // Wait until every idle workflow has run its first task (it is then parked on its condition).
    for (;;) {
      const c = await connection.workflowService.describeWorkflowExecution({ namespace: 'default', execution: { workflowId: `idle-${k - 1}` } });
      if (Number(c.workflowExecutionInfo?.historyLength ?? 0) >= 4) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    await new Promise((r) => setTimeout(r, 1000));
    const after = rssMb(pid);
    console.log(
      `idle: ${k} open workflows waiting on a signal (started in ${((performance.now() - t1) / 1000).toFixed(1)} s): server RSS ${after.toFixed(0)} MB (was ${before.toFixed(0)} MB before them)`,
    );
  } finally {
    worker.shutdown();
    await running;
    await nc.close();
    await connection.close();
    server.child.kill('SIGTERM');
    await server.exited;
    if (values['data-dir']) {
      const size = fs.readdirSync(values['data-dir']).reduce((a, f) => a + fs.statSync(path.join(values['data-dir']!, f)).size, 0);
      console.log(`data dir size after shutdown (snapshot): ${(size / 2 ** 20).toFixed(1)} MB`);
    }
  }
}

await main();
