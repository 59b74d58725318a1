/** Starts what the whole test run shares: a PostgreSQL server (unless DATABASE_URL points at one). */
import type { TestProject } from 'vitest/node';
import { haveServerBinaries, startThrowawayPostgres } from '../helpers/postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A PostgreSQL server URL, or '' when none can be had (tests needing one then skip themselves). */
    databaseUrl: string;
  }
}

export default async function setup(project: TestProject) {
  let url = process.env.DATABASE_URL;
  let stop: (() => Promise<void>) | undefined;
  if (!url && (process.env.MOSTRO_TEST_PG === 'none' || !haveServerBinaries())) {
    // A laptop without PostgreSQL: the database suites run on in-process PGlite only. CI installs PostgreSQL.
    console.warn('PostgreSQL server binaries not found and no DATABASE_URL: PostgreSQL-only tests are skipped.');
    url = '';
  }
  if (url === undefined) ({ url, stop } = await startThrowawayPostgres());
  project.provide('databaseUrl', url);
  return async () => {
    await stop?.();
  };
}
