/** A payout as a workflow runs it: one activity call, retried by Temporal until the payment reaches a final state. */
import { proxyActivities } from '@temporalio/workflow';
import type { LightningActivities } from '../../../src/activities/lightning.js';
import type { PaymentOutcome } from '../../../src/activities/lightning-payments.js';

const ln = proxyActivities<LightningActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '50 milliseconds', backoffCoefficient: 1, maximumAttempts: 20 },
});

export async function payout(input: { purpose: string; request: string; amountSats: number }): Promise<PaymentOutcome> {
  return ln.payInvoice(input);
}
