/**
 * The order as its workflow holds it: the source of truth that the `orders` table projects. Field names follow the
 * reference's order row (camelCase); amounts are sats, `fiatAmount`/`minAmount`/`maxAmount` fiat units, times unix
 * seconds. The preimage is never part of it (derived from the daemon secret by the Lightning activities).
 */
import type { OrderStatus } from '@mostro/protocol/schema';

export interface OrderState {
  id: string;
  /** Id of the latest kind-38383 event published for the order ('' before the first). */
  eventId: string;
  kind: 'buy' | 'sell';
  status: OrderStatus;
  /** Sats; 0 until a market-priced order is quoted at take time. */
  amount: number;
  /** Each party's half of the Mostro fee. */
  fee: number;
  devFee: number;
  fiatCode: string;
  fiatAmount: number;
  minAmount: number | null;
  maxAmount: number | null;
  paymentMethod: string;
  premium: number;
  priceFromApi: boolean;
  /** The maker's trade key. */
  creatorPubkey: string;
  buyerPubkey: string | null;
  masterBuyerPubkey: string | null;
  sellerPubkey: string | null;
  masterSellerPubkey: string | null;
  tradeIndexBuyer: number | null;
  tradeIndexSeller: number | null;
  buyerInvoice: string | null;
  /** Payment hash of the escrow hold invoice. */
  hash: string | null;
  createdAt: number;
  expiresAt: number;
  takenAt: number;
  invoiceHeldAt: number;
  /** Which side opened a dispute (the guard opens one for the buyer). */
  buyerDispute: boolean;
  sellerDispute: boolean;
  /** Who started a cooperative cancel, and which sides asked for it. */
  cancelInitiatorPubkey: string | null;
  buyerCooperativeCancel: boolean;
  sellerCooperativeCancel: boolean;
  /** Parent of a range child order. */
  rangeParentId: string | null;
  /** A range maker's next trade key and index (sent on `fiat-sent` / `release`): the child order's maker key. */
  nextTradePubkey: string | null;
  nextTradeIndex: number;
  /** Payout to the buyer: attempts of the current invoice, whether the last failed, and what it cost. */
  paymentAttempts: number;
  failedPayment: boolean;
  payoutPaymentHash: string | null;
  routingFee: number;
  devFeePaid: boolean;
  devFeePaymentHash: string | null;
  buyerSentRate: boolean;
  sellerSentRate: boolean;
}

/** Defaults of the fields a freshly created order has not touched yet. */
export const UNTOUCHED_ORDER_FIELDS = {
  eventId: '',
  buyerInvoice: null,
  hash: null,
  takenAt: 0,
  invoiceHeldAt: 0,
  buyerDispute: false,
  sellerDispute: false,
  cancelInitiatorPubkey: null,
  buyerCooperativeCancel: false,
  sellerCooperativeCancel: false,
  rangeParentId: null,
  nextTradePubkey: null,
  nextTradeIndex: 0,
  paymentAttempts: 0,
  failedPayment: false,
  payoutPaymentHash: null,
  routingFee: 0,
  devFeePaid: false,
  devFeePaymentHash: null,
  buyerSentRate: false,
  sellerSentRate: false,
} satisfies Partial<OrderState>;
