/**
 * Opens the daemon's database: PostgreSQL when a URL is given (production, tests), otherwise PGlite — PostgreSQL
 * compiled to WebAssembly, in process — on disk under the data directory (the embedded default) or in memory.
 * Migrations are applied before the Prisma client is handed out.
 */
import fs from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { PrismaClient } from '../../generated/prisma/client.js';
import { applyMigrations, type SqlSession } from './migrate.js';

export type Db = PrismaClient;

/**
 * Plain SQL on the connections Prisma uses, for the few statements every message or trade runs (the ingress journal,
 * the orders projection, trade indexes, the invoice watcher): ~0.1 ms of CPU each against ~0.3–0.5 ms through
 * Prisma's client and query compiler. Statements must be fixed text (values only as parameters): each is prepared
 * once per connection under a name.
 */
export interface Sql {
  query<T>(text: string, params?: unknown[]): Promise<T[]>;
  /** The number of rows the statement changed. */
  execute(text: string, params?: unknown[]): Promise<number>;
}

const sqlOfClient = new WeakMap<PrismaClient, Sql>();

/** The plain-SQL side of a database opened by {@link openDatabase}. */
export function sqlOf(db: Db): Sql {
  const sql = sqlOfClient.get(db);
  if (!sql) throw new Error('sqlOf: not a client from openDatabase');
  return sql;
}

function pgSql(pool: pg.Pool): Sql {
  const names = new Map<string, string>();
  const statement = (text: string, values: unknown[]) => {
    let name = names.get(text);
    if (!name) names.set(text, (name = `mostro_${names.size}`));
    return { name, text, values };
  };
  return {
    query: async <T>(text: string, params: unknown[] = []) => (await pool.query(statement(text, params))).rows as T[],
    execute: async (text, params = []) => (await pool.query(statement(text, params))).rowCount ?? 0,
  };
}

function pgliteSql(db: PGlite): Sql {
  return {
    query: async <T>(text: string, params: unknown[] = []) => (await db.query<T>(text, params)).rows,
    execute: async (text, params = []) => (await db.query(text, params)).affectedRows ?? 0,
  };
}

export interface Database {
  prisma: PrismaClient;
  kind: 'postgresql' | 'pglite';
  /** The PostgreSQL connection URL (other processes can open the same database); absent for PGlite. */
  url?: string;
  close(): Promise<void>;
}

export type DatabaseLocation = { url: string } | { pgliteDir: string } | { memory: true };

function pgSession(pool: pg.Pool): SqlSession {
  const on = (c: pg.Pool | pg.PoolClient): SqlSession => ({
    exec: async (sql) => {
      await c.query(sql);
    },
    query: async <T>(sql: string, params?: unknown[]) => (await c.query(sql, params)).rows as T[],
    transaction: async (fn) => {
      if (c !== pool) return fn(on(c));
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const r = await fn(on(client));
        await client.query('COMMIT');
        return r;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    },
  });
  return on(pool);
}

function pgliteSession(db: PGlite): SqlSession {
  const s: SqlSession = {
    exec: async (sql) => {
      await db.exec(sql);
    },
    query: async <T>(sql: string, params?: unknown[]) => (await db.query<T>(sql, params)).rows,
    transaction: (fn) =>
      db.transaction(async (tx) =>
        fn({
          exec: async (sql) => {
            await tx.exec(sql);
          },
          query: async <T>(sql: string, params?: unknown[]) => (await tx.query<T>(sql, params)).rows,
          transaction: () => Promise.reject(new Error('nested transactions are not supported')),
        }),
      ),
  };
  return s;
}

export async function openDatabase(where: DatabaseLocation): Promise<Database> {
  if ('url' in where) {
    const pool = new pg.Pool({ connectionString: where.url, max: 10 });
    try {
      await applyMigrations(pgSession(pool));
    } catch (err) {
      await pool.end();
      throw err;
    }
    const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
    sqlOfClient.set(prisma, pgSql(pool));
    return {
      prisma,
      kind: 'postgresql',
      url: where.url,
      close: async () => {
        await prisma.$disconnect();
        await pool.end().catch(() => undefined);
      },
    };
  }
  const dir = 'pgliteDir' in where ? where.pgliteDir : undefined;
  const db = new PGlite(dir ?? 'memory://');
  await applyMigrations(pgliteSession(db));
  if (dir) ownerOnly(dir);
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(db) });
  sqlOfClient.set(prisma, pgliteSql(db));
  return {
    prisma,
    kind: 'pglite',
    close: async () => {
      await prisma.$disconnect();
      await db.close();
      if (dir) ownerOnly(dir);
    },
  };
}

/**
 * PGlite's WebAssembly file layer chmods what it creates to the mode it was asked for, whatever the process umask:
 * its initial database comes out 0666 and some files PostgreSQL writes later 0644. Its directories follow the umask
 * (0700 under the daemon), so no other user can reach those files; this takes the group and other bits off them too,
 * after opening and after closing (symlinks are left alone).
 */
function ownerOnly(dir: string): void {
  const visit = (p: string) => {
    const st = fs.lstatSync(p);
    if (st.isSymbolicLink()) return;
    if (st.mode & 0o077) fs.chmodSync(p, st.mode & 0o700);
    if (st.isDirectory()) for (const e of fs.readdirSync(p)) visit(path.join(p, e));
  };
  visit(dir);
}
