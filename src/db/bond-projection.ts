/**
 * Writes bonds into `bonds` (the projection support staff, restore tools and the ingress read). A bond is written by
 * the workflow that owns it — the order workflow, then its payout workflow — which number its revisions; a write
 * lands only if it is newer than what the row holds (`UPDATE … WHERE id = ? AND version < ?`), so a retried or
 * delayed activity never rolls a row back and a repeated write is a no-op.
 */
import type { TakerBond } from '../workflows/bond/taker-bonds.js';
import type { BondPayout } from '../workflows/bond/payout-machine.js';
import type { Db } from './database.js';

/** An order workflow's bond as projected: the bond plus its order and its projected state. */
export interface BondRow {
  orderId: string;
  role: 'taker' | 'maker';
  state: string;
  bond: TakerBond;
}

const big = (n: number) => BigInt(n);
const bigOrNull = (n: number | null | undefined) => (n === null || n === undefined ? null : BigInt(n));

export async function projectBond(db: Db, r: BondRow, now = Math.floor(Date.now() / 1000)): Promise<boolean> {
  const b = r.bond;
  const data = {
    state: r.state,
    lockedAt: bigOrNull(b.lockedAt),
    slashedReason: b.slash?.reason ?? null,
    slashedAt: bigOrNull(b.slash?.at),
    nodeShareSats: bigOrNull(b.slash?.nodeShareSats),
    payoutRecipient: b.slash?.recipient ?? null,
    ...(r.state === 'released' ? { releasedAt: big(now) } : {}),
    updatedAt: big(now),
    version: b.rev,
  };
  const inserted = await db.bond.createMany({
    data: [
      {
        id: b.id,
        orderId: r.orderId,
        role: r.role,
        pubkey: b.taker,
        hash: b.hash,
        paymentRequest: b.request,
        amountSats: big(b.amountSats),
        takerIdentity: b.identity,
        takerTradeIndex: bigOrNull(b.tradeIndex),
        takerFiatAmount: big(b.fiatAmount),
        takerAmount: big(b.amount),
        takerFee: big(b.fee),
        takerDevFee: big(b.devFee),
        createdAt: big(now),
        ...data,
      },
    ],
    skipDuplicates: true,
  });
  if (inserted.count === 1) return true;
  const updated = await db.bond.updateMany({ where: { id: b.id, version: { lt: b.rev } }, data });
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
