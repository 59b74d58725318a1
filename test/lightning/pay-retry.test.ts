/**
 * "An activity retried by Temporal after a crash never pays twice": the first attempt of payInvoice dispatches the
 * payment and then dies before reporting (the worker crashed); Temporal retries the activity, which finds the
 * payment in LND and follows it instead of sending again. Real worker, embedded server, simulated LND over gRPC.
 */
import { Context } from '@temporalio/activity';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SimNetwork } from '../../src/lnsim/network.js';
import { startLightningWorld, type LightningWorld } from '../helpers/lightning.js';
import { uid } from '../helpers/temporal.js';

const net = new SimNetwork('regtest');
net.addNode('mostro');
net.addNode('buyer');
const taskQueue = uid('payout');
const attemptsSeen: number[] = [];
let world: LightningWorld;

beforeAll(async () => {
  world = await startLightningWorld({
    net,
    taskQueue,
    workflowsUrl: new URL('./workflows/payout.ts', import.meta.url).href,
    wrap: (real) => ({
      ...real,
      async payInvoice(input: Parameters<typeof real.payInvoice>[0]) {
        const attempt = Context.current().info.attempt;
        attemptsSeen.push(attempt);
        const outcome = await real.payInvoice(input);
        // The first attempt dispatched but its worker "crashed" before the result reached Temporal.
        if (attempt === 1) throw new Error('worker lost after dispatch');
        if (outcome.status === 'in-flight') throw new Error('still in flight; retry to keep tracking');
        return outcome;
      },
    }),
  });
}, 60_000);

afterAll(() => world?.close());

it('retries after a crash between dispatch and reporting without paying again', async () => {
  const inv = net.createInvoice({ node: 'buyer', valueSats: 12_000 });
  net.holdNextPayment(); // the payment is still in flight when the first attempt dies
  const handle = await world.env.plainClient.workflow.start('payout', {
    taskQueue,
    workflowId: uid('payout'),
    args: [{ purpose: `payout:${inv.hash}`, request: inv.request, amountSats: 12_000 }],
  });
  await expect.poll(() => attemptsSeen.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(3);
  net.releaseHeld();
  expect(await handle.result()).toMatchObject({ status: 'succeeded', hash: inv.hash });
  expect(net.payments.get(inv.hash)).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
  const row = await world.db.prisma.payment.findUniqueOrThrow({ where: { purpose: `payout:${inv.hash}` } });
  expect(row).toMatchObject({ status: 'succeeded', dispatches: 1 });
  expect(attemptsSeen[0]).toBe(1);
});
