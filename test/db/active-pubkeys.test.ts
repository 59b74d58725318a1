/**
 * The spam gate's fast lane from the database: parties of every non-terminal order (with the real kebab-case
 * statuses, unlike upstream's hyphenless list) and solvers of open disputes — on PostgreSQL and PGlite.
 */
import { expect, it } from 'vitest';
import { loadActiveTradePubkeys } from '../../src/db/active-pubkeys.js';
import { TERMINAL_ORDER_STATUSES } from '@mostro/protocol/schema';
import { describeEachDatabase } from '../helpers/databases.js';


const key = (n: number) => n.toString(16).padStart(64, '0');
let next = 0;
const order = (status: string, keys: { buyer?: string; seller?: string; creator?: string }) => ({
  id: `00000000-0000-4000-8000-${(++next).toString().padStart(12, '0')}`,
  kind: 'sell',
  eventId: key(1000 + next),
  status,
  premium: 0,
  paymentMethod: 'face to face',
  amount: 0n,
  fiatCode: 'VES',
  fiatAmount: 100n,
  createdAt: 1_800_000_000n,
  expiresAt: 1_800_086_400n,
  updatedAt: 1_800_000_000n,
  buyerPubkey: keys.buyer ?? null,
  sellerPubkey: keys.seller ?? null,
  creatorPubkey: keys.creator ?? null,
});

describeEachDatabase((database) => {

  it('lists parties of open trades and solvers of open disputes, nothing else', async () => {
    await database().prisma.order.createMany({
      data: [
        order('pending', { seller: key(1), creator: key(1) }),
        order('active', { buyer: key(2), seller: key(3), creator: key(3) }),
        order('waiting-payment', { buyer: key(4), seller: key(5), creator: key(4) }),
        order('dispute', { buyer: key(6), seller: key(7), creator: key(6) }),
        ...TERMINAL_ORDER_STATUSES.map((s, i) => order(s, { buyer: key(100 + i), seller: key(200 + i), creator: key(100 + i) })),
      ],
    });
    await database().prisma.dispute.createMany({
      data: [
        { id: 'd1', orderId: 'o1', status: 'initiated', orderPreviousStatus: 'active', solverPubkey: key(50), createdAt: 1n },
        { id: 'd2', orderId: 'o2', status: 'in-progress', orderPreviousStatus: 'fiat-sent', solverPubkey: key(51), createdAt: 1n },
        { id: 'd3', orderId: 'o3', status: 'settled', orderPreviousStatus: 'active', solverPubkey: key(52), createdAt: 1n },
        { id: 'd4', orderId: 'o4', status: 'initiated', orderPreviousStatus: 'active', solverPubkey: null, createdAt: 1n },
      ],
    });
    const keys = await loadActiveTradePubkeys(database().prisma);
    expect([...keys].sort()).toEqual([1, 2, 3, 4, 5, 6, 7, 50, 51].map(key).sort());
    // Admin-canceled and cooperatively canceled orders are terminal here (upstream's hyphenless SQL kept them).
    expect(keys.has(key(100 + TERMINAL_ORDER_STATUSES.indexOf('cooperatively-canceled')))).toBe(false);
  });
});
