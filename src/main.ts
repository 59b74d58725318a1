/**
 * `mostro` command line. For now: `start` runs the embedded Temporal server (unless TEMPORAL_ADDRESS points at a
 * cluster) and the daemon's worker, checks the whole path with a self-check workflow, and runs until SIGINT/SIGTERM.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { startDevServer, type DevServer } from './devserver/index.js';
import { DEFAULT_TASK_QUEUE, createWorker } from './workers/worker.js';

const USAGE = `Usage: npm start -- [--data-dir DIR]

Runs the daemon. Without TEMPORAL_ADDRESS it starts an embedded Temporal server keeping its state in
DIR/temporal (default .data/temporal); with TEMPORAL_ADDRESS=host:port it uses that Temporal cluster instead.
Environment: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE (default "default"), TEMPORAL_TASK_QUEUE (default "mostro").
`;

async function start(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { 'data-dir': { type: 'string', default: '.data' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  Runtime.install({ logger: new DefaultLogger('WARN') });
  // Everything started below is registered here, so a signal at any moment shuts down what exists.
  const closers: (() => Promise<unknown>)[] = [];
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: draining the worker and shutting down`);
    for (const close of closers.reverse()) await close().catch(() => undefined);
    process.exit(0);
  };
  // Handlers first: a signal that arrives before a listener exists kills the process outright.
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
  const dataDir = path.resolve(values['data-dir']);
  const namespace = process.env.TEMPORAL_NAMESPACE ?? 'default';
  const taskQueue = process.env.TEMPORAL_TASK_QUEUE ?? DEFAULT_TASK_QUEUE;
  let server: DevServer | undefined;
  let address = process.env.TEMPORAL_ADDRESS;
  if (address) {
    console.log(`Using the Temporal cluster at ${address} (namespace ${namespace})`);
  } else {
    server = await startDevServer({ port: 0, dataDir: path.join(dataDir, 'temporal'), log: 'warn' });
    closers.push(server.close);
    address = server.address;
    console.log(`Embedded Temporal server started on ${address} (data in ${path.join(dataDir, 'temporal')})`);
  }
  console.log(`temporal: ${address}`);

  const { worker, connection: nativeConnection } = await createWorker({
    address,
    namespace,
    taskQueue,
    compress: server === undefined,
  });
  closers.push(() => nativeConnection.close());
  const running = worker.run();
  closers.push(async () => {
    worker.shutdown();
    await running;
  });
  console.log(`Worker started on task queue "${taskQueue}"`);

  const connection = await Connection.connect({ address });
  closers.push(() => connection.close());
  const client = new Client({ connection, namespace });
  const t0 = Date.now();
  const check = await client.workflow.execute('selfCheckWorkflow', {
    taskQueue,
    workflowId: `self-check-${process.pid}-${Date.now()}`,
  });
  console.log(`Self-check passed in ${Date.now() - t0} ms: workflow ${check.workflowId} ran on ${check.worker}`);
  console.log('Ready. Press Ctrl+C to stop.');
  await running;
}

const [command = 'start', ...rest] = process.argv.slice(2);
const commands: Record<string, (argv: string[]) => Promise<void>> = { start };
const run = commands[command];
if (!run) {
  console.error(`Unknown command "${command}".\n\n${USAGE}`);
  process.exit(2);
}
run(rest).catch((err: unknown) => {
  console.error(`mostro: ${(err as Error).message}`);
  process.exit(1);
});
