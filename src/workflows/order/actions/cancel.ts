/** `cancel` (§21): the maker's cancel of an untaken order, a taker leaving before the escrow, the cooperative cancel of a live trade. */
import { type Rid, orderMessage } from '../../../domain/messages.js';
import { type Clock, type Decision, type Effect, type Trade, closeDispute, moveTo, refuse, resetToPending, send, takerPubkey } from '../model.js';
import { storedOrder } from '../views.js';
import { cancelUnderBonds } from '../bonds.js';
import type { MessageHandler } from '../context.js';

export function cancel(t: Trade, i: { sender: string; rid: Rid }, c: Clock): Decision {
  const o = t.order;
  const maker = o.creatorPubkey;
  const taker = takerPubkey(o);
  switch (o.status) {
    case 'canceled':
    case 'cooperatively-canceled':
    case 'canceled-by-admin':
      return refuse(t, i.sender, i.rid, 'order_already_canceled');
    case 'pending':
    case 'waiting-taker-bond': {
      if (i.sender !== maker) return refuse(t, i.sender, i.rid, 'is_not_your_order');
      const d = moveTo(t, 'canceled', {}, c.now);
      d.effects.push(send(orderMessage(i.sender, { rid: i.rid, id: o.id, action: 'canceled' })));
      return d;
    }
    case 'waiting-payment':
    case 'waiting-buyer-invoice': {
      const hold: Effect[] = o.hash ? [{ type: 'cancel-hold', hash: o.hash }] : [];
      if (i.sender === maker) {
        const d = moveTo(t, 'canceled', {}, c.now);
        d.effects.unshift(...hold);
        d.effects.push(send(orderMessage(maker, { rid: i.rid, id: o.id, action: 'canceled' })));
        if (taker) d.effects.push(send(orderMessage(taker, { id: o.id, action: 'canceled' })));
        return d;
      }
      if (i.sender !== taker) return refuse(t, i.sender, i.rid, 'invalid_pubkey');
      const d = moveTo(t, 'pending', resetToPending(o), c.now);
      d.trade = { ...d.trade, triggerRid: null };
      d.effects.unshift(...hold, send(orderMessage(taker, { rid: i.rid, id: o.id, action: 'canceled' })));
      d.effects.push(send(orderMessage(maker, { rid: i.rid, id: o.id, action: 'new-order', payload: { order: storedOrder(d.trade.order) } })));
      return d;
    }
    case 'active':
    case 'fiat-sent':
    case 'dispute':
      return cooperativeCancel(t, i, c);
    default:
      return refuse(t, i.sender, i.rid, 'not_allowed_by_status');
  }
}

export function cooperativeCancel(t: Trade, i: { sender: string; rid: Rid }, c: Clock): Decision {
  const o = t.order;
  const isBuyer = i.sender === o.buyerPubkey;
  if (!isBuyer && i.sender !== o.sellerPubkey) return refuse(t, i.sender, i.rid, 'invalid_pubkey');
  const counterparty = isBuyer ? o.sellerPubkey! : o.buyerPubkey!;
  if (o.cancelInitiatorPubkey === null) {
    const order = { ...o, cancelInitiatorPubkey: i.sender, ...(isBuyer ? { buyerCooperativeCancel: true } : { sellerCooperativeCancel: true }) };
    return {
      trade: { ...t, order },
      effects: [
        send(orderMessage(i.sender, { rid: i.rid, id: o.id, action: 'cooperative-cancel-initiated-by-you' })),
        send(orderMessage(counterparty, { id: o.id, action: 'cooperative-cancel-initiated-by-peer' })),
      ],
    };
  }
  if (o.cancelInitiatorPubkey === i.sender) return refuse(t, i.sender, i.rid, 'invalid_pubkey');
  const d = moveTo(t, 'cooperatively-canceled', isBuyer ? { buyerCooperativeCancel: true } : { sellerCooperativeCancel: true }, c.now);
  if (o.hash) d.effects.unshift({ type: 'cancel-hold', hash: o.hash });
  if (o.status === 'dispute') d.effects.push(closeDispute(o, 'seller-refunded'));
  d.effects.push(
    send(orderMessage(i.sender, { rid: i.rid, id: o.id, action: 'cooperative-cancel-accepted' })),
    send(orderMessage(counterparty, { id: o.id, action: 'cooperative-cancel-accepted' })),
  );
  return d;
}

/** Where takers post bonds, a cancel before the trade started follows the bond rules (§11); otherwise the ordinary cancel. */
export const onCancel: MessageHandler = async (ctx, m, { rid }) => {
  const t = ctx.trade;
  return ctx.apply(cancelUnderBonds(t, { sender: m.sender, rid }, ctx.clock()) ?? cancel(t, { sender: m.sender, rid }, ctx.clock()));
};
