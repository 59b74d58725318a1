/**
 * An order's taker bonds, decision by decision (bonds.md §10–14): what each step does to the bonds, to the order, and
 * which messages (byte for byte) and Lightning effects it asks for.
 */
import { describe, expect, it } from 'vitest';
import type { BondSettings } from '../../src/domain/bond-policy.js';
import { testBondSettings } from '../helpers/bonds.js';
import { bondGuard, bondGuardAt, bondRows, bondsOf, cancelUnderBonds, disputeSlashTargets, makerBondLocked, makerBondRequested, releaseOnExit, resendBondInvoice, settlesNow, slash, takeUnderBonds, takerBondAmount, takerBondCanceled, takerBondLocked, takerBondRequested, timeoutSlashTarget } from '../../src/workflows/order/bonds.js';
import { escrowGuardSecs, newTrade, type Clock, type Decision, type Effect, type Trade } from '../../src/workflows/order/model.js';
import { timeout } from '../../src/workflows/order/actions/timers.js';
import { projectedBondState } from '../../src/domain/bond.js';
import { type OrderSettings } from '../../src/domain/order-settings.js';
import type { TakeSnapshot } from '../../src/domain/bond.js';
import type { OrderState } from '../../src/domain/order.js';
import { TEST_ORDER_SETTINGS, orderState } from '../helpers/orders.js';

const BOND = testBondSettings({ payout: { claimWindowSecs: 15 * 86_400, invoiceWindowSecs: 300, maxRetries: 5 } });
const SETTINGS: OrderSettings = { ...TEST_ORDER_SETTINGS, bond: BOND };
const NOW = 1_700_000_000;
const C: Clock = { now: NOW, settings: SETTINGS };
const MAKER = 'c'.repeat(64);
const ID = '308e1272-d5f4-47e6-bd97-3504baea9c23';

const sends = (effects: Effect[]) => effects.flatMap((e) => (e.type === 'send' ? [[e.msg.to, e.msg.json]] : []));
const released = (effects: Effect[]) => effects.flatMap((e) => (e.type === 'cancel-hold' ? [e.hash] : []));
const kinds = (effects: Effect[]) => effects.map((e) => e.type);
const key = (n: number) => String(n).repeat(64);

/** A fixed 100,000-sat sell order (maker = seller 'ccc…'). */
const sellOrder = (o: Partial<OrderState> = {}) => newTrade(orderState({ amount: 100_000, fee: 300, priceFromApi: false, ...o }));
const snap = (n: number, o: Partial<TakeSnapshot> = {}): TakeSnapshot => ({
  taker: key(n),
  identity: `i${n}`,
  tradeIndex: n,
  fiatAmount: 100,
  amount: 100_000,
  fee: 300,
  devFee: 0,
  buyerInvoice: null,
  rid: `${n}00`,
  ...o,
});
const inv = (n: number) => ({ id: `bond-${n}`, hash: `h${n}`, request: `lnbcrt-bond-${n}`, amountSats: 1000 });

function requested(t: Trade, ...n: number[]): Trade {
  return n.reduce((acc, k) => takerBondRequested(acc, snap(k), inv(k), C).trade, t);
}

