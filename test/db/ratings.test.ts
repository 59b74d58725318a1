/**
 * Applying a rating on PostgreSQL and PGlite: one vote per (order, rater side) however often the activity runs —
 * also when two attempts race —, the reference's aggregate, and a rated identity without a users row gets one.
 */
import { expect, it } from 'vitest';
import { createDatabaseActivities } from '../../src/activities/database.js';
import { describeEachDatabase } from '../helpers/databases.js';

describeEachDatabase((database) => {
  it('counts a vote once across retries and races', async () => {
    const db = createDatabaseActivities(database().prisma, () => 1_800_000_000);
    const rated = 'c'.repeat(64);
    const vote = { orderId: '22222222-2222-4222-8222-222222222222', raterSide: 'buyer' as const, rated, rating: 4 };
    const results = await Promise.all([db.applyRating(vote), db.applyRating(vote).catch(() => db.applyRating(vote)), db.applyRating(vote).catch(() => db.applyRating(vote))]);
    for (const r of results) expect(r).toMatchObject({ totalReviews: 1, totalRating: 2, lastRating: 4, maxRate: 4, minRate: 4, days: 0 });
    const other = await db.applyRating({ ...vote, orderId: '33333333-3333-4333-8333-333333333333', rating: 2 });
    // 2 + (4 − 2) / 2 = 3: the previous last rating moves the total, as the reference computes it.
    expect(other).toMatchObject({ totalReviews: 2, totalRating: 3, lastRating: 2, maxRate: 4, minRate: 2 });
    expect(await database().prisma.rating.count({ where: { ratedPubkey: rated } })).toBe(2);
  });
});
