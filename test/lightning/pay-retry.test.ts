/**
 * "An activity retried by Temporal after a crash never pays twice": the first attempt of payInvoice dispatches the
 * payment and then dies before reporting (the worker crashed); Temporal retries the activity, which finds the
 * payment in LND and follows it instead of sending again. Real worker, embedded server, the simulated network and
 * real LND (regtest); the payee holds the payment until the retries have happened.
 */
import { Context } from '@temporalio/activity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLightningWorld, type LightningWorld } from '../helpers/lightning.js';
import { LABS } from '../helpers/lightning-lab.js';
import { uid } from '../helpers/temporal.js';

describe.each(LABS)('payInvoice retried after a crash, on $name', ({ start, skip }) => {
  const taskQueue = uid('payout');
  const attemptsSeen: number[] = [];
  let world: LightningWorld;

  beforeAll(async () => {
    if (skip) return;
    const lab = await start();
    world = await startLightningWorld({
      lab,
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
    }).catch(async (err: unknown) => {
      // A world that fails to start must not leave the lab's processes running.
      await lab.close();
      throw err;
    });
  }, 300_000);

  afterAll(async () => {
    await world?.close();
    await world?.lab.close();
  }, 120_000);

  it.skipIf(skip)('retries after a crash between dispatch and reporting without paying again', async () => {
    const inv = await world.lab.heldInvoice('buyer', 12_000); // still in flight when the first attempt dies
    const handle = await world.env.plainClient.workflow.start('payout', {
      taskQueue,
      workflowId: uid('payout'),
      args: [{ purpose: `payout:${inv.hash}`, request: inv.request, amountSats: 12_000 }],
    });
    await expect.poll(() => attemptsSeen.length, { timeout: 60_000 }).toBeGreaterThanOrEqual(3);
    await inv.settle();
    expect(await handle.result()).toMatchObject({ status: 'succeeded', hash: inv.hash });
    expect(await world.lab.payment(inv.hash)).toMatchObject({ status: 'SUCCEEDED' });
    const row = await world.db.prisma.payment.findUniqueOrThrow({ where: { purpose: `payout:${inv.hash}` } });
    expect(row).toMatchObject({ status: 'succeeded', dispatches: 1 });
    expect(attemptsSeen[0]).toBe(1);
  }, 120_000);
});