describe('taker bond requests (§10.1–10.2)', () => {
  it('a take asks the taker for the bond and parks the order in waiting-taker-bond, republished as pending', () => {
    const d = takerBondRequested(sellOrder(), snap(1), inv(1), C);
    expect(d.trade.order.status).toBe('waiting-taker-bond');
    // The order itself is untouched: no taker, no invoice, no quote written.
    expect(d.trade.order).toMatchObject({ buyerPubkey: null, buyerInvoice: null, takenAt: 0 });
    expect(kinds(d.effects)).toEqual(['send', 'publish']);
    expect(sends(d.effects)).toEqual([
      [
        key(1),
        `{"order":{"version":2,"request_id":100,"trade_index":1,"id":"${ID}","action":"pay-bond-invoice","payload":{"payment_request":[{"id":"${ID}","kind":"sell","status":"pending","amount":1000,"fiat_code":"VES","min_amount":null,"max_amount":null,"fiat_amount":100,"payment_method":"face to face","premium":1,"created_at":null,"expires_at":null},"lnbcrt-bond-1",null]}}}`,
      ],
    ]);
  });

  it('more takers coexist, each with its own quote; the order is not republished again', () => {
    const t = requested(sellOrder(), 1);
    const d = takerBondRequested(t, snap(2, { amount: 90_000, fiatAmount: 90 }), inv(2), C);
    expect(kinds(d.effects)).toEqual(['send']);
    expect(bondsOf(d.trade).map((b) => [b.taker, b.state, b.amount])).toEqual([
      [key(1), 'requested', 100_000],
      [key(2), 'requested', 90_000],
    ]);
  });

  it('a re-take by a taker with a bond resends the same invoice, echoing the new request id', () => {
    const t = requested(sellOrder(), 1, 2);
    const again = takeUnderBonds(t, key(1));
    if (again.type !== 'resend') throw new Error(again.type);
    const d = resendBondInvoice(t, again.bond, '777');
    expect(d.trade).toBe(t);
    expect(sends(d.effects)[0]![1]).toContain('"request_id":777,"trade_index":1');
    expect(sends(d.effects)[0]![1]).toContain('"lnbcrt-bond-1"');
    expect(takeUnderBonds(t, key(3)).type).toBe('new');
  });

  it('the bond is 1 % of the take, never below the floor', () => {
    expect(takerBondAmount(50_000, SETTINGS)).toBe(1000);
    expect(takerBondAmount(10_000_000, SETTINGS)).toBe(100_000);
  });
});

describe('first to lock wins (§10.3)', () => {
  it('the winner takes the order with its own quote; every other bond is released and its taker told canceled', () => {
    const t = requested(sellOrder({ amount: 0, fee: 0, priceFromApi: true }), 1);
    const t2 = takerBondRequested(t, snap(2, { amount: 95_000, fee: 285, fiatAmount: 100 }), inv(2), C).trade;
    const t3 = requested(t2, 3);
    const d = takerBondLocked(t3, 'h2', C);
    expect(bondsOf(d.trade).map((b) => b.state)).toEqual(['released', 'locked', 'released']);
    expect(released(d.effects)).toEqual(['h1', 'h3']);
    // Sell order, no invoice with the take: the winner is the buyer, asked for an invoice at its own quote.
    expect(d.trade.order).toMatchObject({ status: 'waiting-buyer-invoice', buyerPubkey: key(2), masterBuyerPubkey: 'i2', amount: 95_000, fee: 285, takenAt: NOW });
    const to = sends(d.effects).map(([k, json]) => [k, JSON.parse(json!).order?.action ?? 'x']);
    expect(to).toEqual([
      [key(1), 'canceled'],
      [key(3), 'canceled'],
      [key(2), 'add-invoice'],
      [MAKER, 'waiting-buyer-invoice'],
    ]);
    expect(sends(d.effects)[0]![1]).toBe(`{"order":{"version":2,"request_id":null,"trade_index":null,"id":"${ID}","action":"canceled","payload":null}}`);
    // The winner's messages echo its take's request id.
    expect(sends(d.effects)[2]![1]).toContain('"request_id":200,"trade_index":2');
  });

  it('a sell take with an invoice goes on to the escrow; a buy order asks the seller-taker for it', () => {
    const withInvoice = takerBondLocked(takerBondRequested(sellOrder(), snap(1, { buyerInvoice: 'lnbcrt-buyer' }), inv(1), C).trade, 'h1', C);
    expect(kinds(withInvoice.effects)).toEqual(['create-hold']);
    expect(withInvoice.trade.order).toMatchObject({ buyerInvoice: 'lnbcrt-buyer', buyerPubkey: key(1) });
    const buy = newTrade(orderState({ kind: 'buy', amount: 100_000, fee: 300, priceFromApi: false, buyerPubkey: MAKER, sellerPubkey: null, masterSellerPubkey: null, masterBuyerPubkey: 'f'.repeat(64) }));
    const d = takerBondLocked(requested(buy, 1), 'h1', C);
    expect(kinds(d.effects)).toEqual(['create-hold']);
    expect(d.trade.order).toMatchObject({ sellerPubkey: key(1), masterSellerPubkey: 'i1', tradeIndexSeller: 1 });
  });

  it('a lock after another won loses: released and told canceled; a repeated report changes nothing', () => {
    const won = takerBondLocked(requested(sellOrder(), 1), 'h1', C).trade;
    // A bond requested while the winner's lock was in flight (its request raced the lock).
    const raced: Trade = { ...won, bonds: [...bondsOf(won), { ...snap(4), ...inv(4), state: 'requested', lockedAt: null, rev: 1 }] };
    const lost = takerBondLocked(raced, 'h4', C);
    expect(released(lost.effects)).toEqual(['h4']);
    expect(sends(lost.effects).map(([k]) => k)).toEqual([key(4)]);
    expect(lost.trade.order).toBe(raced.order);
    expect(takerBondLocked(won, 'h1', C).effects).toEqual([]);
    expect(takerBondLocked(won, 'unknown', C).effects).toEqual([]);
  });

  it('a lock arriving after the order was canceled is released and its taker told', () => {
    const t = requested(sellOrder(), 1);
    const canceled = { ...t, order: { ...t.order, status: 'canceled' as const } };
    const d = takerBondLocked(canceled, 'h1', C);
    expect(d.trade.order.status).toBe('canceled');
    expect(released(d.effects)).toEqual(['h1']);
    expect(sends(d.effects).map(([k]) => k)).toEqual([key(1)]);
  });

  it('once a bond is locked new takes are refused', () => {
    const won = takerBondLocked(requested(sellOrder(), 1, 2), 'h1', C).trade;
    expect(takeUnderBonds(won, key(3)).type).toBe('committed');
  });
});

