/**
 * The spam gate's fast lane from the database: parties of every non-terminal order (with the real kebab-case
 * statuses, unlike upstream's hyphenless list) and solvers of open disputes — on PostgreSQL and PGlite.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadActiveTradePubkeys } from '../../src/db/active-pubkeys.js';
import { openDatabase, type Database } from '../../src/db/database.js';
import { TERMINAL_ORDER_STATUSES } from '../../src/protocol/schema.js';
import { freshDatabaseUrl } from '../helpers/postgres.js';

const pgUrl = inject('databaseUrl');
// Without a PostgreSQL server (a laptop without it; CI always installs one) only the PGlite run happens.
const backends = [
  ...(pgUrl ? [{ name: 'PostgreSQL', open: async () => openDatabase({ url: await freshDatabaseUrl(pgUrl) }) }] : []),
  { name: 'PGlite', open: () => openDatabase({ memory: true }) },
];

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

describe.each(backends)('$name', ({ open }) => {
  let db: Database;
  beforeAll(async () => {
    db = await open();
  });
  afterAll(async () => {
    await db?.close();
  });

  it('lists parties of open trades and solvers of open disputes, nothing else', async () => {
    await db.prisma.order.createMany({
      data: [
        order('pending', { seller: key(1), creator: key(1) }),
        order('active', { buyer: key(2), seller: key(3), creator: key(3) }),
        order('waiting-payment', { buyer: key(4), seller: key(5), creator: key(4) }),
        order('dispute', { buyer: key(6), seller: key(7), creator: key(6) }),
        ...TERMINAL_ORDER_STATUSES.map((s, i) => order(s, { buyer: key(100 + i), seller: key(200 + i), creator: key(100 + i) })),
      ],
    });
    await db.prisma.dispute.createMany({
      data: [
        { id: 'd1', orderId: 'o1', status: 'initiated', orderPreviousStatus: 'active', solverPubkey: key(50), createdAt: 1n },
        { id: 'd2', orderId: 'o2', status: 'in-progress', orderPreviousStatus: 'fiat-sent', solverPubkey: key(51), createdAt: 1n },
        { id: 'd3', orderId: 'o3', status: 'settled', orderPreviousStatus: 'active', solverPubkey: key(52), createdAt: 1n },
        { id: 'd4', orderId: 'o4', status: 'initiated', orderPreviousStatus: 'active', solverPubkey: null, createdAt: 1n },
      ],
    });
    const keys = await loadActiveTradePubkeys(db.prisma);
    expect([...keys].sort()).toEqual([1, 2, 3, 4, 5, 6, 7, 50, 51].map(key).sort());
    // Admin-canceled and cooperatively canceled orders are terminal here (upstream's hyphenless SQL kept them).
    expect(keys.has(key(100 + TERMINAL_ORDER_STATUSES.indexOf('cooperatively-canceled')))).toBe(false);
  });
});
