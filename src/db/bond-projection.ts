/**
 * Writes bonds into `bonds` (the projection support staff, restore tools and the ingress read). A bond is written by
 * the workflow that owns it — the order workflow, then its payout workflow — which number its revisions; a write
 * lands only if it is newer than what the row holds (`UPDATE … WHERE id = ? AND version < ?`), so a retried or
 * delayed activity never rolls a row back and a repeated write is a no-op.
 */
import type { BondPayout, BondRowView } from '../domain/bond.js';
import type { Db } from './database.js';

export type BondRow = BondRowView;

const big = (n: number) => BigInt(n);
const bigOrNull = (n: number | null | undefined) => (n === null || n === undefined ? null : BigInt(n));

export async function projectBond(db: Db, r: BondRow, now = Math.floor(Date.now() / 1000)): Promise<boolean> {
  const data = {
    state: r.state,
    lockedAt: bigOrNull(r.lockedAt),
    slashedReason: r.slashedReason,
    slashedAt: bigOrNull(r.slashedAt),
    nodeShareSats: bigOrNull(r.nodeShareSats),
    payoutRecipient: r.payoutRecipient,
    ...(r.state === 'released' ? { releasedAt: big(now) } : {}),
    updatedAt: big(now),
    version: r.rev,
  };
  const inserted = await db.bond.createMany({
    data: [
      {
        id: r.id,
        orderId: r.orderId,
        role: r.role,
        pubkey: r.pubkey,
        hash: r.hash,
        paymentRequest: r.paymentRequest,
        amountSats: big(r.amountSats),
        takerIdentity: r.takerIdentity,
        takerTradeIndex: bigOrNull(r.takerTradeIndex),
        takerFiatAmount: bigOrNull(r.takerFiatAmount),
        takerAmount: bigOrNull(r.takerAmount),
        takerFee: bigOrNull(r.takerFee),
        takerDevFee: bigOrNull(r.takerDevFee),
        parentBondId: r.parentBondId,
        childOrderId: r.childOrderId,
        createdAt: big(now),
        ...data,
      },
    ],
    skipDuplicates: true,
  });
  if (inserted.count === 1) return true;
  const updated = await db.bond.updateMany({ where: { id: r.id, version: { lt: r.rev } }, data });
  return updated.count === 1;
}

/** A payout workflow's progress on its bond's row (state, attempts, invoice requests). */
export async function projectBondPayout(db: Db, p: BondPayout, now = Math.floor(Date.now() / 1000)): Promise<boolean> {
  const rev = p.rev ?? 0;
  const updated = await db.bond.updateMany({
    where: { id: p.bondId, version: { lt: rev } },
    data: {
      state: p.status,
      payoutAttempts: p.attempts,
      invoiceRequestAttempts: p.invoiceRequests,
      lastInvoiceRequestAt: bigOrNull(p.lastInvoiceRequestAt),
      updatedAt: big(now),
      version: rev,
    },
  });
  return updated.count === 1;
}
