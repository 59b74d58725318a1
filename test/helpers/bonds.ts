/** Bond fixtures for tests. */
import type { BondPayout } from '../../src/workflows/bond/payout-machine.js';

/** A fresh payout of a slashed 1,000-sat bond split half/half on a 50 USD sell order; override what the test is about. */
export function bondPayout(o: Partial<BondPayout> & Pick<BondPayout, 'orderId' | 'recipient' | 'slashedAt'>): BondPayout {
  return {
    bondId: 'bond-1',
    amountSats: 1000,
    nodeShareSats: 500,
    status: 'pending-payout',
    invoice: null,
    attempts: 0,
    invoiceRequests: 0,
    lastInvoiceRequestAt: null,
    invoiceSeq: 0,
    order: { kind: 'sell', fiatCode: 'USD', fiatAmount: 50, paymentMethod: 'SEPA', premium: 0 },
    ...o,
  };
}
