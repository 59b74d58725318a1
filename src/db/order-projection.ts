/**
 * Writes an order workflow's state into `orders` (the projection listings, restore-session and the spam gate read).
 * The workflow numbers its states; a write lands only if it is newer than what the row holds
 * (`UPDATE … WHERE id = ? AND version < ?`), so a retried or delayed activity can never roll the row back, and
 * writing the same state twice is a no-op.
 */
import type { OrderState } from '../workflows/order/state.js';
import type { Db } from './database.js';

const big = (n: number) => BigInt(n);
const bigOrNull = (n: number | null) => (n === null ? null : BigInt(n));

function columns(o: OrderState, now: number) {
  return {
    kind: o.kind,
    eventId: o.eventId,
    hash: o.hash,
    creatorPubkey: o.creatorPubkey,
    buyerPubkey: o.buyerPubkey,
    masterBuyerPubkey: o.masterBuyerPubkey,
    sellerPubkey: o.sellerPubkey,
    masterSellerPubkey: o.masterSellerPubkey,
    status: o.status,
    priceFromApi: o.priceFromApi,
    premium: o.premium,
    paymentMethod: o.paymentMethod,
    amount: big(o.amount),
    minAmount: bigOrNull(o.minAmount),
    maxAmount: bigOrNull(o.maxAmount),
    fee: big(o.fee),
    devFee: big(o.devFee),
    fiatCode: o.fiatCode,
    fiatAmount: big(o.fiatAmount),
    buyerInvoice: o.buyerInvoice,
    invoiceHeldAt: big(o.invoiceHeldAt),
    takenAt: big(o.takenAt),
    createdAt: big(o.createdAt),
    expiresAt: big(o.expiresAt),
    tradeIndexBuyer: big(o.tradeIndexBuyer ?? 0),
    tradeIndexSeller: big(o.tradeIndexSeller ?? 0),
    buyerDispute: o.buyerDispute,
    sellerDispute: o.sellerDispute,
    cancelInitiatorPubkey: o.cancelInitiatorPubkey,
    buyerCooperativeCancel: o.buyerCooperativeCancel,
    sellerCooperativeCancel: o.sellerCooperativeCancel,
    rangeParentId: o.rangeParentId,
    nextTradePubkey: o.nextTradePubkey,
    nextTradeIndex: big(o.nextTradeIndex),
    paymentAttempts: o.paymentAttempts,
    failedPayment: o.failedPayment,
    payoutPaymentHash: o.payoutPaymentHash,
    routingFee: big(o.routingFee),
    devFeePaid: o.devFeePaid,
    devFeePaymentHash: o.devFeePaymentHash,
    buyerSentRate: o.buyerSentRate,
    sellerSentRate: o.sellerSentRate,
    updatedAt: big(now),
  };
}

/** True when this write changed the row; false when the row already held this state or a newer one. */
export async function projectOrder(db: Db, o: OrderState, seq: number, now = Math.floor(Date.now() / 1000)): Promise<boolean> {
  const data = columns(o, now);
  const inserted = await db.order.createMany({ data: [{ id: o.id, ...data, version: seq }], skipDuplicates: true });
  if (inserted.count === 1) return true;
  const updated = await db.order.updateMany({ where: { id: o.id, version: { lt: seq } }, data: { ...data, version: seq } });
  return updated.count === 1;
}
