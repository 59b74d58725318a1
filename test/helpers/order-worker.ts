/**
 * The order worker's activities for tests, built from a plain (serializable) configuration, so the same worker runs
 * inside the test process or in a child process that a crash test kills.
 */
import * as ln from 'lightning';
import { hexToBytes } from '@noble/hashes/utils.js';
import { makerReputation } from '../../src/activities/database.js';
import type { LightningSettings } from '../../src/activities/lightning-deps.js';
import { createActivities } from '../../src/activities/index.js';
import type { Db } from '../../src/db/database.js';
import type { LndCredentials } from '@mostro/lnsim';
import { NostrEgress } from '../../src/nostr/egress.js';
import { RelayPool } from '../../src/nostr/relay-pool.js';
import { PriceManager } from '../../src/price/manager.js';
import { yadioProvider } from '../../src/price/yadio.js';
import type { Transport } from '@mostro/protocol';
import type { OrderSettings } from '../../src/domain/order-settings.js';
import { getPublicKey } from 'nostr-tools/pure';
import { TEST_LIGHTNING_SETTINGS } from './lightning.js';
import { pathOf } from './temporal.js';

export const ORDER_WORKFLOWS_PATH = pathOf(new URL('../../src/workflows/index.ts', import.meta.url).href);

export interface OrderWorkerConfig {
  temporalAddress: string;
  namespace: string;
  taskQueue: string;
  /** PostgreSQL; absent when the database is an in-process PGlite. */
  databaseUrl?: string;
  lnd: LndCredentials;
  relayUrl: string;
  mostroSecretHex: string;
  /** The same secret across restarts: hold invoices created before a crash must stay settleable after it. */
  preimageSecretHex: string;
  transport: Transport;
  priceUrl: string;
  settings: OrderSettings;
  /** The daemon's Lightning settings (default: the simulated network's). */
  lightning?: LightningSettings;
}

export function orderWorkerActivities(
  cfg: OrderWorkerConfig,
  db: Db,
  shared: { egress?: NostrEgress; prices?: PriceManager } = {},
) {
  const mostroKey = hexToBytes(cfg.mostroSecretHex);
  const mostroPubkey = getPublicKey(mostroKey);
  const egress = shared.egress ?? new NostrEgress({ pool: new RelayPool([cfg.relayUrl], { backoffMinMs: 50, backoffMaxMs: 200 }), mostroKey, transport: cfg.transport });
  const prices = shared.prices ?? new PriceManager([yadioProvider(cfg.priceUrl)]);
  return createActivities({
    identity: 'test-worker',
    db,
    lightning: {
      lnd: ln.authenticatedLndGrpc(cfg.lnd).lnd,
      db,
      preimageSecret: hexToBytes(cfg.preimageSecretHex),
      settings: cfg.lightning ?? TEST_LIGHTNING_SETTINGS,
      lnurl: { allowPrivateHosts: true, allowHttp: true },
    },
    nostr: {
      egress,
      orderEvents: {
        context: () => ({ orderDays: 30, relays: [cfg.relayUrl], mostroPubkey, networks: ['regtest'] }),
        reputation: (identity) => makerReputation(db, identity),
      },
    },
    prices,
    orderSettings: cfg.settings,
    adminPubkey: mostroPubkey,
  });
}