describe('bonds never paid (§10.4)', () => {
  it('the order returns to pending (republished) when the last requested bond is canceled by LND', () => {
    const t = requested(sellOrder(), 1, 2);
    const one = takerBondCanceled(t, 'h1', C);
    expect(one.trade.order.status).toBe('waiting-taker-bond');
    expect(one.effects).toEqual([]);
    const both = takerBondCanceled(one.trade, 'h2', C);
    expect(both.trade.order.status).toBe('pending');
    expect(kinds(both.effects)).toEqual(['publish']);
    // A cancel report for a bond already released changes nothing.
    expect(takerBondCanceled(both.trade, 'h2', C).trade).toBe(both.trade);
  });
});

describe('cancels while bonds exist (§11)', () => {
  it('the maker cancels: the order is canceled, every bonded taker is told and every bond released', () => {
    const t = requested(sellOrder(), 1, 2);
    const d = releaseOnExit(cancelUnderBonds(t, { sender: MAKER, rid: '9' }, C)!, C);
    expect(d.trade.order.status).toBe('canceled');
    expect(sends(d.effects).map(([k]) => k)).toEqual([MAKER, key(1), key(2)]);
    expect(sends(d.effects)[0]![1]).toContain('"request_id":9');
    expect(released(d.effects)).toEqual(['h1', 'h2']);
    expect(bondsOf(d.trade).every((b) => b.state === 'released')).toBe(true);
  });

  it('a bonded taker with others waiting releases only its own bond; nobody else hears of it', () => {
    const t = requested(sellOrder(), 1, 2);
    const d = cancelUnderBonds(t, { sender: key(1), rid: '5' }, C)!;
    expect(d.trade.order.status).toBe('waiting-taker-bond');
    expect(released(d.effects)).toEqual(['h1']);
    expect(sends(d.effects).map(([k]) => k)).toEqual([key(1)]);
    expect(bondsOf(d.trade).map((b) => b.state)).toEqual(['released', 'requested']);
  });

  it('the last bonded taker puts the order back to pending and the maker is told new-order', () => {
    const t = requested(sellOrder(), 1);
    const d = cancelUnderBonds(t, { sender: key(1), rid: '5' }, C)!;
    expect(d.trade.order.status).toBe('pending');
    expect(kinds(d.effects)).toEqual(['cancel-hold', 'send', 'publish', 'send']);
    expect(sends(d.effects).map(([k, json]) => [k, JSON.parse(json!).order.action])).toEqual([
      [key(1), 'canceled'],
      [MAKER, 'new-order'],
    ]);
    // As the reference's `SmallOrder::from(order)`: the maker's own trade key, no taker's.
    const order = JSON.parse(sends(d.effects)[1]![1]!).order.payload.order;
    expect(order.seller_trade_pubkey).toBe(MAKER);
    expect(order.buyer_trade_pubkey).toBeUndefined();
  });

  it('a third party is refused; without bonds the ordinary cancel applies', () => {
    const t = requested(sellOrder(), 1);
    const d = cancelUnderBonds(t, { sender: key(8), rid: '5' }, C)!;
    expect(sends(d.effects)[0]![1]).toContain('"cant_do":"is_not_your_order"');
    expect(cancelUnderBonds(sellOrder(), { sender: MAKER, rid: null }, C)).toBeNull();
  });
});

