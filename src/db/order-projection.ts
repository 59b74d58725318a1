/**
 * Writes an order workflow's state into `orders` (the projection listings, restore-session and the spam gate read).
 * The workflow numbers its states; a write lands only if it is newer than what the row holds
 * (`UPDATE … WHERE id = ? AND version < ?`), so a retried or delayed activity can never roll the row back, and
 * writing the same state twice is a no-op.
 */
import type { OrderState } from '../domain/order.js';
import { sqlOf, type Db } from './database.js';

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

/** Column names where the reference's spelling is not the field's snake case. */
const COLUMN_OVERRIDES: Record<string, string> = { buyerCooperativeCancel: 'buyer_cooperativecancel', sellerCooperativeCancel: 'seller_cooperativecancel' };
const columnOf = (field: string) => COLUMN_OVERRIDES[field] ?? field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

let upsertSql: { sql: string; fields: string[] } | undefined;

/**
 * One statement: insert the row, or overwrite it only when this state is newer —
 * `INSERT … ON CONFLICT (id) DO UPDATE … WHERE orders.version < EXCLUDED.version`. Plain SQL built once (database.ts,
 * `Sql`) skips Prisma's client and a second round trip (this runs for every decision of every trade).
 */
function upsertStatement(fields: string[]): string {
  if (upsertSql && upsertSql.fields.join() === fields.join()) return upsertSql.sql;
  const cols = fields.map((f) => `"${columnOf(f)}"`);
  const sets = cols.filter((c) => c !== '"id"').map((c) => `${c} = EXCLUDED.${c}`);
  const sql =
    `INSERT INTO "orders" (${cols.join(', ')}) VALUES (${fields.map((_, i) => `$${i + 1}`).join(', ')}) ` +
    `ON CONFLICT ("id") DO UPDATE SET ${sets.join(', ')} WHERE "orders"."version" < EXCLUDED."version"`;
  upsertSql = { sql, fields };
  return sql;
}

/** True when this write changed the row; false when the row already held this state or a newer one. */
export async function projectOrder(db: Db, o: OrderState, seq: number, now = Math.floor(Date.now() / 1000)): Promise<boolean> {
  const row: Record<string, unknown> = { id: o.id, ...columns(o, now), version: seq };
  const fields = Object.keys(row);
  const written = await sqlOf(db).execute(upsertStatement(fields), fields.map((f) => row[f]));
  return written === 1;
}
