/** Taker bonds of one order (bonds.md §10–11): coexisting requests, idempotent re-take, first lock wins, scoped cancel. */
import { describe, expect, it } from 'vitest';
import { bondAccepted, bondCanceled, bondRequested, takeWithBonds, takerCanceled } from '../../src/workflows/bond/taker-bonds.js';
import { type TakeSnapshot, type TakerBond } from '../../src/domain/bond.js';

const snap = (n: number): TakeSnapshot => ({ taker: `t${n}`, identity: `i${n}`, tradeIndex: n, fiatAmount: 10 * n, amount: 1000 * n, fee: n, devFee: 0, buyerInvoice: null, rid: null });
const inv = (n: number) => ({ id: `b${n}`, hash: `h${n}`, request: `lnbc-bond-${n}`, amountSats: 1000 });
const three = (): TakerBond[] => [1, 2, 3].reduce<TakerBond[]>((bs, n) => bondRequested(bs, snap(n), inv(n)), []);

describe('taker bonds', () => {
  it('several takers hold requested bonds, each with its own quote; a re-take resends the same invoice', () => {
    const bonds = three();
    expect(bonds.map((b) => [b.taker, b.state, b.amount])).toEqual([['t1', 'requested', 1000], ['t2', 'requested', 2000], ['t3', 'requested', 3000]]);
    expect(takeWithBonds(bonds, 't2')).toEqual({ type: 'resend', bond: bonds[1] });
    expect(takeWithBonds(bonds, 't9')).toEqual({ type: 'new' });
  });

  it('the first bond LND reports locked wins; every other requested bond is released, its taker to be told', () => {
    const r = bondAccepted(three(), 'h2');
    if (r.type !== 'won') throw new Error(r.type);
    expect(r.winner).toMatchObject({ taker: 't2', state: 'locked', amount: 2000, fiatAmount: 20 });
    expect(r.losers.map((b) => b.taker)).toEqual(['t1', 't3']);
    expect(r.bonds.map((b) => b.state)).toEqual(['released', 'locked', 'released']);
    // Once committed, a new take is refused and a late lock loses.
    expect(takeWithBonds(r.bonds, 't9')).toEqual({ type: 'committed' });
    expect(bondAccepted(r.bonds, 'h2').type).toBe('duplicate');
    expect(bondAccepted(r.bonds, 'h1').type).toBe('unknown'); // already released: its taker was told
    expect(bondAccepted(r.bonds, 'nope').type).toBe('unknown');
  });

  it('a lock arriving after another won is released', () => {
    let bonds = three();
    const won = bondAccepted(bonds, 'h1');
    if (won.type !== 'won') throw new Error(won.type);
    // h3 was released by the win, but say h4 was requested meanwhile by a client racing the win.
    bonds = [...won.bonds, { ...snap(4), ...inv(4), state: 'requested', lockedAt: null, rev: 1 }];
    const late = bondAccepted(bonds, 'h4');
    expect(late).toMatchObject({ type: 'lost', loser: { taker: 't4' } });
  });

  it('a taker cancel releases only its own bond; the order keeps waiting while others remain', () => {
    const r1 = takerCanceled(three(), 't1');
    if (r1.type !== 'released') throw new Error(r1.type);
    expect(r1.remaining).toBe(2);
    expect(r1.bonds.map((b) => b.state)).toEqual(['released', 'requested', 'requested']);
    expect(takerCanceled(r1.bonds, 't1').type).toBe('not-bonded');
    const r2 = bondCanceled(r1.bonds, 'h2');
    expect(r2.remaining).toBe(1);
    const r3 = takerCanceled(r2.bonds, 't3');
    expect(r3).toMatchObject({ type: 'released', remaining: 0 });
  });
});
