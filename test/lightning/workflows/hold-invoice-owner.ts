/** A minimal hold-invoice owner: creates its invoice through the real activity and records what the watcher says. */
import { condition, defineQuery, proxyActivities, setHandler } from '@temporalio/workflow';
import type { LightningActivities } from '../../../src/activities/lightning.js';
import { holdInvoiceSignals, type HoldInvoiceUpdate } from '../../../src/workflows/shared/hold-invoice.js';

const ln = proxyActivities<LightningActivities>({ startToCloseTimeout: '10 seconds' });

export const invoiceQuery = defineQuery<{ request?: string; updates: HoldInvoiceUpdate[] }>('invoice');

export async function holdInvoiceOwner(input: { key: string; amountSats: number; settleOnAccept: boolean }): Promise<string[]> {
  const updates: HoldInvoiceUpdate[] = [];
  const invoice: { request?: string } = {};
  for (const signal of Object.values(holdInvoiceSignals)) {
    setHandler(signal, (u) => {
      // Repeats are possible by contract; keep one per state.
      if (!updates.some((x) => x.state === u.state)) updates.push(u);
    });
  }
  setHandler(invoiceQuery, () => ({ request: invoice.request, updates }));
  invoice.request = (await ln.createHoldInvoice({ key: input.key, amountSats: input.amountSats, memo: `test ${input.key}` })).request;
  const has = (s: string) => updates.some((u) => u.state === s);
  await condition(() => has('accepted') || has('canceled'));
  if (has('accepted') && input.settleOnAccept) await ln.settleHoldInvoice({ key: input.key });
  await condition(() => has('settled') || has('canceled'));
  return updates.map((u) => `${u.state}:${u.amountSats}`);
}
