/**
 * Support staff's repair requests (the `support` signal, sent with `mostro admin signal`), for after the cause of a
 * stuck step was fixed outside the trade (channel liquidity, a relay outage):
 * - `retry-payout`: pay the buyer's current invoice now instead of at the next retry (also after every attempt
 *   failed and the buyer was asked for a new invoice). The payment's idempotency key is unchanged, so a payout that
 *   did land is never sent twice.
 * - `retry-dev-fee`: try the dev fee again now, with a fresh attempt budget.
 * - `republish`: publish the order's NIP-69 event again.
 * - `cancel-with-refund`: end a trade whose escrow is locked (`active`, `fiat-sent`, `dispute`) by canceling the
 *   hold invoice — the seller keeps the sats —, as a solver's admin-cancel would (`canceled-by-admin`, an open
 *   dispute `seller-refunded`, `admin-canceled` to both parties).
 * - `resend-add-invoice`: ask the buyer again for a new payout invoice after every attempt failed (sent by the
 *   ingress when the buyer restores its session, so a reinstalled client can still get paid).
 * A request that does not apply to the trade's state changes nothing.
 */
export type SupportAction = 'retry-payout' | 'retry-dev-fee' | 'republish' | 'cancel-with-refund' | 'resend-add-invoice';

export interface SupportRequest {
  action: SupportAction;
  /** Who asked, and why: kept in the workflow's history next to the signal. */
  operator: string;
  reason: string;
}
