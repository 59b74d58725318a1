/** `trade-pubkey` (§26.4). */
import { type Rid, orderMessage } from '../../../domain/messages.js';
import { type Decision, type Trade, refuse, send } from '../model.js';
import type { MessageHandler } from '../context.js';

/**
 * The maker moves a pending order to another trade key of the same identity (a client restoring its keys): the
 * order's maker key and creator become the sender's, which is told `trade-pubkey`. Anyone but the maker's identity
 * changes nothing and gets no answer (the reference fails internally); a taken order is refused.
 */
export function tradePubkey(t: Trade, i: { sender: string; identity: string; rid: Rid }): Decision {
  const o = t.order;
  if (o.status !== 'pending' && o.status !== 'waiting-taker-bond') return refuse(t, i.sender, i.rid, 'invalid_order_status');
  const master = o.kind === 'sell' ? o.masterSellerPubkey : o.masterBuyerPubkey;
  if (master === null || i.identity !== master) return { trade: t, effects: [] };
  const keys = o.kind === 'sell' ? { sellerPubkey: i.sender } : { buyerPubkey: i.sender };
  return {
    trade: { ...t, order: { ...o, ...keys, creatorPubkey: i.sender } },
    effects: [send(orderMessage(i.sender, { rid: i.rid, id: o.id, action: 'trade-pubkey' }))],
  };
}

export const onTradePubkey: MessageHandler = async (ctx, m, { rid }) => {
  // Workflows that answered trade-pubkey with invalid_action before replay that answer.
  if (!ctx.patched('trade-pubkey')) return ctx.reply(m.sender, rid, 'invalid_action');
  return ctx.apply(tradePubkey(ctx.trade, { sender: m.sender, identity: m.identity, rid }));
};
