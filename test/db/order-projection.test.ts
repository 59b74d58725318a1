/**
 * The orders projection on PostgreSQL and PGlite: the first write inserts, a newer state overwrites, an older or
 * repeated one (a retried or delayed activity) changes nothing, and racing writers end at the newest state.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/database.js';
import { projectOrder } from '../../src/db/order-projection.js';
import type { OrderState } from '../../src/workflows/order/state.js';
import { freshDatabaseUrl } from '../helpers/postgres.js';

const pgUrl = inject('databaseUrl');
// Without a PostgreSQL server (a laptop without it; CI always installs one) only the PGlite run happens.
const backends = [
  ...(pgUrl ? [{ name: 'PostgreSQL', open: async () => openDatabase({ url: await freshDatabaseUrl(pgUrl) }) }] : []),
  { name: 'PGlite', open: () => openDatabase({ memory: true }) },
];

const state = (id: string, status: OrderState['status'], amount = 0): OrderState => ({
  id,
  eventId: 'e'.repeat(64),
  kind: 'sell',
  status,
  amount,
  fee: 0,
  devFee: 0,
  fiatCode: 'VES',
  fiatAmount: 100,
  minAmount: null,
  maxAmount: null,
  paymentMethod: 'face to face',
  premium: 1,
  priceFromApi: true,
  creatorPubkey: 'a'.repeat(64),
  buyerPubkey: null,
  masterBuyerPubkey: null,
  sellerPubkey: 'a'.repeat(64),
  masterSellerPubkey: 'f'.repeat(64),
  tradeIndexBuyer: null,
  tradeIndexSeller: 1,
  buyerInvoice: null,
  hash: null,
  createdAt: 1_800_000_000,
  expiresAt: 1_800_086_400,
  takenAt: 0,
  invoiceHeldAt: 0,
});

describe.each(backends)('$name', ({ open }) => {
  let db: Database;
  beforeAll(async () => {
    db = await open();
  });
  afterAll(async () => {
    await db?.close();
  });

  it('inserts, moves forward, and ignores stale or repeated writes', async () => {
    const id = '11111111-1111-4111-8111-111111111111';
    expect(await projectOrder(db.prisma, state(id, 'pending'), 1)).toBe(true);
    expect(await projectOrder(db.prisma, state(id, 'waiting-buyer-invoice', 3_300), 2)).toBe(true);
    expect(await projectOrder(db.prisma, state(id, 'waiting-buyer-invoice', 3_300), 2)).toBe(false); // retried activity
    expect(await projectOrder(db.prisma, state(id, 'pending'), 1)).toBe(false); // delayed older write
    const row = await db.prisma.order.findUniqueOrThrow({ where: { id } });
    expect(row).toMatchObject({ status: 'waiting-buyer-invoice', amount: 3_300n, version: 2, masterSellerPubkey: 'f'.repeat(64) });
  });

  it('ends at the newest state when writers race', async () => {
    const id = '22222222-2222-4222-8222-222222222222';
    const statuses: OrderState['status'][] = ['pending', 'waiting-buyer-invoice', 'waiting-payment', 'active', 'fiat-sent', 'settled-hold-invoice', 'success'];
    await Promise.all(statuses.map((s, i) => projectOrder(db.prisma, state(id, s), i + 1)).reverse());
    const row = await db.prisma.order.findUniqueOrThrow({ where: { id } });
    expect(row).toMatchObject({ status: 'success', version: statuses.length });
  });
});
