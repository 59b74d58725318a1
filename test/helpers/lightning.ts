/**
 * A Lightning test world: the simulated network's daemon node over gRPC, a PGlite database, the real lightning
 * activities, and (optionally) a Temporal worker running them against the embedded server.
 */
import crypto from 'node:crypto';
import * as ln from 'lightning';
import type { Worker } from '@temporalio/worker';
import { createLightningActivities, type LightningActivities } from '../../src/activities/lightning.js';
import { openDatabase, type Database } from '../../src/db/database.js';
import { startSimLnd, type SimLndServer } from '../../src/lnsim/lnd-grpc.js';
import type { SimNetwork } from '../../src/lnsim/network.js';
import { createTemporalTestEnv, pathOf, type TemporalTestEnv } from './temporal.js';

export const TEST_LIGHTNING_SETTINGS = {
  holdInvoiceExpirySecs: 900,
  holdInvoiceCltvDelta: 144,
  invoiceExpirySecs: 3600,
  maxRoutingFeeRatio: 0.002,
  paymentWaitMs: 300,
};

export interface LightningWorld {
  /** Replaceable: a test that restarts the node stores the new server here. */
  sim: SimLndServer;
  db: Database;
  lnd: ln.AuthenticatedLnd;
  env: TemporalTestEnv;
  activities: LightningActivities;
  close(): Promise<void>;
}

export async function startLightningWorld(o: {
  net: SimNetwork;
  taskQueue: string;
  /** `new URL('./workflows/x.ts', import.meta.url).href` */
  workflowsUrl: string;
  sim?: Omit<Parameters<typeof startSimLnd>[1], 'node'>;
  /** Replace or wrap activities before the worker gets them (fault injection). */
  wrap?: (real: LightningActivities) => object;
}): Promise<LightningWorld> {
  const sim = await startSimLnd(o.net, { node: 'mostro', ...o.sim });
  const db = await openDatabase({ memory: true });
  const lnd = ln.authenticatedLndGrpc(sim.credentials).lnd;
  const activities = createLightningActivities({ lnd, db: db.prisma, preimageSecret: crypto.randomBytes(32), settings: TEST_LIGHTNING_SETTINGS });
  const env = await createTemporalTestEnv();
  const worker: Worker = await env.worker({
    taskQueue: o.taskQueue,
    activities: o.wrap ? o.wrap(activities) : activities,
    workflowsPath: pathOf(o.workflowsUrl),
  });
  const running = worker.run();
  const world: LightningWorld = {
    sim,
    db,
    lnd,
    env,
    activities,
    async close() {
      worker.shutdown();
      await running;
      await env.teardown();
      await world.sim.close(); // a test may have restarted the node
      await db.close();
    },
  };
  return world;
}
