/**
 * The SmallOrder each message carries, field for field as the reference builds it (which amount — gross, net or
 * plain —, which keys, whether the invoice and `expires_at` are present). Pure; serialized by the protocol library.
 */
import type { SmallOrder, SolverDisputeInfo, UserInfo } from '@mostro/protocol/schema';
import type { OrderEventInput } from '../../nostr/events.js';
import type { OrderState } from '../../domain/order.js';

/** What the NIP-69 event of an order revision shows. */
export const orderEventView = (o: OrderState): OrderEventInput => ({
  id: o.id,
  kind: o.kind,
  status: o.status,
  amount: o.amount,
  fiat_code: o.fiatCode,
  min_amount: o.minAmount,
  max_amount: o.maxAmount,
  fiat_amount: o.fiatAmount,
  payment_method: o.paymentMethod,
  premium: o.premium,
  expires_at: o.expiresAt,
});

const base = (o: OrderState): SmallOrder => ({
  ...orderEventView(o),
  buyer_trade_pubkey: undefined,
  seller_trade_pubkey: undefined,
  buyer_invoice: undefined,
  created_at: o.createdAt,
  expires_at: o.expiresAt,
});

/** `Order::as_new_order()`: the public view (new-order ack, order listings); never trade keys. */
export function publicOrder(o: OrderState): SmallOrder {
  return { ...base(o), ...(o.buyerInvoice ? { buyer_invoice: o.buyerInvoice } : {}) };
}

/**
 * `SmallOrder::from(order)`: the order as stored, with whichever trade keys and invoice it holds. The reference sends
 * it to the maker when a taker leaves (cancel or waiting timeout) and the order is pending again: the maker's own
 * trade key stays, the taker's is gone.
 */
export function storedOrder(o: OrderState): SmallOrder {
  return {
    ...base(o),
    ...(o.buyerPubkey ? { buyer_trade_pubkey: o.buyerPubkey } : {}),
    ...(o.sellerPubkey ? { seller_trade_pubkey: o.sellerPubkey } : {}),
    ...(o.buyerInvoice ? { buyer_invoice: o.buyerInvoice } : {}),
  };
}

/** `pay-invoice` to the seller: what the seller locks (amount + fee); the buyer's invoice is not shown. */
export function payInvoiceOrder(o: OrderState): SmallOrder {
  return { ...base(o), amount: o.amount + o.fee };
}

/**
 * `add-invoice` to the buyer: what the invoice must be for (amount − fee); no keys, no invoice. The take-sell path
 * sends no expiry; the buy-order path (seller already paid) keeps it.
 */
export function addInvoiceOrder(o: OrderState, keepExpiry = false): SmallOrder {
  return { ...base(o), amount: o.amount - o.fee, expires_at: keepExpiry ? o.expiresAt : null };
}

/**
 * `buyer-took-order` to the seller (gross) and `hold-invoice-payment-accepted` to the buyer (net): both keys. The
 * buyer's invoice is stripped, except on the buy-order path where the buyer's late `add-invoice` activates the trade.
 */
export function escrowLockedOrder(o: OrderState, to: 'seller' | 'buyer', withInvoice = false): SmallOrder {
  return {
    ...base(o),
    amount: to === 'seller' ? o.amount + o.fee : o.amount - o.fee,
    ...(o.buyerPubkey ? { buyer_trade_pubkey: o.buyerPubkey } : {}),
    ...(o.sellerPubkey ? { seller_trade_pubkey: o.sellerPubkey } : {}),
    ...(withInvoice && o.buyerInvoice ? { buyer_invoice: o.buyerInvoice } : {}),
  };
}

/** `SmallOrder::from(order)` with the buyer's net amount: the add-invoice that asks for a new payout invoice. */
export function payoutInvoiceOrder(o: OrderState): SmallOrder {
  return escrowLockedOrder(o, 'buyer', true);
}

/**
 * What a solver gets when taking a dispute (`SolverDisputeInfo`): the order, both trade keys, and each party's
 * reputation — a party without a users row counts as full privacy (flag true, info null). `preimage` stays null
 * here: the workflow never holds it; the activity that sends the message puts the escrow's preimage in.
 */
export function solverDisputeInfo(
  o: OrderState,
  ds: { initiator: 'buyer' | 'seller'; previousStatus: string },
  parties: { buyer: UserInfo | null; seller: UserInfo | null },
): SolverDisputeInfo {
  const byBuyer = ds.initiator === 'buyer';
  const initiatorInfo = byBuyer ? parties.buyer : parties.seller;
  const counterpartInfo = byBuyer ? parties.seller : parties.buyer;
  return {
    id: o.id,
    kind: o.kind,
    status: o.status,
    hash: o.hash,
    preimage: null,
    order_previous_status: ds.previousStatus,
    initiator_pubkey: (byBuyer ? o.buyerPubkey : o.sellerPubkey) ?? '',
    buyer_pubkey: o.buyerPubkey,
    seller_pubkey: o.sellerPubkey,
    initiator_full_privacy: initiatorInfo === null,
    counterpart_full_privacy: counterpartInfo === null,
    initiator_info: initiatorInfo,
    counterpart_info: counterpartInfo,
    premium: o.premium,
    payment_method: o.paymentMethod,
    amount: o.amount,
    fiat_amount: o.fiatAmount,
    fee: o.fee,
    routing_fee: o.routingFee,
    buyer_invoice: o.buyerInvoice,
    invoice_held_at: o.invoiceHeldAt,
    taken_at: o.takenAt,
    created_at: o.createdAt,
  };
}

/**
 * The order as bond messages show it (bonds.md §10.1, §16): `amount` is the bond (or the slashed part of it), the
 * order's range limits, no keys, no dates; `pay-bond-invoice` says `pending` (the public bucket), `bond-slashed` no
 * status.
 */
export function bondOrder(o: OrderState, f: { amountSats: number; fiatAmount: number; status: 'pending' | null }): SmallOrder {
  return {
    id: o.id,
    kind: o.kind,
    status: f.status,
    amount: f.amountSats,
    fiat_code: o.fiatCode,
    min_amount: o.minAmount,
    max_amount: o.maxAmount,
    fiat_amount: f.fiatAmount,
    payment_method: o.paymentMethod,
    premium: o.premium,
    buyer_trade_pubkey: undefined,
    seller_trade_pubkey: undefined,
    buyer_invoice: undefined,
    created_at: null,
    expires_at: null,
  };
}
