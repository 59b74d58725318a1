/**
 * Database activities of the order workflow: the orders projection, the cross-order `pending_order_exists` check and
 * the reputation the maker is shown. Each is safe to run twice (the projection only moves forward, the rest read).
 */
import type { Db } from '../db/database.js';
import { projectBondPayout } from '../db/bond-projection.js';
import { projectOrder } from '../db/order-projection.js';
import type { BondPayout } from '../domain/bond.js';
import type { DisputeRole, OpenedDispute } from '../domain/dispute.js';
import { DbTradeIndexStore } from '../db/trade-index-store.js';
import type { Reputation } from '../nostr/events.js';
import type { UserInfo } from '@mostro/protocol/schema';
import type { OrderState } from '../domain/order.js';
import type { RatingEventInput } from '../nostr/events.js';

const DAY = 86_400;

/** An accepted message's trade index for its identity (ignored in full privacy, where identity = sender). */
export interface TradeIndexUpdate {
  identity: string;
  sender: string;
  index: number | null;
}

/** The reputation aggregates of an identity's user row; zeros for an unknown or full-privacy user. */
export async function makerReputation(db: Db, identity: string | null): Promise<Reputation> {
  const u = identity ? await db.user.findUnique({ where: { pubkey: identity } }) : null;
  return u ? { totalRating: u.totalRating, totalReviews: u.totalReviews, userCreatedAt: Number(u.createdAt) } : { totalRating: 0, totalReviews: 0, userCreatedAt: 0 };
}

/** Reputation as the taker-reputation notice shows it: rating, reviews, whole days since the user appeared. */
export async function reputationOf(db: Db, identity: string | null, now: number): Promise<UserInfo> {
  const r = await makerReputation(db, identity);
  const days = r.userCreatedAt === 0 ? 0 : Math.max(0, Math.floor((now - r.userCreatedAt) / DAY));
  return { rating: r.totalRating, reviews: r.totalReviews, operating_days: days };
}

/** A user's rating aggregate as the rating event (kind 38384) carries it. */
export type RatingAggregate = Pick<RatingEventInput, 'totalReviews' | 'totalRating' | 'lastRating' | 'maxRate' | 'minRate' | 'days'>;