describe('release on every exit (§13)', () => {
  const locked = () => takerBondLocked(requested(sellOrder(), 1), 'h1', C).trade;
  const at = (t: Trade, status: OrderState['status']): Decision => ({ trade: { ...t, order: { ...t.order, status } }, effects: [] });

  it('final statuses, the settled escrow and a return to pending release what is held', () => {
    for (const status of ['success', 'canceled', 'cooperatively-canceled', 'canceled-by-admin', 'expired', 'settled-hold-invoice', 'pending'] as const) {
      const d = releaseOnExit(at(locked(), status), C);
      expect(released(d.effects), status).toEqual(['h1']);
      expect(bondsOf(d.trade)[0]!.state).toBe('released');
    }
  });

  it('a trade in progress keeps its bond; a second pass releases nothing twice', () => {
    for (const status of ['waiting-buyer-invoice', 'waiting-payment', 'active', 'fiat-sent', 'dispute'] as const) {
      expect(releaseOnExit(at(locked(), status), C).effects, status).toEqual([]);
    }
    const once = releaseOnExit(at(locked(), 'success'), C);
    expect(releaseOnExit(once, C).effects).toEqual(once.effects);
  });

  it('a pending order that expires releases the requested bonds', () => {
    const t = requested(sellOrder(), 1, 2);
    const d = releaseOnExit(timeout(t, { ...C, now: t.order.expiresAt }), C);
    expect(d.trade.order.status).toBe('expired');
    expect(released(d.effects)).toEqual(['h1', 'h2']);
  });
});

describe('dispute slashes (§14.1)', () => {
  // A sell order taken by key(1) (the buyer), whose bond is locked; the trade is in dispute.
  const disputed = () => {
    const t = takerBondLocked(requested(sellOrder(), 1), 'h1', C).trade;
    return { ...t, order: { ...t.order, status: 'dispute' as const } };
  };

  it('no resolution, or one with no flag, slashes nothing', () => {
    expect(disputeSlashTargets(disputed(), null)).toEqual({ ok: true, targets: [] });
    expect(disputeSlashTargets(disputed(), { slash_seller: false, slash_buyer: false })).toEqual({ ok: true, targets: [] });
  });

  it('slash_buyer names the taker-buyer bond, the seller is paid', () => {
    const v = disputeSlashTargets(disputed(), { slash_seller: false, slash_buyer: true });
    if (!v.ok) throw new Error(v.reason);
    expect(v.targets.map((x) => [x.bond.taker, x.recipient, x.reason])).toEqual([[key(1), MAKER, 'lost-dispute']]);
  });

  it('a flag for a side without a locked bond is invalid_payload (the maker of a take-only policy posted none)', () => {
    expect(disputeSlashTargets(disputed(), { slash_seller: true, slash_buyer: false })).toEqual({ ok: false, reason: 'invalid_payload' });
    expect(disputeSlashTargets(disputed(), { slash_seller: true, slash_buyer: true })).toEqual({ ok: false, reason: 'invalid_payload' });
    expect(disputeSlashTargets(sellOrder(), { slash_seller: false, slash_buyer: true })).toEqual({ ok: false, reason: 'invalid_payload' });
  });

  it('a slash freezes the split, records the recipient, tells the owner and starts the payout', () => {
    const t = disputed();
    const v = disputeSlashTargets(t, { slash_seller: false, slash_buyer: true });
    if (!v.ok) throw new Error(v.reason);
    const s = slash(t, v.targets, C);
    const b = bondsOf(s.trade)[0]!;
    expect(b).toMatchObject({ state: 'slashed', slash: { reason: 'lost-dispute', at: NOW, nodeShareSats: 500, recipient: MAKER } });
    expect(projectedBondState(b)).toBe('pending-payout');
    expect(sends(s.effects)).toEqual([
      [
        key(1),
        `{"order":{"version":2,"request_id":null,"trade_index":null,"id":"${ID}","action":"bond-slashed","payload":{"order":{"id":"${ID}","kind":"sell","status":null,"amount":1000,"fiat_code":"VES","min_amount":null,"max_amount":null,"fiat_amount":100,"payment_method":"face to face","premium":1,"created_at":null,"expires_at":null}}}}`,
      ],
    ]);
    const start = s.effects.find((e) => e.type === 'start-bond-payout');
    expect(start).toMatchObject({ payout: { bondId: 'bond-1', orderId: ID, recipient: MAKER, amountSats: 1000, nodeShareSats: 500, slashedAt: NOW, status: 'pending-payout', rev: b.rev } });
    // Slashed bonds are no longer held: the exit that follows releases nothing.
    expect(released(releaseOnExit({ trade: { ...s.trade, order: { ...s.trade.order, status: 'canceled-by-admin' } }, effects: [] }, C).effects)).toEqual([]);
  });

  it('with the node keeping everything (pct 1.0) nobody is asked for an invoice', () => {
    const t = disputed();
    const v = disputeSlashTargets(t, { slash_seller: false, slash_buyer: true });
    if (!v.ok) throw new Error(v.reason);
    const s = slash(t, v.targets, { ...C, settings: { ...SETTINGS, bond: { ...BOND, slashNodeSharePct: 1 } } });
    expect(kinds(s.effects)).toEqual(['send']);
    expect(projectedBondState(bondsOf(s.trade)[0]!)).toBe('slashed');
  });
});

