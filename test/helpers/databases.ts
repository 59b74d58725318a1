/**
 * Runs a suite once per database backend: the real PostgreSQL server (DATABASE_URL or the throwaway cluster the
 * test setup started; each suite gets a fresh database) and PGlite. Without a PostgreSQL server (a laptop without
 * it; CI always installs one) only the PGlite run happens.
 */
import { afterAll, beforeAll, describe, inject } from 'vitest';
import { openDatabase, type Database } from '../../src/db/database.js';
import { freshDatabaseUrl } from '../../support/postgres.js';

export function databaseBackends(): { name: string; open: () => Promise<Database> }[] {
  const pgUrl = inject('databaseUrl');
  return [
    ...(pgUrl ? [{ name: 'PostgreSQL', open: async () => openDatabase({ url: await freshDatabaseUrl(pgUrl) }) }] : []),
    { name: 'PGlite', open: () => openDatabase({ memory: true }) },
  ];
}

/** `describe.each` over the backends with the database opened before and closed after the suite. */
export function describeEachDatabase(body: (db: () => Database) => void): void {
  describe.each(databaseBackends())('$name', ({ open }) => {
    let db: Database;
    beforeAll(async () => {
      db = await open();
    });
    afterAll(async () => {
      await db?.close();
    });
    body(() => db);
  });
}
