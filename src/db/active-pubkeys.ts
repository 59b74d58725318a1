/**
 * The spam gate's fast lane from the database (`find_active_trade_pubkeys`): buyer, seller and creator trade keys
 * of every order not in a terminal status, and the solver of every open dispute.
 */
import { TERMINAL_ORDER_STATUSES } from '@mostro/protocol/schema';
import type { Db } from './database.js';

export async function loadActiveTradePubkeys(db: Db): Promise<Set<string>> {
  const [orders, disputes] = await Promise.all([
    db.order.findMany({
      where: { status: { notIn: [...TERMINAL_ORDER_STATUSES] } },
      select: { buyerPubkey: true, sellerPubkey: true, creatorPubkey: true },
    }),
    db.dispute.findMany({
      where: { status: { in: ['initiated', 'in-progress'] }, solverPubkey: { not: null } },
      select: { solverPubkey: true },
    }),
  ]);
  const keys = new Set<string>();
  for (const o of orders) for (const k of [o.buyerPubkey, o.sellerPubkey, o.creatorPubkey]) if (k) keys.add(k);
  for (const d of disputes) if (d.solverPubkey) keys.add(d.solverPubkey);
  return keys;
}
