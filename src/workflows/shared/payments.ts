/**
 * How the workflows pay — the buyer's payout and the dev fee (order workflow), a slashed bond's share (bond payout
 * workflow) —, in one place: the payment activity's Temporal options and how often a payment LND still has in flight
 * is rechecked. An attempt is one `payInvoice` under a purpose recorded before dispatch, so Temporal retrying the
 * activity never pays twice; how many attempts a debt gets is the debt's own rule (`payment_attempts` and
 * `payment_retries_interval` for the buyer, `payout_max_retries` for a bond share).
 */
import type { ActivityOptions, Duration } from '@temporalio/common';

/** One attempt may wait minutes for LND to resolve a route; the activity is retried at most a minute apart. */
export const paymentActivityOptions = (heartbeatTimeout: Duration): ActivityOptions => ({
  startToCloseTimeout: '3 minutes',
  heartbeatTimeout,
  retry: { maximumInterval: '1 minute' },
});

/** How long to wait before asking LND again about a payout still in flight, at first. */
export const IN_FLIGHT_RECHECK_SECS = 30;

/** The longest wait between two rechecks of a payment in flight. */
export const MAX_IN_FLIGHT_RECHECK_SECS = 3600;

/**
 * When to ask LND again about a payment that has been in flight for `inFlightForSecs`: soon at first, then about
 * half as long again as it has taken so far, up to an hour. A payment can stay in flight until its HTLCs time out —
 * days, if the payee holds them — and a fixed 30-second recheck would fill the workflow's history with thousands of
 * steps (Temporal terminates a workflow at 50k events); the workflow's payment tracker (trackPayment) wakes the trade
 * as soon as LND knows the outcome, so the rechecks are only a safety net.
 */
export function inFlightRecheckSecs(inFlightForSecs: number, firstSecs: number): number {
  return Math.min(MAX_IN_FLIGHT_RECHECK_SECS, Math.max(firstSecs, Math.floor(inFlightForSecs / 2)));
}
