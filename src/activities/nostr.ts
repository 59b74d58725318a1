/**
 * Nostr egress as Temporal activities. A reply is built once (`buildReply`: its signed event, with random v1
 * timestamps and ephemeral keys, lands in the workflow history) and then published (`publishEvent`, retried by
 * Temporal until a relay accepts it), so a retried activity re-sends the same event — relays deduplicate by id — and
 * a client never sees a reply twice. Messages travel as canonical JSON: a 64-bit `request_id` survives Temporal's
 * JSON payloads that way.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { parseMessage, serializeMessage, type NostrEvent } from '@mostro/protocol';
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
  type Reputation,
} from '../nostr/events.js';
import { metrics } from '../metrics.js';

/** What an order event needs besides the order: the daemon's relays, key, network and the maker's reputation. */
export interface OrderEventSource {
  context(): Omit<OrderEventContext, 'now' | 'reputation' | 'createdAt'>;
  /** The maker identity's reputation; zeros for an unknown or full-privacy maker. */
  reputation(identity: string | null): Promise<Reputation>;
  /** `[expiration] dispute_days` for dispute events (default 90). */
  disputeDays?: number;
  /** `[expiration] rating_days` for rating events (default 90). */
  ratingDays?: number;
}

export interface OutgoingReply {
  to: string;
  messageJson: string;
  /** A solver's dispute info: the escrow preimage to put in, by its key (derived here, never in workflow history). */
  escrowPreimageKey?: string;
}

/** Derives a hold invoice's preimage (hex) from its key; absent on a worker without the daemon's preimage secret. */
export type PreimageSource = (key: string) => string;

/** The message with the escrow preimage put into its `SolverDisputeInfo` (`payload.dispute[1].preimage`). */
function withEscrowPreimage(json: string, r: OutgoingReply, preimageOf: PreimageSource | undefined): string {
  if (r.escrowPreimageKey === undefined) return json;
  if (!preimageOf) throw ApplicationFailure.nonRetryable('this worker cannot derive escrow preimages', 'NotConfigured');
  const m = parseOrFail(json);
  const kind = Object.values(m)[0] as { payload: { dispute?: [string, { preimage: string | null } | null] } | null };
  const info = kind.payload?.dispute?.[1];
  if (!info) throw ApplicationFailure.nonRetryable('only a solver dispute info carries an escrow preimage', 'InvalidMessage');
  info.preimage = preimageOf(r.escrowPreimageKey);
  return serializeMessage(m);
}

/** The action of a serialized message (for metrics), without parsing it again. */
const actionOf = (json: string): string => /"action":"([a-z-]+)"/.exec(json)?.[1] ?? 'unknown';

function parseOrFail(json: string) {
  const r = parseMessage(json);
  if (!r.ok) throw ApplicationFailure.nonRetryable(`invalid message: ${r.error}`, 'InvalidMessage');
  return r.value;
}

/**
 * What makes a retried activity's events byte-identical: its identity (workflow, run, activity id — the same on every
 * retry) and its first scheduling time.
 */
export function activitySeed(): { seed: string; now: number; firstAttempt: boolean } {
  const info = Context.current().info;
  return {
    seed: `${info.workflowExecution?.workflowId}/${info.workflowExecution?.runId}/${info.activityId}`,
    now: Math.floor(info.scheduledTimestampMs / 1000),
    firstAttempt: info.attempt === 1,
  };
}

/** Builds (deterministically from `at`) and publishes replies, each recipient's in order. */
export async function publishReplies(
  egress: NostrEgress,
  input: { replies: OutgoingReply[]; requestReceivedAtMs?: number },
  at: { seed: string; now: number; firstAttempt: boolean },
  preimageOf?: PreimageSource,
): Promise<void> {
  const events = input.replies.map((r, i) => ({
    to: r.to,
    event: egress.buildReply(r.to, parseOrFail(withEscrowPreimage(r.messageJson, r, preimageOf)), at.now, `${at.seed}/${i}`),
  }));
  await Promise.all(events.map((e) => egress.publishTo(e.to, e.event)));
  for (const r of input.replies) metrics.messagesOut.inc({ action: actionOf(r.messageJson) });
  // Request received by the ingress → its first replies published (clocks of two processes: same host or NTP).
  if (input.requestReceivedAtMs !== undefined && at.firstAttempt && input.replies.length > 0) {
    metrics.replyLatency.observe({ action: actionOf(input.replies[0]!.messageJson) }, Math.max(0, Date.now() - input.requestReceivedAtMs) / 1000);
  }
}

export function createNostrActivities(egress: NostrEgress, orderEvents?: OrderEventSource, preimageOf?: PreimageSource) {
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

    /**
     * Builds and publishes a decision's replies, in order (each recipient's after its earlier ones). Every event is
     * derived from this activity's identity (workflow, run, activity id — the same on every retry) and its first
     * scheduling time, so a retry after a crash publishes byte-identical events and relays drop the copies: a client
     * never sees a reply twice.
     */
    async sendReplies(input: { replies: OutgoingReply[]; requestReceivedAtMs?: number }): Promise<void> {
      await publishReplies(egress, input, activitySeed(), preimageOf);
    },

    /**
     * Signs and publishes the NIP-69 event of an order revision (null: this status is not published). `created_at`
     * is strictly after the previous revision's, so relays always keep the newest.
     */
    async publishOrderEvent(input: {
      order: OrderEventInput;
      makerIdentity: string | null;
      minCreatedAt: number;
    }): Promise<{ eventId: string; createdAt: number } | null> {
      if (!orderEvents) throw ApplicationFailure.nonRetryable('order events are not configured on this worker', 'NotConfigured');
      const now = Math.floor(Date.now() / 1000);
      const open = input.order.status === 'pending' || input.order.status === 'waiting-taker-bond';
      const reputation = open ? await orderEvents.reputation(input.makerIdentity) : null;
      const createdAt = Math.max(now, input.minCreatedAt);
      const t = orderEvent(input.order, { ...orderEvents.context(), now, reputation, createdAt });
      if (!t) return null;
      const event = egress.sign(t);
      await egress.publish(event);
      return { eventId: event.id, createdAt };
    },

    /**
     * Signs and publishes a dispute's kind-38386 event (`[expiration] dispute_days`, 90 by default), `created_at`
     * strictly after the previous revision's so relays keep the newest.
     */
    async publishDisputeEvent(
      input: Omit<DisputeEventInput, 'now' | 'disputeDays' | 'createdAt'> & { minCreatedAt: number },
    ): Promise<{ eventId: string; createdAt: number }> {
      const now = Math.floor(Date.now() / 1000);
      const { minCreatedAt, ...dispute } = input;
      const createdAt = Math.max(now, minCreatedAt);
      const event = egress.sign(disputeEvent({ ...dispute, now, createdAt, disputeDays: orderEvents?.disputeDays ?? 90 }));
      await egress.publish(event);
      return { eventId: event.id, createdAt };
    },

    /**
     * Signs and publishes a rating event (kind 38384) right away (the reference batches them hourly); `d` is the
     * rater's trade key, as the reference sets it.
     */
    async publishRatingEvent(input: Omit<RatingEventInput, 'now' | 'ratingDays'>): Promise<{ eventId: string }> {
      const event = egress.sign(ratingEvent({ ...input, now: Math.floor(Date.now() / 1000), ratingDays: orderEvents?.ratingDays ?? 90 }));
      await egress.publish(event);
      return { eventId: event.id };
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
