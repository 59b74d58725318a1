/**
 * What the ingress remembers across restarts (the durable ingress cursor): how far it has processed its relays'
 * events, and which events it has taken in. A restart subscribes from the cursor (minus a safety margin), so events
 * the relays accepted while the daemon was down or busy are processed; the event rows make sure that each of them,
 * re-delivered by that catch-up, is handled once.
 */

/** Clients' clocks, relays' delivery delays and the cursor's save interval: a catch-up starts this long before it. */
export const CATCH_UP_MARGIN_SECS = 60;

/** NIP-59 gift wraps (v1) carry a `created_at` randomized up to two days into the past. */
export const GIFT_WRAP_SKEW_SECS = 2 * 86_400;

/** Event rows are kept this much longer than the catch-up window behind the cursor strictly needs. */
export const JOURNAL_RETENTION_SLACK_SECS = 3600;
