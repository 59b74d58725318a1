/**
 * PostgreSQL errors as the Prisma driver adapters (pg and PGlite alike) report them: the SQLSTATE sits in
 * `meta.driverAdapterError.cause.originalCode` (raw queries, model queries) or on the error itself (`pg`).
 */

/** The SQLSTATE of a database error, or null when `err` did not come from PostgreSQL. */
export function sqlState(err: unknown): string | null {
  const e = err as { code?: unknown; meta?: { driverAdapterError?: { cause?: { originalCode?: unknown } } } } | null;
  const code = e?.meta?.driverAdapterError?.cause?.originalCode ?? (typeof e?.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) ? e.code : undefined);
  return typeof code === 'string' ? code : null;
}

/**
 * The statement can never succeed as written: a data exception (class 22: text PostgreSQL cannot store, a number out
 * of range) or an integrity constraint violation (class 23). Retrying it would loop forever; anything else (a lost
 * connection, a serialization failure, a server restarting) may pass on a later attempt.
 */
export function isPermanentDbError(err: unknown): boolean {
  const state = sqlState(err);
  return state !== null && (state.startsWith('22') || state.startsWith('23'));
}
