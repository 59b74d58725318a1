/**
 * A Lightning test world: the daemon's node of a {@link LightningLab} (simulated or real LND) over gRPC, a PGlite
 * database, the real lightning activities, and (optionally) a Temporal worker running them against the embedded
 * server.
 */
import crypto from 'node:crypto';
import type { Worker } from '@temporalio/worker';
import { createLightningActivities, type LightningActivities } from '../../src/activities/lightning.js';
import { openDatabase, type Database } from '../../src/db/database.js';
import { LAB_SETTINGS, type LightningLab } from './lightning-lab.js';
import { createTemporalTestEnv, pathOf, type TemporalTestEnv } from './temporal.js';

/** The daemon's Lightning settings against the simulated network (payments end at once there). */
export const TEST_LIGHTNING_SETTINGS = { ...LAB_SETTINGS, paymentWaitMs: 300 };

export interface LightningWorld {
  lab: LightningLab;
  db: Database;
  env: TemporalTestEnv;
  activities: LightningActivities;
  close(): Promise<void>;
}

export async function startLightningWorld(o: {
  lab: LightningLab;
  taskQueue: string;
  /** `new URL('./workflows/x.ts', import.meta.url).href` */
  workflowsUrl: string;
  /** Replace or wrap activities before the worker gets them (fault injection). */
  wrap?: (real: LightningActivities) => object;
  /** The activities' hook for a new hold invoice (the daemon nudges its invoice watcher with it). */
  onHoldInvoiceCreated?: () => void;
}): Promise<LightningWorld> {
  const db = await openDatabase({ memory: true });
  const activities = createLightningActivities({ lnd: o.lab.lnd(), db: db.prisma, preimageSecret: crypto.randomBytes(32), settings: o.lab.settings, onHoldInvoiceCreated: o.onHoldInvoiceCreated });
  const env = await createTemporalTestEnv();
  const worker: Worker = await env.worker({
    taskQueue: o.taskQueue,
    activities: o.wrap ? o.wrap(activities) : activities,
    workflowsPath: pathOf(o.workflowsUrl),
  });
  const running = worker.run();
  return {
    lab: o.lab,
    db,
    env,
    activities,
    async close() {
      worker.shutdown();
      await running;
      await env.teardown();
      await db.close();
    },
  };
}
