/**
 * The taker bonds of one order (bonds.md §10–11), as the order workflow will hold them: any number of takers may
 * have a requested bond, each with its own pricing snapshot; the first whose bond LND reports ACCEPTED wins the
 * order, every other requested bond is released and its taker told `canceled`. The workflow handles one input at a
 * time, so "first" is simply the first report it handles — the single-writer queue is the race guard the reference
 * needs a compare-and-set for. Pure; the order workflow's bond decisions (order/bonds.ts) build on it.
 */
import type { TakeSnapshot, TakerBond, TakerBondState } from '../../domain/bond.js';

/** A bond whose HTLC may still be held: it must be released (or slashed) before the order lets it go. */
export const isActiveBond = (b: TakerBond): boolean => b.state === 'requested' || b.state === 'locked';
const active = (b: TakerBond) => b.state === 'requested' || b.state === 'locked';

/** A take while bonds exist: refused once a taker is committed, the same bond again for a taker that has one. */
export function takeWithBonds(bonds: readonly TakerBond[], taker: string): { type: 'committed' } | { type: 'resend'; bond: TakerBond } | { type: 'new' } {
  if (bonds.some((b) => b.state === 'locked')) return { type: 'committed' };
  const mine = bonds.find((b) => b.taker === taker && active(b));
  return mine ? { type: 'resend', bond: mine } : { type: 'new' };
}

/** Records a newly requested bond (after its hold invoice exists). */
export function bondRequested(bonds: readonly TakerBond[], snapshot: TakeSnapshot, invoice: { id: string; hash: string; request: string; amountSats: number }): TakerBond[] {
  return [...bonds, { ...snapshot, ...invoice, state: 'requested', lockedAt: null, rev: 1 }];
}

/** The bond with its new state and the next revision number. */
export const withState = (b: TakerBond, state: TakerBondState, fields: Partial<TakerBond> = {}): TakerBond => ({ ...b, ...fields, state, rev: b.rev + 1 });

export type BondAccepted =
  /** Not one of this order's bonds (a previous take's, or unknown): nothing to do. */
  | { type: 'unknown'; bonds: readonly TakerBond[] }
  /** Already locked (a redelivered report): nothing new. */
  | { type: 'duplicate'; bonds: readonly TakerBond[] }
  /** Another bond locked first: release this one and tell its taker `canceled`. */
  | { type: 'lost'; bonds: TakerBond[]; loser: TakerBond }
  /** This bond won: its snapshot becomes the order's taker; release the others and tell their takers `canceled`. */
  | { type: 'won'; bonds: TakerBond[]; winner: TakerBond; losers: TakerBond[] };

/** LND reported a bond ACCEPTED at `now`. */
export function bondAccepted(bonds: readonly TakerBond[], hash: string, now = 0): BondAccepted {
  const bond = bonds.find((b) => b.hash === hash);
  if (!bond || !active(bond)) return { type: 'unknown', bonds };
  if (bond.state === 'locked') return { type: 'duplicate', bonds };
  if (bonds.some((b) => b.state === 'locked')) {
    return { type: 'lost', bonds: bonds.map((b) => (b === bond ? withState(b, 'released') : b)), loser: bond };
  }
  const losers = bonds.filter((b) => b !== bond && b.state === 'requested');
  const winner = withState(bond, 'locked', { lockedAt: now });
  const next = bonds.map((b) => (b === bond ? winner : losers.includes(b) ? withState(b, 'released') : b));
  return { type: 'won', bonds: next, winner, losers };
}

/** LND canceled a bond (never paid, expired, or released by the daemon): how many taker bonds remain active. */
export function bondCanceled(bonds: readonly TakerBond[], hash: string): { bonds: TakerBond[]; remaining: number; released: TakerBond | null } {
  const bond = bonds.find((b) => b.hash === hash && active(b)) ?? null;
  const next = bonds.map((b) => (b === bond ? withState(b, 'released') : b));
  return { bonds: next, remaining: next.filter(active).length, released: bond };
}

/**
 * A taker cancels before the trade started (§11): only its own bond is released. With other bonds still active the
 * order keeps waiting for them and only this taker is told; with none left, the order goes back to `pending`.
 */
export function takerCanceled(bonds: readonly TakerBond[], taker: string): { type: 'not-bonded' } | { type: 'released'; bonds: TakerBond[]; bond: TakerBond; remaining: number } {
  const bond = bonds.find((b) => b.taker === taker && active(b));
  if (!bond) return { type: 'not-bonded' };
  const next = bonds.map((b) => (b === bond ? withState(b, 'released') : b));
  return { type: 'released', bonds: next, bond, remaining: next.filter(active).length };
}
