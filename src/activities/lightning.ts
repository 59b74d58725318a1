/**
 * Lightning activities over the `lightning` client (LND gRPC), one group per job, on what they share
 * (lightning-deps.ts: dependencies, settings, LND errors):
 * - lightning-invoices.ts: node info, plain invoices, decoding, the rules for invoices users send;
 * - lightning-hold-invoices.ts: the escrow's hold invoices, with preimages derived from a daemon secret;
 * - lightning-payments.ts: `payInvoice`, the double-pay guard, and `trackPayment`.
 */
import { createHoldInvoiceActivities } from './lightning-hold-invoices.js';
import { lightningContext, type LightningDeps } from './lightning-deps.js';
import { createInvoiceActivities } from './lightning-invoices.js';
import { createPaymentActivities } from './lightning-payments.js';

export function createLightningActivities(deps: LightningDeps) {
  const c = lightningContext(deps);
  return {
    ...createInvoiceActivities(c),
    ...createHoldInvoiceActivities(c),
    ...createPaymentActivities(c),
  };
}

export type LightningActivities = ReturnType<typeof createLightningActivities>;
