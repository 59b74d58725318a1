/**
 * The orders projection on PostgreSQL and PGlite: the first write inserts, a newer state overwrites, an older or
 * repeated one (a retried or delayed activity) changes nothing, and racing writers end at the newest state.
 */
import { expect, it } from 'vitest';
import { projectOrder } from '../../src/db/order-projection.js';
import type { OrderState } from '../../src/domain/order.js';
import { describeEachDatabase } from '../helpers/databases.js';
import { orderState } from '../helpers/orders.js';


const state = (id: string, status: OrderState['status'], amount = 0): OrderState =>
  orderState({ id, eventId: 'e'.repeat(64), status, amount, creatorPubkey: 'a'.repeat(64), sellerPubkey: 'a'.repeat(64), createdAt: 1_800_000_000, expiresAt: 1_800_086_400 });

describeEachDatabase((database) => {

  it('inserts, moves forward, and ignores stale or repeated writes', async () => {
    const id = '11111111-1111-4111-8111-111111111111';
    expect(await projectOrder(database().prisma, state(id, 'pending'), 1)).toBe(true);
    expect(await projectOrder(database().prisma, state(id, 'waiting-buyer-invoice', 3_300), 2)).toBe(true);
    expect(await projectOrder(database().prisma, state(id, 'waiting-buyer-invoice', 3_300), 2)).toBe(false); // retried activity
    expect(await projectOrder(database().prisma, state(id, 'pending'), 1)).toBe(false); // delayed older write
    const row = await database().prisma.order.findUniqueOrThrow({ where: { id } });
    expect(row).toMatchObject({ status: 'waiting-buyer-invoice', amount: 3_300n, version: 2, masterSellerPubkey: 'f'.repeat(64) });
  });

  it('ends at the newest state when writers race', async () => {
    const id = '22222222-2222-4222-8222-222222222222';
    const statuses: OrderState['status'][] = ['pending', 'waiting-buyer-invoice', 'waiting-payment', 'active', 'fiat-sent', 'settled-hold-invoice', 'success'];
    await Promise.all(statuses.map((s, i) => projectOrder(database().prisma, state(id, s), i + 1)).reverse());
    const row = await database().prisma.order.findUniqueOrThrow({ where: { id } });
    expect(row).toMatchObject({ status: 'success', version: statuses.length });
  });
});
