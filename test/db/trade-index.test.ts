/**
 * The database layer on a real PostgreSQL server (started by the test setup) and on PGlite: migrations apply once
 * (also when two processes race), a changed migration is refused, and the trade-index store's first-contact insert
 * and compare-and-set advance behave under concurrency.
 */
import { describe, expect, inject, it } from 'vitest';
import pg from 'pg';
import { openDatabase } from '../../src/db/database.js';
import { applyMigrations, readMigrations, type SqlSession } from '../../src/db/migrate.js';
import { DbTradeIndexStore } from '../../src/db/trade-index-store.js';
import { freshDatabaseUrl } from '../../support/postgres.js';
import { describeEachDatabase } from '../helpers/databases.js';
import { generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import { Intake } from '../../src/ingress/intake.js';
import { cliKeys, cliWrap, pubOf } from '../helpers/mostro-cli.js';

const pgUrl = inject('databaseUrl');

describeEachDatabase((database) => {
  it('registers a first contact once, even when two messages race', async () => {
    const store = new DbTradeIndexStore(database().prisma, () => 1_800_000_000);
    const id = 'a'.repeat(64);
    const results = await Promise.all([store.createUser(id, 3), store.createUser(id, 3), store.createUser(id, 4)]);
    expect(results.filter(Boolean)).toHaveLength(1);
    expect([3, 4]).toContain(await store.lastTradeIndex(id));
    expect(await store.lastTradeIndex('b'.repeat(64))).toBeNull();
    const row = await database().prisma.user.findUnique({ where: { pubkey: id } });
    expect(row?.createdAt).toBe(1_800_000_000n);
  });

  it('backs the intake: first contact creates the user, a reused index is answered invalid_trade_index', async () => {
    const store = new DbTradeIndexStore(database().prisma);
    const mostroSk = generateSecretKey();
    const intake = new Intake({ transport: 'nip44', mostroKey: mostroSk, pow: 0, tradeIndex: store });
    const identity = cliKeys(0, 'legal winner thank year wave sausage worth useful legal winner thank yellow');
    const order = (ti: number) =>
      `{"order":{"version":2,"request_id":1,"trade_index":${ti},"action":"new-order","payload":{"order":{"kind":"sell","status":"pending","amount":0,"fiat_code":"VES","min_amount":null,"max_amount":null,"fiat_amount":100,"payment_method":"x","premium":1,"created_at":0,"expires_at":null}}}}`;
    const first = await cliWrap({ transport: 'nip44', msgJson: order(2), trade: cliKeys(2), identity, mostro: getPublicKey(mostroSk) });
    expect((await intake.process(first)).type).toBe('accept');
    expect(await store.lastTradeIndex(pubOf(identity))).toBe(2);
    const reused = await cliWrap({ transport: 'nip44', msgJson: order(2), trade: cliKeys(2), identity, mostro: getPublicKey(mostroSk) });
    expect((await intake.process(reused)).type).toBe('reject-trade-index');
    const next = await cliWrap({ transport: 'nip44', msgJson: order(3), trade: cliKeys(3), identity, mostro: getPublicKey(mostroSk) });
    expect((await intake.process(next)).type).toBe('accept');
  });

  it('advances the trade index only forward, and exactly once per index', async () => {
    const store = new DbTradeIndexStore(database().prisma);
    const id = 'c'.repeat(64);
    expect(await store.createUser(id, 1)).toBe(true);
    const wins = await Promise.all([store.advance(id, 5), store.advance(id, 5), store.advance(id, 5)]);
    expect(wins.filter(Boolean)).toHaveLength(1);
    expect(await store.advance(id, 4)).toBe(false);
    expect(await store.advance(id, 6)).toBe(true);
    expect(await store.lastTradeIndex(id)).toBe(6);
    const row = await database().prisma.user.findUnique({ where: { pubkey: id } });
    expect(row?.version).toBe(2);
  });
});

// Two processes racing need a server both can connect to; skipped only where no PostgreSQL exists (never in CI).
describe.skipIf(!pgUrl)('migrations on PostgreSQL', () => {
  it('apply once, also when two processes start together', async () => {
    const url = await freshDatabaseUrl(pgUrl);
    const [a, b] = await Promise.all([openDatabase({ url }), openDatabase({ url })]);
    await Promise.all([a.close(), b.close()]);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const rows = (await client.query('SELECT migration_name, checksum FROM "_prisma_migrations" ORDER BY migration_name')).rows;
      expect(rows.map((r: { migration_name: string }) => r.migration_name)).toEqual(readMigrations().map((m) => m.name));
      // A migration edited after it was applied is refused, naming it.
      const session: SqlSession = {
        exec: async (sql: string) => void (await client.query(sql)),
        query: async <T,>(sql: string, params?: unknown[]) => (await client.query(sql, params)).rows as T[],
        transaction: async <T,>(fn: (tx: SqlSession) => Promise<T>) => {
          await client.query('BEGIN');
          try {
            const r = await fn(session);
            await client.query('COMMIT');
            return r;
          } catch (err) {
            await client.query('ROLLBACK');
            throw err;
          }
        },
      };
      const edited = readMigrations().map((m, i) => (i === 0 ? { ...m, checksum: 'f'.repeat(64) } : m));
      await expect(applyMigrations(session, edited)).rejects.toThrow(/migration .*_init was changed after it was applied/);
      expect(await applyMigrations(session)).toEqual([]);
    } finally {
      await client.end();
    }
  });
});
