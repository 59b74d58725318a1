/** Bond fixtures for tests. */
import { newPayout } from '../../src/workflows/bond/payout-machine.js';
import type { BondSettings } from '../../src/domain/bond-policy.js';
import { type BondPayout } from '../../src/domain/bond.js';

/** A fresh payout of a slashed 1,000-sat bond split half/half on a 50 USD sell order; override what the test is about. */
export function bondPayout(o: Partial<BondPayout> & Pick<BondPayout, 'orderId' | 'recipient' | 'slashedAt'>): BondPayout {
  const fresh = newPayout({
    bondId: 'bond-1',
    orderId: o.orderId,
    recipient: o.recipient,
    amountSats: 1000,
    nodeShareSats: 500,
    slashedAt: o.slashedAt,
    order: { kind: 'sell', fiatCode: 'USD', fiatAmount: 50, paymentMethod: 'SEPA', premium: 0 },
  });
  return { ...fresh, ...o };
}

/** A bond policy for tests: takers post 1 % (at least 1,000 sats), timeouts slash, the node keeps half; override what the test is about. */
export function testBondSettings(o: Partial<BondSettings> = {}): BondSettings {
  return {
    enabled: true,
    amountPct: 0.01,
    baseAmountSats: 1000,
    applyTo: 'take',
    slashOnWaitingTimeout: true,
    slashNodeSharePct: 0.5,
    payout: { claimWindowSecs: 15 * 86_400, invoiceWindowSecs: 300, maxRetries: 3 },
    ...o,
  };
}