export function createDatabaseActivities(
  db: Db,
  clock: () => number = () => Math.floor(Date.now() / 1000),
  /** The daemon's pubkey: the admin is whoever signs with it as identity. */
  adminPubkey?: string,
) {
  const tradeIndexes = new DbTradeIndexStore(db, clock);
  const advance = async (u: TradeIndexUpdate) => {
    if (u.index === null || u.identity === u.sender) return; // full privacy: no index
    await tradeIndexes.advance(u.identity, u.index);
  };
  return {
    /**
     * Writes the workflow's state number `seq` into `orders`; older or repeated writes are no-ops. With `tradeIndex`,
     * also records the accepted trade index of the message that led to this state (a new order's maker, a taker) as
     * the identity's last — compare-and-set, only upwards, so repeating it is a no-op.
     */
    async projectOrder(input: { order: OrderState; seq: number; tradeIndex?: TradeIndexUpdate }): Promise<boolean> {
      const written = await projectOrder(db, input.order, input.seq, clock());
      if (input.tradeIndex) await advance(input.tradeIndex);
      return written;
    },

    /**
     * `pending_order_exists`: the taker's identity already owes a duty on another order — as the buyer of an order
     * waiting for its invoice (take-sell) or the seller of an order waiting for its escrow (take-buy).
     */
    async pendingOrderExists(input: { action: 'take-sell' | 'take-buy'; identity: string; exceptOrderId: string }): Promise<boolean> {
      const where =
        input.action === 'take-sell'
          ? { masterBuyerPubkey: input.identity, status: 'waiting-buyer-invoice' }
          : { masterSellerPubkey: input.identity, status: 'waiting-payment' };
      const found = await db.order.findFirst({ where: { ...where, id: { not: input.exceptOrderId } }, select: { id: true } });
      return found !== null;
    },

    /**
     * Makes `workflowId` the owner of a hold invoice the watcher follows (a range maker's bond handed to the
     * remainder order's workflow), so its later reports go there. Idempotent.
     */
    async adoptHoldInvoice(input: { hash: string; workflowId: string }): Promise<void> {
      await db.holdInvoice.updateMany({ where: { paymentHash: input.hash }, data: { workflowId: input.workflowId } });
    },

    /** A bond payout workflow's progress, onto its bond's row (only forward: see bond-projection.ts). */
    async projectBondPayout(input: { payout: BondPayout }): Promise<boolean> {
      return projectBondPayout(db, input.payout, clock());
    },

    /** Records a dispute the order workflow opened (once: the order id is unique among disputes). */
    async recordDispute(input: OpenedDispute): Promise<void> {
      await db.dispute.createMany({
        data: [{ id: input.id, orderId: input.orderId, status: 'initiated', orderPreviousStatus: input.previousStatus, createdAt: BigInt(input.createdAt) }],
        skipDuplicates: true,
      });
    },

    /**
     * Closes the order's dispute if it is still open (compare-and-set on its status); returns what its event needs,
     * or null when there was none open (already closed by an earlier attempt, or never opened).
     */
    async closeDispute(input: {
      orderId: string;
      status: 'settled' | 'seller-refunded';
      bondResolution?: { slash_seller: boolean; slash_buyer: boolean };
    }): Promise<{ id: string; createdAt: number } | null> {
      const open = await db.dispute.findUnique({ where: { orderId: input.orderId } });
      if (!open) return null;
      const r = await db.dispute.updateMany({
        where: { id: open.id, status: { in: ['initiated', 'in-progress'] } },
        data: { status: input.status, ...(input.bondResolution ? { bondResolution: JSON.stringify(input.bondResolution) } : {}), version: { increment: 1 } },
      });
      return r.count === 1 || open.status === input.status ? { id: open.id, createdAt: Number(open.createdAt) } : null;
    },

    async userReputation(input: { identity: string | null }): Promise<UserInfo> {
      return reputationOf(db, input.identity, clock());
    },

    /**
     * What a dispute action needs from the database: who the sender is (the admin, a solver and its category, or
     * nobody) and each party's reputation (null for a party without a users row: full privacy).
     */
    async disputeContext(input: {
      identity: string;
      buyerIdentity: string | null;
      sellerIdentity: string | null;
    }): Promise<{ who: DisputeRole; buyer: UserInfo | null; seller: UserInfo | null }> {
      const user = await db.user.findUnique({ where: { pubkey: input.identity }, select: { isSolver: true, category: true } });
      const who: DisputeRole =
        input.identity === adminPubkey ? { role: 'admin' } : user?.isSolver ? { role: 'solver', category: user.category } : { role: 'none' };
      const party = async (identity: string | null) =>
        identity && (await db.user.findUnique({ where: { pubkey: identity }, select: { pubkey: true } })) ? reputationOf(db, identity, clock()) : null;
      return { who, buyer: await party(input.buyerIdentity), seller: await party(input.sellerIdentity) };
    },

    /**
     * Applies a vote to the rated identity's aggregate, once per (order, rater side) — the `ratings` row is claimed in
     * the same transaction, so a retried activity does not count it twice — and returns the aggregate for the rating
     * event. The aggregate follows the reference exactly (mostro-core `User::update_rating`), quirks included: the
     * first vote sets `total_rating` to half the rating; later ones move it by `(previous last_rating − total) / n`.
     */
    async applyRating(input: { orderId: string; raterSide: 'buyer' | 'seller'; rated: string; rating: number }): Promise<RatingAggregate> {
      const now = clock();
      return db.$transaction(async (tx) => {
        const claimed = await tx.rating.createMany({
          data: [{ orderId: input.orderId, raterSide: input.raterSide, ratedPubkey: input.rated, rating: input.rating, createdAt: BigInt(now) }],
          skipDuplicates: true,
        });
        let u = await tx.user.findUnique({ where: { pubkey: input.rated } });
        u ??= await tx.user.create({ data: { pubkey: input.rated, createdAt: BigInt(now) } });
        if (claimed.count === 1) {
          const r = input.rating;
          const reviews = u.totalReviews + 1;
          const first = u.totalReviews === 0;
          const data = {
            totalReviews: reviews,
            totalRating: first ? r / 2 : u.totalRating + (u.lastRating - u.totalRating) / reviews,
            minRating: first ? r : Math.min(u.minRating, r),
            maxRating: first ? r : Math.max(u.maxRating, r),
            lastRating: r,
          };
          u = await tx.user.update({ where: { pubkey: input.rated }, data: { ...data, version: { increment: 1 } } });
        }
        return {
          totalReviews: u.totalReviews,
          totalRating: u.totalRating,
          lastRating: u.lastRating,
          maxRate: u.maxRating,
          minRate: u.minRating,
          days: Math.max(0, Math.floor((now - Number(u.createdAt)) / DAY)),
        };
      });
    },

    /** Records who took the dispute (`in-progress`); a dispute already closed is left alone. */
    async takeDispute(input: { disputeId: string; solver: string; takenAt: number }): Promise<boolean> {
      const r = await db.dispute.updateMany({
        where: { id: input.disputeId, status: { in: ['initiated', 'in-progress'] } },
        data: { status: 'in-progress', solverPubkey: input.solver, takenAt: BigInt(input.takenAt), version: { increment: 1 } },
      });
      return r.count === 1;
    },
  };
}

export type DatabaseActivities = ReturnType<typeof createDatabaseActivities>;
