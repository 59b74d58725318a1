/**
 * The anti-abuse bonds as every layer sees them (bonds.md): a bond an order holds (a taker's or its maker's, with the
 * slices of a range maker's), the payout of a slashed bond's counterparty share, and a bond's `bonds` row. Types and
 * the row's state rule only; the decisions are in the order and bond workflows.
 */
import type { OrderKind } from '@mostro/protocol/schema';
import type { Rid } from './messages.js';

/** `slashed`: settled and handed to its payout (the payout workflow owns it from then on). */
export type TakerBondState = 'requested' | 'locked' | 'released' | 'slashed';

/** What a take would have written to the order; promoted to the order only when this bond wins. */
export interface TakeSnapshot {
  /** The taker's trade key (where its messages go) and identity. */
  taker: string;
  identity: string;
  tradeIndex: number | null;
  fiatAmount: number;
  amount: number;
  fee: number;
  devFee: number;
  /** The buyer's invoice given with a take-sell. */
  buyerInvoice: string | null;
  /** The take's request id: echoed by `pay-bond-invoice` and by the trade's first messages once this bond wins. */
  rid: Rid;
}

export interface TakerBond extends TakeSnapshot {
  /** Names the bond's row, its hold invoice (preimage key `bond:<id>`) and its payout workflow. */
  id: string;
  hash: string;
  /** The bond's hold invoice, re-sent as is on an identical re-take. */
  request: string;
  amountSats: number;
  state: TakerBondState;
  lockedAt: number | null;
  /** Set when the bond was slashed (settled): why, when, what the node keeps, and who is paid the rest. */
  slash?: BondSlash;
  /** A maker bond: the order its row belongs to (a range's root, whichever slice holds it now). */
  orderId?: string;
  /** A range maker bond: the root's maximum fiat amount, which slices are slashed in proportion to. */
  rangeMaxFiat?: number | null;
  /** A range maker bond: the slices slashed so far, paid out when the range closes (settled once, then). */
  slices?: SliceSlash[];
  /** Revision of this bond's row in the `bonds` projection (each change bumps it; older writes never land). */
  rev: number;
}

/** One slice of a range maker's bond slashed (bonds.md §12.2): a row of its own, paid when the range closes. */
export interface SliceSlash {
  /** `<bond id>:<slice order id>`, or `<bond id>:refund` for what goes back to the maker at close. */
  id: string;
  orderId: string;
  /** The maker's trade key on that slice (the refund: the bond's own key). */
  pubkey: string;
  amountSats: number;
  nodeShareSats: number;
  recipient: string;
  reason: 'lost-dispute' | 'timeout';
  at: number;
  refund?: boolean;
  rev: number;
}

export interface BondSlash {
  reason: 'lost-dispute' | 'timeout';
  at: number;
  nodeShareSats: number;
  /** The honest counterparty's trade key; null when nobody is paid (both sides slashed, or the node keeps all). */
  recipient: string | null;
}

/** Taker and maker bonds have the same shape; the maker's `taker` is the maker's trade key. */
export type Bond = TakerBond;

export interface PayoutSettings {
  /** `payout_claim_window_days` in seconds: after it, a bond without an invoice is forfeited to the node. */
  claimWindowSecs: number;
  /** `payout_invoice_window_seconds`: the least time between two `add-bond-invoice` requests. */
  invoiceWindowSecs: number;
  /** `payout_max_retries`: payment attempts per submitted invoice. */
  maxRetries: number;
}

export type PayoutStatus = 'pending-payout' | 'slashed' | 'forfeited' | 'failed';

export interface BondPayout {
  bondId: string;
  orderId: string;
  /** The honest counterparty's trade key, recorded when the bond was slashed. */
  recipient: string;
  amountSats: number;
  /** Frozen at slash time. */
  nodeShareSats: number;
  slashedAt: number;
  status: PayoutStatus;
  invoice: string | null;
  /** Payment attempts on the current invoice. */
  attempts: number;
  /** Invoice requests since the last accepted invoice (bookkeeping, as the reference keeps it). */
  invoiceRequests: number;
  lastInvoiceRequestAt: number | null;
  /** Which submitted invoice this is (each gets its own payment idempotency key). */
  invoiceSeq: number;
  /** What the requests and notices show of the order. */
  order: { kind: OrderKind; fiatCode: string; fiatAmount: number; paymentMethod: string; premium: number };
  /** Revision of the bond's row in the `bonds` projection (continues the order workflow's numbering). */
  rev?: number;
}

/** A bond as its `bonds` row shows it; `rev` orders the writes. */
export interface BondRowView {
  id: string;
  orderId: string;
  role: 'taker' | 'maker';
  pubkey: string;
  state: string;
  hash: string | null;
  paymentRequest: string | null;
  amountSats: number;
  nodeShareSats: number | null;
  payoutRecipient: string | null;
  slashedReason: string | null;
  slashedAt: number | null;
  lockedAt: number | null;
  takerIdentity: string | null;
  takerTradeIndex: number | null;
  takerFiatAmount: number | null;
  takerAmount: number | null;
  takerFee: number | null;
  takerDevFee: number | null;
  parentBondId: string | null;
  childOrderId: string | null;
  rev: number;
}

/** A bond row's state: a slashed bond is `pending-payout` until its payout moves it on (or `slashed` when nobody is paid). */
export function projectedBondState(b: Bond): string {
  if (b.state !== 'slashed') return b.state;
  return b.slash && b.slash.recipient !== null && b.slash.nodeShareSats < b.amountSats ? 'pending-payout' : 'slashed';
}
