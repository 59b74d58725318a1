/**
 * Starts what the whole test run shares: a PostgreSQL server (unless DATABASE_URL points at one), and — for the
 * `real-temporal` project — the real Temporal server (`temporal server start-dev` of scripts/tools.sh).
 *
 * Vitest runs this once per project; the PostgreSQL server is started once and shared by both.
 */
import type { TestProject } from 'vitest/node';
import { haveServerBinaries, startThrowawayPostgres } from '../../support/postgres.js';
import { startRealTemporal, type RealTemporal } from '../../support/real-temporal.js';
import { ORDER_SEARCH_ATTRIBUTES } from '../../src/workflows/shared/search-attributes.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A PostgreSQL server URL, or '' when none can be had (tests needing one then skip themselves). */
    databaseUrl: string;
    /** The real Temporal server's frontend (`real-temporal` project only), else ''. */
    temporalAddress: string;
    /** The real server's own Web UI (`real-temporal` project only), else ''. */
    temporalUiUrl: string;
  }
}

/** The custom search attributes tests use besides the daemon's own (test/devserver/visibility.test.ts). */
export const TEST_SEARCH_ATTRIBUTES = { OrderStatus: 'Keyword', Amount: 'Int', Deadline: 'Datetime' };

let postgres: Promise<{ url: string; stop?: () => Promise<void> }> | undefined;
let users = 0;

function sharedPostgres() {
  postgres ??= (async () => {
    const url = process.env.DATABASE_URL;
    if (url !== undefined) return { url };
    if (process.env.MOSTRO_TEST_PG === 'none' || !haveServerBinaries()) {
      // A laptop without PostgreSQL: the database suites run on in-process PGlite only. CI installs PostgreSQL.
      console.warn('PostgreSQL server binaries not found and no DATABASE_URL: PostgreSQL-only tests are skipped.');
      return { url: '' };
    }
    return startThrowawayPostgres();
  })();
  return postgres;
}

export default async function setup(project: TestProject) {
  users++;
  const pg = await sharedPostgres();
  project.provide('databaseUrl', pg.url);
  let temporal: RealTemporal | undefined;
  if (project.name === 'real-temporal') {
    temporal = await startRealTemporal({ ui: true, searchAttributes: { ...ORDER_SEARCH_ATTRIBUTES, ...TEST_SEARCH_ATTRIBUTES } });
  }
  project.provide('temporalAddress', temporal?.address ?? '');
  project.provide('temporalUiUrl', temporal?.uiUrl ?? '');
  return async () => {
    await temporal?.stop();
    if (--users === 0) await pg.stop?.();
  };
}
