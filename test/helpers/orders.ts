/** An order state for tests: a sell order for 100 VES by a full-identity maker; override what the test is about. */
import { UNTOUCHED_ORDER_FIELDS, type OrderState } from '../../src/workflows/order/state.js';

export function orderState(overrides: Partial<OrderState> = {}): OrderState {
  return {
    ...UNTOUCHED_ORDER_FIELDS,
    id: '308e1272-d5f4-47e6-bd97-3504baea9c23',
    eventId: '',
    kind: 'sell',
    status: 'pending',
    amount: 0,
    fee: 0,
    devFee: 0,
    fiatCode: 'VES',
    fiatAmount: 100,
    minAmount: null,
    maxAmount: null,
    paymentMethod: 'face to face',
    premium: 1,
    priceFromApi: true,
    creatorPubkey: 'c'.repeat(64),
    buyerPubkey: null,
    masterBuyerPubkey: null,
    sellerPubkey: 'c'.repeat(64),
    masterSellerPubkey: 'f'.repeat(64),
    tradeIndexBuyer: null,
    tradeIndexSeller: 1,
    buyerInvoice: null,
    hash: null,
    createdAt: 1_698_870_173,
    expiresAt: 1_698_956_573,
    takenAt: 0,
    invoiceHeldAt: 0,
    ...overrides,
  };
}
