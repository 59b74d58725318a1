/**
 * All activities of the daemon, grouped by the external system they touch. A worker gets the groups whose systems
 * it was given (a worker without LND credentials, say, runs no Lightning activities).
 */
import { bytesToHex } from '@noble/hashes/utils.js';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Db } from '../db/database.js';
import { isPermanentDbError, sqlState } from '../db/errors.js';
import { holdInvoicePreimage } from '../lightning/preimage.js';
import type { NostrEgress } from '../nostr/egress.js';
import type { PriceManager } from '../price/manager.js';
import type { OrderSettings } from '../domain/order-settings.js';
import { createDatabaseActivities } from './database.js';
import { createDecisionActivities } from './decision.js';
import { createLightningActivities } from './lightning.js';
import type { LightningDeps } from './lightning-deps.js';
import { createNostrActivities, type OrderEventSource } from './nostr.js';
import { createPriceActivities } from './price.js';
import { createSettingsActivities } from './settings.js';
import { createSystemActivities } from './system.js';

export interface ActivityDeps {
  identity: string;
  db?: Db;
  lightning?: LightningDeps;
  nostr?: { egress: NostrEgress; orderEvents?: OrderEventSource };
  prices?: PriceManager;
  orderSettings?: OrderSettings;
  /** The daemon's pubkey (the admin signs with it as identity). */
  adminPubkey?: string;
}

/**
 * Every activity heartbeats while it runs, so a worker that dies mid-activity is noticed within the workflow's
 * heartbeat timeout (seconds) rather than the activity's start-to-close timeout (minutes), and the attempt moves on to
 * a live worker.
 */
export function heartbeating<A extends unknown[], R>(fn: (...args: A) => Promise<R>, everyMs = 1000): (...args: A) => Promise<R> {
  return async (...args: A) => {
    let ctx: Context;
    try {
      ctx = Context.current();
    } catch {
      return fn(...args); // called outside an activity (tools, tests)
    }
    const timer = setInterval(() => ctx.heartbeat(), everyMs);
    try {
      return await fn(...args);
    } finally {
      clearInterval(timer);
    }
  };
}

function withHeartbeats<T extends Record<string, (...args: never[]) => Promise<unknown>>>(group: T): T {
  return Object.fromEntries(Object.entries(group).map(([k, f]) => [k, heartbeating(f as (...a: unknown[]) => Promise<unknown>)])) as unknown as T;
}

/**
 * A statement PostgreSQL refuses for good (bad data, a broken constraint) fails the activity without retries, as
 * `DatabaseRejected`, naming only the SQLSTATE (the data may be the user's): the workflow decides what to do instead
 * of retrying forever.
 */
export function rejectingPermanently<T extends Record<string, (...args: never[]) => Promise<unknown>>>(group: T): T {
  const wrap =
    (name: string, f: (...a: unknown[]) => Promise<unknown>) =>
    async (...args: unknown[]) => {
      try {
        return await f(...args);
      } catch (err) {
        if (isPermanentDbError(err)) throw ApplicationFailure.nonRetryable(`${name}: the database refused the write (SQLSTATE ${sqlState(err)})`, 'DatabaseRejected');
        throw err;
      }
    };
  return Object.fromEntries(Object.entries(group).map(([k, f]) => [k, wrap(k, f as (...a: unknown[]) => Promise<unknown>)])) as unknown as T;
}

export function createActivities(deps: ActivityDeps) {
  const secret = deps.lightning?.preimageSecret;
  const preimageOf = secret ? (key: string) => bytesToHex(holdInvoicePreimage(secret, key)) : undefined;
  return withHeartbeats({
    ...createSystemActivities(deps),
    ...(deps.db ? rejectingPermanently(createDatabaseActivities(deps.db, undefined, deps.adminPubkey)) : {}),
    ...(deps.lightning ? createLightningActivities(deps.lightning) : {}),
    ...(deps.nostr ? createNostrActivities(deps.nostr.egress, deps.nostr.orderEvents, preimageOf) : {}),
    ...(deps.db && deps.nostr ? rejectingPermanently(createDecisionActivities(deps.db, deps.nostr.egress, deps.nostr.orderEvents, preimageOf)) : {}),
    ...(deps.prices ? createPriceActivities(deps.prices) : {}),
    ...(deps.orderSettings ? createSettingsActivities(deps.orderSettings) : {}),
  });
}

export type Activities = ReturnType<typeof createActivities>;
