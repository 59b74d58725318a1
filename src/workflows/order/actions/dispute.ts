/** `dispute` (§24.1): a party opens a dispute while the escrow is locked. */
import { type Rid, orderMessage } from '../../../domain/messages.js';
import type { OrderState } from '../../../domain/order.js';
import { type Clock, type Decision, type Guard, type Trade, allow, deny, moveTo, refuse, send } from '../model.js';
import type { MessageHandler } from '../context.js';

/** `dispute` (§24.1): the buyer or the seller, while the escrow is locked; each side at most once. */
export function canDispute(o: OrderState, sender: string): Guard {
  if (o.status !== 'active' && o.status !== 'fiat-sent') return deny('not_allowed_by_status');
  if (sender !== o.buyerPubkey && sender !== o.sellerPubkey) return deny('invalid_pubkey');
  if ((sender === o.buyerPubkey && o.buyerDispute) || (sender === o.sellerPubkey && o.sellerDispute)) return deny('dispute_creation_error');
  return allow;
}

/** A dispute opens (§24.1): status `dispute`, the record and its event, both parties told with the dispute id. */
export function openDispute(t: Trade, i: { id: string; initiator: 'buyer' | 'seller'; rid: Rid }, c: Clock): Decision {
  const o = t.order;
  const d = moveTo(t, 'dispute', i.initiator === 'buyer' ? { buyerDispute: true } : { sellerDispute: true }, c.now);
  const [by, peer] = i.initiator === 'buyer' ? [o.buyerPubkey!, o.sellerPubkey!] : [o.sellerPubkey!, o.buyerPubkey!];
  const payload = { dispute: [i.id, null] as [string, null] };
  d.trade = { ...d.trade, dispute: { id: i.id, initiator: i.initiator, previousStatus: o.status, openedAt: c.now, solver: null, byAdmin: false, solverCategory: 0 } };
  d.effects.push(
    { type: 'open-dispute', dispute: { id: i.id, orderId: o.id, initiator: i.initiator, previousStatus: o.status, createdAt: c.now } },
    send(orderMessage(by, { rid: i.rid, id: o.id, action: 'dispute-initiated-by-you', payload })),
    send(orderMessage(peer, { rid: i.rid, id: o.id, action: 'dispute-initiated-by-peer', payload })),
  );
  return d;
}

export const onDispute: MessageHandler = async (ctx, m, { rid }) => {
  const t = ctx.trade;
  // Workflows that answered a dispute with invalid_action before parties could open one replay that answer.
  if (!ctx.patched('party-disputes')) return ctx.reply(m.sender, rid, 'invalid_action');
  const g = canDispute(t.order, m.sender);
  if (!g.ok) return ctx.apply(refuse(t, m.sender, rid, g.reason));
  const initiator = m.sender === t.order.buyerPubkey ? 'buyer' : 'seller';
  return ctx.apply(openDispute(t, { id: ctx.uuid4(), initiator, rid }, ctx.clock()));
};
