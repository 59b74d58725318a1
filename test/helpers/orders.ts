/** Order fixtures for tests. */
import type { OrderSettings } from '../../src/domain/order-settings.js';
import { UNTOUCHED_ORDER_FIELDS, type OrderState } from '../../src/domain/order.js';

/** Order settings for tests: the reference's defaults with a 0.6 % fee, and short heartbeats so a killed worker is noticed fast. */
export const TEST_ORDER_SETTINGS: OrderSettings = {
  feeRate: 0.006,
  devFeePercentage: 0.3,
  fiatCurrenciesAccepted: [],
  minPaymentAmount: 100,
  maxOrderAmount: 1_000_000,
  expirationHours: 24,
  maxExpirationDays: 15,
  expirationSeconds: 900,
  holdInvoiceCltvDelta: 144,
  escrowDeadlineMarginBlocks: 24,
  paymentAttempts: 3,
  paymentRetriesInterval: 60,
  devFeeLightningAddress: null,
  lingerSeconds: 3600,
  activityHeartbeatTimeoutSecs: 3,
};

/** An order state: a sell order for 100 VES by a full-identity maker; override what the test is about. */
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
