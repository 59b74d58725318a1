/**
 * The bond policy an order runs under (`[anti_abuse_bond]`, bonds.md §4), as the order workflow receives it with its
 * settings. Orders started before bonds existed have none: for them bonds are off.
 */
import type { BondAmountSettings } from './bond-math.js';
import type { PayoutSettings } from './bond.js';
export type BondApplyTo = 'take' | 'make' | 'both';

export interface BondSettings extends BondAmountSettings {
  enabled: boolean;
  applyTo: BondApplyTo;
  /** Slash the responsible party's bond when a waiting-state timeout really elapses. */
  slashOnWaitingTimeout: boolean;
  /** Fraction of a slashed bond the node keeps, frozen at slash time. */
  slashNodeSharePct: number;
  payout: PayoutSettings;
}

const coversTaker = (a: BondApplyTo) => a === 'take' || a === 'both';
const coversMaker = (a: BondApplyTo) => a === 'make' || a === 'both';

export const takerBondRequired = (b: BondSettings | null | undefined): boolean => !!b?.enabled && coversTaker(b.applyTo);
export const makerBondRequired = (b: BondSettings | null | undefined): boolean => !!b?.enabled && coversMaker(b.applyTo);

/** The timeout-slash gate for the responsible party's posting role (§14.2 step 4.3). */
export function timeoutSlashArmed(b: BondSettings | null | undefined, responsible: 'maker' | 'taker'): boolean {
  if (!b?.enabled || !b.slashOnWaitingTimeout) return false;
  return responsible === 'maker' ? coversMaker(b.applyTo) : coversTaker(b.applyTo);
}
