/**
 * Solvers (protocol.md §24.2–24.3) through the real stack: the admin (the daemon's own key as identity) appoints
 * solvers with permission levels; a solver takes a dispute, settles it (the buyer is paid) or cancels it (the seller
 * is refunded); every permission failure gets the reference's cant-do.
 */
import { randomUUID } from 'node:crypto';
import { nip19 } from 'nostr-tools';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestDaemon, type Trader } from '../helpers/daemon.js';

let d: TestDaemon;
beforeAll(async () => {
  d = await TestDaemon.start();
});
afterAll(async () => {
  await d?.close();
});

// mostro-cli sends a random id with admin-add-solver; the reference's shape rules require one.
const anyId = () => randomUUID();

async function addSolver(admin: Trader, solver: Trader, suffix = ''): Promise<void> {
  await admin.send(1, { action: 'admin-add-solver', id: anyId(), payload: { text_message: `${nip19.npubEncode(solver.identity)}${suffix}` }, tradeIndex: null });
  expect((await admin.next(1, 'admin-add-solver')).json).toMatch(/^\{"dispute":\{"version":2,"request_id":\d+,"trade_index":null,"action":"admin-add-solver","payload":null\}\}$/);
}

describe('admin-add-solver', () => {
  it('the admin appoints read-write and read-only solvers; nobody else can; bad payloads are answered', async () => {
    const admin = d.admin('admin-s1');
    const rw = d.trader('solver-rw-s1');
    const ro = d.trader('solver-ro-s1');
    await addSolver(admin, rw);
    await addSolver(admin, ro, ':read');
    expect(await d.db.prisma.user.findUniqueOrThrow({ where: { pubkey: rw.identity } })).toMatchObject({ isSolver: true, category: 2 });
    expect(await d.db.prisma.user.findUniqueOrThrow({ where: { pubkey: ro.identity } })).toMatchObject({ isSolver: true, category: 1 });
    await addSolver(admin, ro, ':read-write');
    expect((await d.db.prisma.user.findUniqueOrThrow({ where: { pubkey: ro.identity } })).category).toBe(2);

    await admin.send(1, { action: 'admin-add-solver', id: anyId(), payload: { text_message: `${nip19.npubEncode(rw.identity)}:admin` }, tradeIndex: null });
    expect(await admin.next(1, 'cant-do')).toMatchObject({ payload: { cant_do: 'invalid_parameters' } });
    await admin.send(1, { action: 'admin-add-solver', id: anyId(), payload: { text_message: 'npub1notakey' }, tradeIndex: null });
    expect(await admin.next(1, 'cant-do')).toMatchObject({ payload: { cant_do: 'invalid_text_message' } });

    // Not the admin: silently ignored, nothing stored.
    const mallory = d.trader('mallory-s1');
    const victim = d.trader('victim-s1');
    await mallory.send(1, { action: 'admin-add-solver', id: anyId(), payload: { text_message: nip19.npubEncode(victim.identity) }, tradeIndex: null });
    await new Promise((r) => setTimeout(r, 1000));
    expect(mallory.unread(1)).toEqual([]);
    expect(await d.db.prisma.user.findUnique({ where: { pubkey: victim.identity } })).toBeNull();
  });
});
