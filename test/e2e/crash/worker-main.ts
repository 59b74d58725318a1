/**
 * An order worker in its own process, for crash tests: configured by ORDER_WORKER_CONFIG (JSON), running the
 * pre-built workflow bundle at WORKFLOW_BUNDLE. With CRASH_AFTER=<activity>, the process kills itself with SIGKILL
 * right after that activity's side effect happened and before Temporal learns its result — once: CRASH_MARKER records
 * that the crash happened, so the restarted worker runs normally.
 */
import fs from 'node:fs';
import { NativeConnection, Worker } from '@temporalio/worker';
import { openDatabase } from '../../../src/db/database.js';
import { PriceManager } from '../../../src/price/manager.js';
import { yadioProvider } from '../../../src/price/yadio.js';
import { orderWorkerActivities, type OrderWorkerConfig } from '../../helpers/order-worker.js';

const cfg = JSON.parse(process.env.ORDER_WORKER_CONFIG!) as OrderWorkerConfig;
const crashAfter = process.env.CRASH_AFTER;
const marker = process.env.CRASH_MARKER;

const db = await openDatabase({ url: cfg.databaseUrl! });
const prices = new PriceManager([yadioProvider(cfg.priceUrl)]);
await prices.refresh();
const activities: Record<string, (...args: unknown[]) => Promise<unknown>> = orderWorkerActivities(cfg, db.prisma, { prices }) as never;
if (crashAfter && marker) {
  const real = activities[crashAfter]!;
  activities[crashAfter] = async (...args) => {
    const result = await real(...args);
    if (!fs.existsSync(marker)) {
      fs.writeFileSync(marker, crashAfter);
      console.log(`crash: after ${crashAfter}`);
      process.kill(process.pid, 'SIGKILL');
      await new Promise(() => undefined);
    }
    return result;
  };
}
const connection = await NativeConnection.connect({ address: cfg.temporalAddress });
const worker = await Worker.create({
  connection,
  namespace: cfg.namespace,
  taskQueue: cfg.taskQueue,
  workflowBundle: { codePath: process.env.WORKFLOW_BUNDLE! },
  activities,
  // A dead worker's sticky queue is abandoned quickly: the next worker picks the workflows up at once.
  stickyQueueScheduleToStartTimeout: '1 second',
});
console.log('worker: ready');
process.once('SIGTERM', () => worker.shutdown());
await worker.run();
await connection.close();
await db.close();
process.exit(0);
