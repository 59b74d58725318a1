/** `fiat-sent`: the buyer says the fiat is on its way; a buy range maker names its next trade key here. */
import { type Rid, orderMessage } from '../../../domain/messages.js';
import type { OrderState } from '../../../domain/order.js';
import { type Clock, type Decision, type Guard, type NextTrade, type Trade, allow, deny, moveTo, refuse, send } from '../model.js';
import type { Inbound } from '../../../domain/messages.js';
import type { MessageHandler } from '../context.js';

/** `fiat-sent`: the buyer, once the escrow is locked. */
export function canSendFiatSent(o: OrderState, sender: string): Guard {
  if (o.status !== 'active') return deny('not_allowed_by_status');
  if (sender !== o.buyerPubkey) return deny('invalid_pubkey');
  return allow;
}

/** The buyer's `fiat-sent` (guarded by `canSendFiatSent`); a buy range maker names its next trade key here. */
export function fiatSent(t: Trade, i: { rid: Rid; nextTrade: NextTrade | null }, c: Clock): Decision {
  const next = i.nextTrade ? { nextTradePubkey: i.nextTrade.pubkey, nextTradeIndex: i.nextTrade.index } : {};
  const d = moveTo(t, 'fiat-sent', next, c.now);
  const o = d.trade.order;
  d.effects.push(
    send(orderMessage(o.sellerPubkey!, { id: o.id, action: 'fiat-sent-ok', payload: { peer: { pubkey: o.buyerPubkey!, reputation: null } } })),
    send(
      orderMessage(o.buyerPubkey!, { rid: i.rid, id: o.id, action: 'fiat-sent-ok', payload: { peer: { pubkey: o.sellerPubkey!, reputation: null } } }),
    ),
  );
  return d;
}

export const nextTradeOf = (p: Inbound['kind']['payload']): NextTrade | null =>
  p && 'next_trade' in p ? { pubkey: p.next_trade[0], index: p.next_trade[1] } : null;

/** A range maker's next trade key must be a key: it becomes the maker of the child order. */
export const badNextTrade = (p: Inbound['kind']['payload']): boolean => {
  const next = nextTradeOf(p);
  return next !== null && !/^[0-9a-f]{64}$/.test(next.pubkey);
};

export const onFiatSent: MessageHandler = async (ctx, m, { kind, rid }) => {
  const t = ctx.trade;
  const g = canSendFiatSent(t.order, m.sender);
  if (!g.ok) return ctx.apply(refuse(t, m.sender, rid, g.reason));
  if (badNextTrade(kind.payload) && ctx.patched('next-trade-key-checked')) return ctx.apply(refuse(t, m.sender, rid, 'invalid_payload'));
  return ctx.apply(fiatSent(t, { rid, nextTrade: nextTradeOf(kind.payload) }, ctx.clock()));
};
