/** `rate-user` (§25). */
import { type Rid, orderMessage } from '../../../domain/messages.js';
import { type Decision, type Trade, refuse, send } from '../model.js';
import type { MessageHandler } from '../context.js';

/**
 * `rate-user`: after a successful trade (the seller already once the escrow is settled) each party may rate the
 * other's identity once, 1–5. As the reference: a wrong status is refused; a non-party, a second vote, or a
 * counterparty in full privacy (no identity to rate) changes nothing and gets no answer.
 */
export function rateUser(t: Trade, i: { sender: string; rid: Rid; rating: number }): Decision {
  const o = t.order;
  const isBuyer = i.sender === o.buyerPubkey;
  const isSeller = i.sender === o.sellerPubkey;
  if (!(o.status === 'success' || (o.status === 'settled-hold-invoice' && isSeller))) return refuse(t, i.sender, i.rid, 'invalid_order_status');
  const nothing: Decision = { trade: t, effects: [] };
  if (!isBuyer && !isSeller) return nothing;
  if ((isBuyer && o.buyerSentRate) || (isSeller && o.sellerSentRate)) return nothing;
  const [rated, ratedTrade] = isBuyer ? [o.masterSellerPubkey, o.sellerPubkey] : [o.masterBuyerPubkey, o.buyerPubkey];
  if (rated === null || rated === ratedTrade) return nothing;
  const order = isBuyer ? { ...o, buyerSentRate: true } : { ...o, sellerSentRate: true };
  return {
    trade: { ...t, order },
    effects: [
      { type: 'rate', orderId: o.id, raterSide: isBuyer ? 'buyer' : 'seller', raterTradeKey: i.sender, rated, rating: i.rating },
      send(orderMessage(i.sender, { rid: i.rid, id: o.id, action: 'rate-received', payload: { rating_user: i.rating } })),
    ],
  };
}

// trade-pubkey (§26.4)

export const onRateUser: MessageHandler = async (ctx, m, { kind, rid }) => {
  // Workflows that answered rate-user with invalid_action before ratings existed replay that answer.
  if (!ctx.patched('ratings')) return ctx.reply(m.sender, rid, 'invalid_action');
  const p = kind.payload;
  if (!p || !('rating_user' in p) || p.rating_user < 1 || p.rating_user > 5) return ctx.reply(m.sender, rid, 'invalid_rating');
  return ctx.apply(rateUser(ctx.trade, { sender: m.sender, rid, rating: p.rating_user }));
};
