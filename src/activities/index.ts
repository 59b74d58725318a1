/**
 * All activities of the daemon, grouped by the external system they touch. A worker gets the groups whose systems
 * it was given (a worker without LND credentials, say, runs no Lightning activities).
 */
import type { Db } from '../db/database.js';
import type { Reputation } from '../nostr/events.js';
import type { NostrEgress } from '../nostr/egress.js';
import type { PriceManager } from '../price/manager.js';
import type { OrderSettings } from '../workflows/order/machine.js';
import { createDatabaseActivities } from './database.js';
import { createLightningActivities, type LightningDeps } from './lightning.js';
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
}

export function createActivities(deps: ActivityDeps) {
  return {
    ...createSystemActivities(deps),
    ...(deps.db ? createDatabaseActivities(deps.db) : {}),
    ...(deps.lightning ? createLightningActivities(deps.lightning) : {}),
    ...(deps.nostr ? createNostrActivities(deps.nostr.egress, deps.nostr.orderEvents) : {}),
    ...(deps.prices ? createPriceActivities(deps.prices) : {}),
    ...(deps.orderSettings ? createSettingsActivities(deps.orderSettings) : {}),
  };
}

export type Activities = ReturnType<typeof createActivities>;

/** The maker reputation order events carry: from the `users` row of the maker's identity, zeros when unknown. */
export async function makerReputation(db: Db, identity: string | null): Promise<Reputation> {
  const u = identity ? await db.user.findUnique({ where: { pubkey: identity } }) : null;
  return u ? { totalRating: u.totalRating, totalReviews: u.totalReviews, userCreatedAt: Number(u.createdAt) } : { totalRating: 0, totalReviews: 0, userCreatedAt: 0 };
}
