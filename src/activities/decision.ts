/**
 * One activity per order decision: the order's projection, its NIP-69 event and the replies, in the decision's order.
 * The order workflow used to call projectOrder, publishOrderEvent and sendReplies separately; each activity costs a
 * round trip through Temporal and a workflow activation, which dominated the daemon's CPU per trade. Every step stays
 * idempotent under a retry of the whole activity: the projection is compare-and-set on the state number, an order
 * event is a replaceable revision with a newer `created_at`, and replies are rebuilt byte-identical from the
 * activity's identity (relays drop the copies).
 */
import { projectBond, type BondRow } from '../db/bond-projection.js';
import type { Db } from '../db/database.js';
import type { NostrEgress } from '../nostr/egress.js';
import type { OrderEventInput } from '../nostr/events.js';
import { createDatabaseActivities, type DatabaseActivities } from './database.js';
import { activitySeed, createNostrActivities, publishReplies, type OrderEventSource, type OutgoingReply, type PreimageSource } from './nostr.js';

export type CommitStep =
  | { type: 'publish'; order: OrderEventInput; makerIdentity: string | null; minCreatedAt: number }
  | { type: 'send'; replies: OutgoingReply[]; requestReceivedAtMs?: number };

export interface CommitInput {
  projection?: Parameters<DatabaseActivities['projectOrder']>[0];
  /** Bonds that changed with this decision (anti-abuse bonds; absent for most decisions). */
  bonds?: BondRow[];
  steps: CommitStep[];
}

export function createDecisionActivities(db: Db, egress: NostrEgress, orderEvents?: OrderEventSource, preimageOf?: PreimageSource) {
  const database = createDatabaseActivities(db);
  const nostr = createNostrActivities(egress, orderEvents);
  return {
    async commitDecision(input: CommitInput): Promise<{ published: { eventId: string; createdAt: number } | null }> {
      if (input.projection) await database.projectOrder(input.projection);
      for (const row of input.bonds ?? []) await projectBond(db, row);
      const at = activitySeed();
      let published: { eventId: string; createdAt: number } | null = null;
      for (const [k, step] of input.steps.entries()) {
        if (step.type === 'publish') published = await nostr.publishOrderEvent(step);
        else await publishReplies(egress, step, { ...at, seed: `${at.seed}/${k}` }, preimageOf);
      }
      return { published };
    },
  };
}

export type DecisionActivities = ReturnType<typeof createDecisionActivities>;
