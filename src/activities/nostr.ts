/**
 * Nostr egress as Temporal activities. A reply is built once (`buildReply`: its signed event, with random v1
 * timestamps and ephemeral keys, lands in the workflow history) and then published (`publishEvent`, retried by
 * Temporal until a relay accepts it), so a retried activity re-sends the same event — relays deduplicate by id — and
 * a client never sees a reply twice. Messages travel as canonical JSON: a 64-bit `request_id` survives Temporal's
 * JSON payloads that way.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { parseMessage, type NostrEvent } from '../protocol/index.js';
import type { NostrEgress } from '../nostr/egress.js';
import {
  disputeEvent,
  infoEvent,
  orderEvent,
  ratingEvent,
  type DisputeEventInput,
  type InfoEventInput,
  type OrderEventContext,
  type OrderEventInput,
  type RatingEventInput,
} from '../nostr/events.js';

export function createNostrActivities(egress: NostrEgress) {
  const parse = (json: string) => {
    const r = parseMessage(json);
    if (!r.ok) throw ApplicationFailure.nonRetryable(`invalid message: ${r.error}`, 'InvalidMessage');
    return r.value;
  };
  return {
    /** Wraps a message for `to` on the configured transport. */
    async buildReply(input: { to: string; messageJson: string }): Promise<NostrEvent> {
      return egress.buildReply(input.to, parse(input.messageJson));
    },

    /** Publishes an event to every relay; done when at least one accepted it. */
    async publishEvent(input: { event: NostrEvent; to?: string }): Promise<{ accepted: string[] }> {
      const r = input.to ? await egress.publishTo(input.to, input.event) : await egress.publish(input.event);
      return { accepted: r.accepted };
    },

    /** Signs the NIP-69 event of an order revision; null when this status is not published. */
    async buildOrderEvent(input: { order: OrderEventInput; ctx: OrderEventContext }): Promise<NostrEvent | null> {
      const t = orderEvent(input.order, input.ctx);
      return t ? egress.sign(t) : null;
    },

    async buildInfoEvent(input: InfoEventInput): Promise<NostrEvent> {
      return egress.sign(infoEvent(input));
    },

    async buildDisputeEvent(input: DisputeEventInput): Promise<NostrEvent> {
      return egress.sign(disputeEvent(input));
    },

    async buildRatingEvent(input: RatingEventInput): Promise<NostrEvent> {
      return egress.sign(ratingEvent(input));
    },
  };
}

export type NostrActivities = ReturnType<typeof createNostrActivities>;