describe('timeout slashes (§14.2)', () => {
  const sellTaken = (status: 'waiting-buyer-invoice' | 'waiting-payment', bond: Partial<BondSettings> = {}) => {
    const t = takerBondLocked(requested(sellOrder(), 1), 'h1', C).trade;
    return { t: { ...t, order: { ...t.order, status } }, s: { ...SETTINGS, bond: { ...BOND, ...bond } } };
  };
  const buyTaken = (status: 'waiting-buyer-invoice' | 'waiting-payment', bond: Partial<BondSettings> = {}) => {
    const buy = newTrade(orderState({ kind: 'buy', amount: 100_000, fee: 300, priceFromApi: false, buyerPubkey: MAKER, sellerPubkey: null, masterSellerPubkey: null }));
    const t = takerBondLocked(requested(buy, 1), 'h1', C).trade;
    return { t: { ...t, order: { ...t.order, status } }, s: { ...SETTINGS, bond: { ...BOND, ...bond } } };
  };

  it('a silent taker-buyer of a sell order is slashed; the seller (maker) is paid', () => {
    const { t, s } = sellTaken('waiting-buyer-invoice');
    expect(timeoutSlashTarget(t, s)).toMatchObject({ bond: { taker: key(1) }, recipient: MAKER, reason: 'timeout' });
  });

  it('a silent taker-seller of a buy order is slashed; the buyer (maker) is paid', () => {
    const { t, s } = buyTaken('waiting-payment');
    expect(timeoutSlashTarget(t, s)).toMatchObject({ bond: { taker: key(1) }, recipient: MAKER });
  });

  it('a maker at fault, a disarmed gate or a make-only policy slashes nothing', () => {
    expect(timeoutSlashTarget(sellTaken('waiting-payment').t, SETTINGS)).toBeNull();
    expect(timeoutSlashTarget(buyTaken('waiting-buyer-invoice').t, SETTINGS)).toBeNull();
    const off = sellTaken('waiting-buyer-invoice', { slashOnWaitingTimeout: false });
    expect(timeoutSlashTarget(off.t, off.s)).toBeNull();
    const make = sellTaken('waiting-buyer-invoice', { applyTo: 'make' });
    expect(timeoutSlashTarget(make.t, make.s)).toBeNull();
    const none = { ...sellOrder(), order: { ...sellOrder().order, status: 'waiting-buyer-invoice' as const } };
    expect(timeoutSlashTarget(none, SETTINGS)).toBeNull();
  });
});

