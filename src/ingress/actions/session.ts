/**
 * Session actions answered from the orders projection (§26): `restore-session` (a client that reinstalled gets every
 * live trade of its identity back, with the trade index each used) and `orders` (the client's own orders by id).
 * Both are reads across orders, so the ingress answers them; the order workflows stay the source of truth.
 */
import type { Db } from '../../db/database.js';
import { message, type OrderStatus, type SmallOrder } from '@mostro/protocol';
import { CantDoError, type ActionHandler } from '../dispatch.js';

/**
 * Statuses a restored session leaves out: the trade is over (or in a dispute, listed separately). The reference means
 * the same set but spells three of them without hyphens, so it returns those finished orders too (§33); clients
 * rely on getting live trades, so this list is spelled as the statuses are.
 */
const FINISHED: OrderStatus[] = ['expired', 'success', 'canceled', 'dispute', 'canceled-by-admin', 'completed-by-admin', 'settled-by-admin', 'cooperatively-canceled'] as OrderStatus[];

/**
 * `onFailedPayout`: called for each restored order whose payout failed every attempt while the identity is its buyer;
 * the daemon asks the buyer again for a new invoice (the restored client could not have answered the first request).
 */
export function restoreSessionHandler(db: Db, onFailedPayout?: (orderId: string) => Promise<void>): ActionHandler {
  return async ({ unwrapped }, io) => {
    const identity = unwrapped.identity;
    const mine = { OR: [{ masterBuyerPubkey: identity }, { masterSellerPubkey: identity }] };
    const orders = await db.order.findMany({
      where: { ...mine, status: { notIn: FINISHED } },
      orderBy: { createdAt: 'asc' },
      select: { id: true, status: true, masterBuyerPubkey: true, tradeIndexBuyer: true, tradeIndexSeller: true, failedPayment: true },
    });
    const disputed = await db.order.findMany({
      where: { ...mine, status: 'dispute' },
      select: { id: true, masterBuyerPubkey: true, tradeIndexBuyer: true, tradeIndexSeller: true, buyerDispute: true, sellerDispute: true },
    });
    const disputes = disputed.length
      ? await db.dispute.findMany({ where: { orderId: { in: disputed.map((o) => o.id) }, status: { in: ['initiated', 'in-progress'] } }, orderBy: { createdAt: 'asc' } })
      : [];
    const byId = new Map(disputed.map((o) => [o.id, o]));
    const indexOf = (o: { masterBuyerPubkey: string | null; tradeIndexBuyer: bigint; tradeIndexSeller: bigint }) =>
      Number(o.masterBuyerPubkey === identity ? o.tradeIndexBuyer : o.tradeIndexSeller);
    const restore_data = {
      orders: orders.map((o) => ({ order_id: o.id, trade_index: indexOf(o), status: o.status })),
      disputes: disputes.map((d) => {
        const o = byId.get(d.orderId)!;
        const initiator: 'buyer' | 'seller' | null = o.buyerDispute ? 'buyer' : o.sellerDispute ? 'seller' : null;
        return { dispute_id: d.id, order_id: d.orderId, trade_index: indexOf(o), status: d.status, initiator, solver_pubkey: d.solverPubkey };
      }),
    };
    // No request id echo, as the reference (it answers from a background task).
    await io.reply(unwrapped.sender, message({ wrapper: 'restore', action: 'restore-session', payload: { restore_data } }));
    for (const o of orders) {
      if (onFailedPayout && o.status === 'settled-hold-invoice' && o.failedPayment && o.masterBuyerPubkey === identity) await onFailedPayout(o.id);
    }
  };
}

export function ordersHandler(db: Db, maxOrdersPerResponse: number): ActionHandler {
  return async ({ unwrapped, kind }, io) => {
    const p = kind.payload;
    const ids = p && 'ids' in p ? p.ids : [];
    if (ids.length === 0) throw new CantDoError('invalid_parameters');
    if (ids.length > maxOrdersPerResponse) throw new CantDoError('too_many_requests');
    const identity = unwrapped.identity;
    const rows = await db.order.findMany({ where: { id: { in: ids }, OR: [{ masterBuyerPubkey: identity }, { masterSellerPubkey: identity }] } });
    if (rows.length === 0) throw new CantDoError('not_found');
    const byId = new Map(rows.map((r) => [r.id, r]));
    const orders: SmallOrder[] = ids.flatMap((id) => {
      const r = byId.get(id);
      if (!r) return [];
      return [
        {
          id: r.id,
          kind: r.kind as SmallOrder['kind'],
          status: r.status as SmallOrder['status'],
          amount: Number(r.amount),
          fiat_code: r.fiatCode,
          min_amount: r.minAmount === null ? null : Number(r.minAmount),
          max_amount: r.maxAmount === null ? null : Number(r.maxAmount),
          fiat_amount: Number(r.fiatAmount),
          payment_method: r.paymentMethod,
          premium: r.premium,
          buyer_trade_pubkey: r.buyerPubkey ?? undefined,
          seller_trade_pubkey: r.sellerPubkey ?? undefined,
          buyer_invoice: undefined, // never shown here
          created_at: Number(r.createdAt),
          expires_at: Number(r.expiresAt),
        },
      ];
    });
    await io.reply(unwrapped.sender, message({ action: 'orders', request_id: kind.request_id, payload: { orders } }));
  };
}