describe('the bond CLTV guard (§20 item 9)', () => {
  it('a locked bond is released before LND would cancel it', () => {
    const t = takerBondLocked(requested(sellOrder(), 1), 'h1', C).trade;
    const at = bondGuardAt(t, SETTINGS)!;
    expect(at).toBe(NOW + escrowGuardSecs(SETTINGS));
    expect(bondGuard(t, { ...C, now: at - 1 }).effects).toEqual([]);
    const g = bondGuard(t, { ...C, now: at });
    expect(released(g.effects)).toEqual(['h1']);
    expect(g.released.map((b) => b.id)).toEqual(['bond-1']);
    expect(bondGuardAt(g.trade, SETTINGS)).toBeNull();
    expect(bondGuardAt(requested(sellOrder(), 1), SETTINGS)).toBeNull();
  });
});

describe('maker bonds (§12)', () => {
  const MAKE: OrderSettings = { ...SETTINGS, bond: { ...BOND, applyTo: 'both' } };
  const CM: Clock = { now: NOW, settings: MAKE };
  const makerInv = { id: 'mbond', hash: 'hm', request: 'lnbcrt-maker-bond', amountSats: 1000 };
  /** A sell order created under a maker-bond policy (maker = seller 'ccc…'), waiting for its bond. */
  const waiting = (o: Partial<OrderState> = {}) =>
    makerBondRequested({ trade: sellOrder(o), effects: [{ type: 'publish' }] }, makerInv, { identity: 'f'.repeat(64), tradeIndex: 1, rid: '42', notionalSats: 100_000 });
  const lockedMaker = (o: Partial<OrderState> = {}) => makerBondLocked(waiting(o).trade, 'hm', CM).trade;

  it('the order waits unpublished for the maker bond; once locked it is published and the maker gets new-order', () => {
    const w = waiting();
    expect(w.trade.order.status).toBe('waiting-maker-bond');
    expect(kinds(w.effects)).toEqual(['send']);
    expect(sends(w.effects)[0]![1]).toContain('"request_id":42,"trade_index":1');
    expect(sends(w.effects)[0]![1]).toContain('"action":"pay-bond-invoice"');
    const d = makerBondLocked(w.trade, 'hm', CM);
    expect(d.trade.order.status).toBe('pending');
    expect(d.trade.makerBond).toMatchObject({ state: 'locked', lockedAt: NOW });
    expect(kinds(d.effects)).toEqual(['publish', 'send']);
    expect(sends(d.effects)[0]![1]).toContain('"request_id":42,"trade_index":1');
    expect(sends(d.effects)[0]![1]).toContain('"action":"new-order"');
    expect(makerBondLocked(d.trade, 'hm', CM).effects).toEqual([]);
  });

  it('an abandoned maker bond leaves no phantom order: it expires without an event; the maker may cancel before locking', () => {
    const w = waiting().trade;
    const expired = releaseOnExit(timeout(w, { ...CM, now: w.order.expiresAt }), CM);
    expect(expired.trade.order.status).toBe('expired');
    expect(kinds(expired.effects)).toEqual(['cancel-hold']);
    const canceled = releaseOnExit(cancelUnderBonds(w, { sender: MAKER, rid: '1' }, CM)!, CM);
    expect(canceled.trade.order.status).toBe('canceled');
    expect(kinds(canceled.effects)).toEqual(['send', 'cancel-hold']);
    expect(sends(cancelUnderBonds(w, { sender: key(5), rid: '1' }, CM)!.effects)[0]![1]).toContain('is_not_your_order');
    // A lock arriving after that is let go.
    expect(released(makerBondLocked({ ...w, order: { ...w.order, status: 'canceled' } }, 'hm', CM).effects)).toEqual(['hm']);
  });

  it('a taker leaving keeps the maker bond; the end of the trade releases it', () => {
    const t = lockedMaker();
    const back = releaseOnExit({ trade: { ...t, order: { ...t.order, status: 'pending' } }, effects: [] }, CM);
    expect(back.effects).toEqual([]);
    expect(back.trade.makerBond?.state).toBe('locked');
    const done = releaseOnExit({ trade: { ...t, order: { ...t.order, status: 'success' } }, effects: [] }, CM);
    expect(released(done.effects)).toEqual(['hm']);
    // A locked maker bond does not commit the order to a taker.
    expect(takeUnderBonds(t, key(1)).type).toBe('new');
  });

  it('slash_seller on a sell order slashes the maker; the taker-buyer is paid', () => {
    const t0 = takerBondLocked(takerBondRequested(lockedMaker(), snap(1), inv(1), CM).trade, 'h1', CM).trade;
    const t = { ...t0, order: { ...t0.order, status: 'dispute' as const } };
    const v = disputeSlashTargets(t, { slash_seller: true, slash_buyer: false });
    if (!v.ok) throw new Error(v.reason);
    expect(v.targets.map((x) => [x.role, x.bond.id, x.recipient])).toEqual([['maker', 'mbond', key(1)]]);
    const s = slash(t, v.targets, CM);
    expect(s.trade.makerBond).toMatchObject({ state: 'slashed', slash: { recipient: key(1), nodeShareSats: 500 } });
    expect(s.effects.find((e) => e.type === 'start-bond-payout')).toMatchObject({ payout: { bondId: 'mbond', recipient: key(1) } });
    // The taker's bond is released by the exit that follows.
    expect(released(releaseOnExit({ trade: { ...s.trade, order: { ...s.trade.order, status: 'canceled-by-admin' } }, effects: [] }, CM).effects)).toEqual(['h1']);
  });

  it('a seller-maker that never pays the escrow is slashed on timeout when the maker role is covered', () => {
    const t0 = takerBondLocked(takerBondRequested(lockedMaker(), snap(1), inv(1), CM).trade, 'h1', CM).trade;
    const t = { ...t0, order: { ...t0.order, status: 'waiting-payment' as const } };
    expect(timeoutSlashTarget(t, MAKE)).toMatchObject({ role: 'maker', recipient: key(1) });
    expect(timeoutSlashTarget(t, { ...MAKE, bond: { ...BOND, applyTo: 'take' } })).toBeNull();
  });

  describe('range orders (§12.2)', () => {
    // A range sell order 10–100 USD whose maker locked a 1,000-sat bond; a slice of 40 USD was taken.
    const rangeSlice = () => {
      const t = lockedMaker({ minAmount: 10, maxAmount: 100, fiatAmount: 0 });
      const taken = takerBondLocked(takerBondRequested(t, snap(1, { fiatAmount: 40 }), inv(1), CM).trade, 'h1', CM).trade;
      return { ...taken, order: { ...taken.order, status: 'dispute' as const } };
    };

    it('a slice slash is proportional in fiat, notified, recorded once, and the bond stays locked', () => {
      const t = rangeSlice();
      const v = disputeSlashTargets(t, { slash_seller: true, slash_buyer: false });
      if (!v.ok) throw new Error(v.reason);
      expect(v.targets.every((x) => !settlesNow(x))).toBe(true);
      const s = slash(t, v.targets, CM);
      expect(s.trade.makerBond).toMatchObject({ state: 'locked', slices: [{ amountSats: 400, nodeShareSats: 200, recipient: key(1), orderId: ID }] });
      expect(kinds(s.effects)).toEqual(['send']);
      expect(sends(s.effects)[0]![1]).toContain('"action":"bond-slashed"');
      expect(sends(s.effects)[0]![1]).toContain('"amount":400');
      expect(slash(s.trade, v.targets, CM).effects).toEqual([]);
    });

    it('the remainder order takes the bond along; the close settles once, pays each slice and refunds the rest', () => {
      const t = rangeSlice();
      const v = disputeSlashTargets(t, { slash_seller: true, slash_buyer: false });
      if (!v.ok) throw new Error(v.reason);
      const s = slash(t, v.targets, CM).trade;
      const child = { ...s.order, id: 'child-order' };
      const handed = releaseOnExit({ trade: { ...s, order: { ...s.order, status: 'settled-hold-invoice' } }, effects: [{ type: 'start-child', child, announce: { to: key(7), rid: null, tradeIndex: 2 } }] }, CM);
      expect(handed.trade.makerBond).toBeUndefined();
      const start = handed.effects.find((e) => e.type === 'start-child');
      expect(start).toMatchObject({ makerBond: { id: 'mbond', state: 'locked' } });

      const later = { ...CM, now: NOW + 600 };
      const closed = releaseOnExit({ trade: { ...s, order: { ...s.order, status: 'canceled-by-admin' } }, effects: [] }, later);
      expect(kinds(closed.effects).filter((k) => k !== 'cancel-hold')).toEqual(['settle-bond', 'start-bond-payout', 'start-bond-payout']);
      const payouts = closed.effects.flatMap((e) => (e.type === 'start-bond-payout' ? [e.payout] : []));
      expect(payouts.map((p) => [p.bondId, p.recipient, p.amountSats, p.nodeShareSats, p.slashedAt])).toEqual([
        [`mbond:${ID}`, key(1), 400, 200, NOW + 600],
        ['mbond:refund', MAKER, 600, 0, NOW + 600],
      ]);
      expect(closed.trade.makerBond?.state).toBe('slashed');
      const rows = bondRows(closed.trade).filter((r) => r.parentBondId === 'mbond');
      expect(rows.map((r) => [r.id, r.childOrderId, r.state, r.payoutRecipient])).toEqual([
        [`mbond:${ID}`, ID, 'pending-payout', key(1)],
        ['mbond:refund', null, 'pending-payout', MAKER],
      ]);
      // Closing a range with no slashed slice releases the bond.
      const clean = lockedMaker({ minAmount: 10, maxAmount: 100, fiatAmount: 0 });
      expect(kinds(releaseOnExit({ trade: { ...clean, order: { ...clean.order, status: 'success' } }, effects: [] }, CM).effects)).toEqual(['cancel-hold']);
    });
  });
});

describe('a range maker bond with several slices slashed (§8.3, §12.2)', () => {
  it('clamps the slices to the bond, settles once at the close, and the shares and refund add up to the bond', () => {
    const MAKE: OrderSettings = { ...SETTINGS, bond: { ...BOND, applyTo: 'make' } };
    const CM: Clock = { now: NOW, settings: MAKE };
    const created = newTrade(orderState({ amount: 0, fee: 0, minAmount: 10, maxAmount: 100, fiatAmount: 0 }));
    const w = makerBondRequested({ trade: created, effects: [] }, { id: 'rb', hash: 'hr', request: 'lnbcrt-range', amountSats: 1000 }, { identity: 'f'.repeat(64), tradeIndex: 1, rid: null, notionalSats: 100_000 });
    let t: Trade = makerBondLocked(w.trade, 'hr', CM).trade;
    // Three slices lost by the maker: 40, 40 and 40 USD of a 100 USD range — the third is clamped to what is left.
    const slices = [
      ['slice-1', key(1)],
      ['slice-2', key(2)],
      ['slice-3', key(3)],
    ] as const;
    const notices: number[] = [];
    for (const [orderId, taker] of slices) {
      t = { ...t, order: { ...t.order, id: orderId, fiatAmount: 40, status: 'dispute', buyerPubkey: taker } };
      const v = disputeSlashTargets(t, { slash_seller: true, slash_buyer: false });
      if (!v.ok) throw new Error(v.reason);
      const s = slash(t, v.targets, CM);
      t = s.trade;
      for (const [, json] of sends(s.effects)) notices.push(JSON.parse(json!).order.payload.order.amount);
    }
    expect(notices).toEqual([400, 400, 200]);
    expect(t.makerBond?.state).toBe('locked');
    const closed = releaseOnExit({ trade: { ...t, order: { ...t.order, status: 'canceled-by-admin' } }, effects: [] }, CM);
    expect(kinds(closed.effects).filter((k) => k === 'settle-bond')).toHaveLength(1);
    const payouts = closed.effects.flatMap((e) => (e.type === 'start-bond-payout' ? [e.payout] : []));
    // Fully slashed: no refund; each slice's counterparty gets its share, the node keeps the rest.
    expect(payouts.map((p) => [p.recipient, p.amountSats, p.nodeShareSats])).toEqual([
      [key(1), 400, 200],
      [key(2), 400, 200],
      [key(3), 200, 100],
    ]);
    expect(payouts.reduce((n, p) => n + p.amountSats, 0)).toBe(1000);
  });
});
