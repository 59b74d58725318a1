/**
 * The daemon assembled from its settings: the Temporal worker (order workflows + activities) and/or the ingress
 * (Nostr intake, LND invoice watcher, info event), plus — for whatever the settings leave unset — the embedded parts
 * of the one-command default: Temporal server, PGlite, local relay, simulated Lightning network.
 *
 * `start` runs both roles in one process; `worker` and `ingress` run one each and so need parts that several
 * processes can share (PostgreSQL, a Temporal cluster, real relays, an LND node).
 */
import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@temporalio/client';
import { getPublicKey } from 'nostr-tools/pure';
import { nip19 } from 'nostr-tools';
import { makerReputation } from '../activities/database.js';
import { createLightningActivities } from '../activities/lightning.js';
import { bondPolicyOf, invoiceRulesOf, lightningSettingsOf, orderSettingsOf, priceSettingsOf, temporalTargetOf } from '../config/derive.js';
import { ConfigError, type Settings } from '../config/settings.js';
import { openDatabase, type Database } from '../db/database.js';
import { startDevServer } from '@mostro/temporal-devserver';
import { startAdminRpc } from '../rpc/admin-service.js';
import { startIngress } from '../ingress/index.js';
import { startLnsim, type Lnsim } from '@mostro/lnsim';
import type { DaemonLogger } from '../logging.js';
import { gaugeFrom, startMetricsServer, type HealthCheck } from '../metrics.js';
import { NostrEgress } from '../nostr/egress.js';
import { infoEvent } from '../nostr/events.js';
import { startLocalRelay } from '../nostr/local-relay.js';
import { RelayPool } from '../nostr/relay-pool.js';
import { PriceManager } from '../price/manager.js';
import { yadioProvider } from '../price/yadio.js';
import { transportProtocolVersion } from '@mostro/protocol';
import { connectClient, registerSearchAttributes } from '../temporal/connect.js';
import { createWorker } from '../workers/worker.js';
import { ORDER_SEARCH_ATTRIBUTES } from '../workflows/shared/search-attributes.js';
import { lockDirectory, DirInUseError } from '@mostro/dir-lock';
import { CANNOT_START, embedded, preflight, setting, step } from './checks.js';
import { prepareDataDir } from './data-dir.js';
import { daemonKey, preimageSecretOf } from './keys.js';
import { connectLnd, lndCredentialsOf, probeLnd } from './lnd.js';
import { EMBEDDED_PORTS } from './ports.js';

export { EMBEDDED_PORTS };

/** Written to the data directory while `start` runs: the `DaemonInfo` (plus pid) for tools such as the demo. */
export const DAEMON_INFO_FILE = 'daemon.json';

export interface DaemonOptions {
  settings: Settings;
  dataDir: string;
  roles: { worker: boolean; ingress: boolean };
  /** `fixed`: the embedded parts on EMBEDDED_PORTS; `ephemeral`: free ports (tests, several daemons side by side). */
  ports?: 'fixed' | 'ephemeral';
  log: DaemonLogger;
  version?: string;
}

export interface DaemonInfo {
  pubkey: string;
  npub: string;
  keySource: 'settings' | 'generated' | 'data-dir';
  relays: string[];
  temporal: { address: string; namespace: string; taskQueue: string; embedded: boolean };
  database: 'postgresql' | 'pglite';
  lightning: { mode: 'lnd' | 'simulated'; network: string; nodePubkey: string; lnsimControl?: string; devFeeAddress: string | null };
  metrics?: string;
  /** `host:port` of mostrod's admin gRPC service, when `[rpc] enabled`. */
  rpc?: string;
}

export interface RunningDaemon {
  info: DaemonInfo;
  /** The daemon's Temporal client (its namespace). */
  client: Client;
  /** Resolves when the worker stops on its own (a fatal error); never when there is no worker. */
  done: Promise<void>;
  stop(): Promise<void>;
}

/** Starts parts in order and, on failure or stop, closes what exists in reverse order. */
class Parts {
  private closers: { name: string; close: () => Promise<unknown> }[] = [];
  add(name: string, close: () => Promise<unknown>): void {
    this.closers.push({ name, close });
  }
  async closeAll(log: DaemonLogger): Promise<void> {
    for (const { name, close } of this.closers.reverse()) {
      await close().catch((err: unknown) => log.warn('shutdown step failed', { part: name, err: String((err as Error)?.message ?? err) }));
    }
    this.closers = [];
  }
}

export async function startDaemon(o: DaemonOptions): Promise<RunningDaemon> {
  const { settings: s, log } = o;
  const split = !(o.roles.worker && o.roles.ingress);
  const port = (p: number) => (o.ports === 'ephemeral' ? 0 : p);
  // Parts only one process can hold cannot back a daemon split over processes.
  if (split) {
    const missing = [
      !s.temporal.address && '[temporal] address (or TEMPORAL_ADDRESS)',
      !s.database.url && '[database] url (or MOSTRO_DATABASE_URL)',
      s.nostr.relays.length === 0 && '[nostr] relays',
      !s.lightning.lnd_grpc_host && '[lightning] lnd_grpc_host, lnd_cert_file, lnd_macaroon_file (or run `npm run lnsim -- serve` and point them at it)',
    ].filter((x): x is string => typeof x === 'string');
    if (missing.length) {
      throw new ConfigError(missing.map((m) => `${m}: required when the worker and the ingress run as separate processes (\`npm start\` embeds it instead)`));
    }
  }
  prepareDataDir(o.dataDir, log, !split);
  const parts = new Parts();
  try {
    if (!split) {
      // `start` holds the whole data directory, not only the embedded Temporal store: PGlite, the relay's file, the
      // simulated network and the generated key must not be opened by two daemons either (src/dir-lock.ts).
      const lock = await lockDirectory(o.dataDir, (m) => log.warn(m)).catch((err: unknown) => {
        if (!(err instanceof DirInUseError)) throw err;
        throw new ConfigError([`data directory ${o.dataDir} is in use by another mostro process${err.holderPid ? ` (pid ${err.holderPid})` : ''}: stop it first, or give another --data-dir`], CANNOT_START);
      });
      parts.add('data directory lock', () => lock.release());
    }
    // Everything checkable before a part starts, reported at once (one line per problem, naming its setting).
    const problems = await preflight({ settings: o.settings, ports: o.ports ?? 'fixed' });
    if (problems.length) throw new ConfigError(problems, CANNOT_START);
    return await assemble(o, parts, port);
  } catch (err) {
    await parts.closeAll(log);
    throw err;
  }
}

async function assemble(o: DaemonOptions, parts: Parts, port: (p: number) => number): Promise<RunningDaemon> {
  const { settings: s, log, dataDir } = o;
  fs.mkdirSync(dataDir, { recursive: true });
  const { key: mostroKey, source: keySource } = daemonKey(s.nostr.nsec_privkey, dataDir);
  const mostroPubkey = getPublicKey(mostroKey);

  // Temporal: the configured cluster, or the embedded server with its state in the data directory.
  let address = s.temporal.address;
  const namespace = s.temporal.namespace;
  if (!address) {
    const server = await step(embedded(s, 'temporal', 'address', `the embedded Temporal server listens on ${port(EMBEDDED_PORTS.temporal) ? `127.0.0.1:${EMBEDDED_PORTS.temporal}` : 'a free port'}`), () => startDevServer({
      port: port(EMBEDDED_PORTS.temporal),
      dataDir: path.join(dataDir, 'temporal'),
      namespaces: namespace === 'default' ? [] : [namespace],
      log: log.child({ component: 'temporal' }),
    }));
    parts.add('temporal server', () => server.close());
    address = server.address;
  }
  const target = temporalTargetOf(s, address);
  const connection = await step(setting(s, 'temporal', 'address', address), () => connectClient(target));
  parts.add('temporal client', () => connection.close());
  const client = new Client({ connection, namespace });
  // Support staff filter trades by these in the Web UI; workflows cannot upsert attributes the namespace lacks.
  try {
    const added = await registerSearchAttributes(connection, namespace, ORDER_SEARCH_ATTRIBUTES);
    if (added.length) log.info('registered search attributes', { component: 'temporal', added });
  } catch (err) {
    // A cluster may forbid it for this client (Temporal Cloud registers them through its own API).
    log.warn('could not register the search attributes; register them with the operator tooling (docs/production.md)', { err: String((err as Error)?.message ?? err) });
  }

  // Database.
  const db: Database = s.database.url
    ? await step(setting(s, 'database', 'url'), () => openDatabase({ url: s.database.url! }))
    : await step(embedded(s, 'database', 'url', `the embedded PGlite database is in ${path.join(dataDir, 'pglite')}`), () => openDatabase({ pgliteDir: path.join(dataDir, 'pglite') }));
  parts.add('database', () => db.close());

  // Relays.
  let relays = s.nostr.relays;
  if (relays.length === 0) {
    const relay = await step(embedded(s, 'nostr', 'relays', `the embedded relay listens on ${port(EMBEDDED_PORTS.relay) ? `127.0.0.1:${EMBEDDED_PORTS.relay}` : 'a free port'}`), () =>
      // Bounded; the daemon's own events (replies, the order book) are the last it lets go.
      startLocalRelay({ port: port(EMBEDDED_PORTS.relay), file: path.join(dataDir, 'relay-events.jsonl'), keepAuthors: [mostroPubkey] }),
    );
    parts.add('local relay', () => relay.close());
    relays = [relay.url];
  }
  const pool = new RelayPool(relays, { log: log.child({ component: 'relays' }) });
  parts.add('relay pool', async () => pool.close());
  const egress = new NostrEgress({ pool, mostroKey, transport: s.mostro.transport, dmDays: s.expiration.dm_days });

  // Lightning.
  let lnsim: Lnsim | undefined;
  let credentials = lndCredentialsOf(s.lightning);
  if (!credentials) {
    lnsim = await step(embedded(s, 'lightning', 'lnd_grpc_host', 'the simulated Lightning network runs in this process'), () => startLnsim({
      dir: path.join(dataDir, 'lnsim'),
      grpcPort: port(EMBEDDED_PORTS.lndGrpc),
      controlPort: port(EMBEDDED_PORTS.lnsimControl),
      lnurlPort: port(EMBEDDED_PORTS.lnurl),
      log: log.child({ component: 'lnsim' }),
    }));
    parts.add('simulated lightning network', () => lnsim!.close());
    credentials = lnsim.credentials;
  }
  const lnd = connectLnd(credentials);
  // Worker and ingress in one process: a new hold invoice is followed at once (ingress/lightning.ts, `nudge`).
  let holdInvoiceCreated: (() => void) | undefined;
  const lightningDeps = {
    onHoldInvoiceCreated: () => holdInvoiceCreated?.(),
    lnd,
    db: db.prisma,
    preimageSecret: preimageSecretOf(mostroKey),
    settings: lightningSettingsOf(s),
    invoiceRules: invoiceRulesOf(s),
    // The simulated network's Lightning Addresses live on 127.0.0.1 over plain HTTP.
    lnurl: lnsim ? { allowPrivateHosts: true, allowHttp: true } : undefined,
  };
  if (!lnsim) await probeLnd(lnd, s);
  const node = await step(setting(s, 'lightning', 'lnd_grpc_host', credentials.socket), () => createLightningActivities(lightningDeps).getNodeInfo());
  const networks = node.network.split(',');

  const devFeeAddress = lnsim ? (s.mostro.dev_fee_lightning_address === '' ? '' : lnsim.addressOf('dev')) : undefined;
  const orderSettings = orderSettingsOf(s, devFeeAddress);
  const checks: Record<string, HealthCheck> = {
    relays: () => pool.ready(1000),
    temporal: async () => {
      await connection.workflowService.getSystemInfo({});
      return true;
    },
  };
  let done: Promise<void> = new Promise(() => undefined);

  if (o.roles.worker) {
    const prices = new PriceManager([yadioProvider(s.mostro.bitcoin_price_api_url)], priceSettingsOf(s), log.child({ component: 'prices' }));
    const refresh = () =>
      prices.refresh().then(
        (r) => r.failedProviders.length && log.warn('price providers failed', { component: 'prices', failed: r.failedProviders }),
        (err: unknown) => log.warn('price refresh failed', { component: 'prices', err: String(err) }),
      );
    void refresh();
    const priceTimer = setInterval(() => void refresh(), s.price.update_interval_seconds * 1000);
    parts.add('price refresh', async () => clearInterval(priceTimer));

    const { worker, connection: native, bundle } = await step(`${setting(s, 'temporal', 'namespace', namespace)}, task_queue = ${target.taskQueue}: the worker could not start`, () => createWorker(target, {
      db: db.prisma,
      lightning: lightningDeps,
      nostr: {
        egress,
        orderEvents: {
          context: () => ({ orderDays: s.expiration.order_days, relays, mostroPubkey, networks, instanceName: s.mostro.name ?? null }),
          reputation: (who) => makerReputation(db.prisma, who),
          disputeDays: s.expiration.dispute_days,
          ratingDays: s.expiration.rating_days,
        },
      },
      prices,
      orderSettings,
      adminPubkey: mostroPubkey,
    }, {
      maxCachedWorkflows: s.temporal.max_cached_workflows,
      maxConcurrentWorkflowTaskExecutions: s.temporal.max_concurrent_workflow_tasks,
      maxConcurrentActivityTaskExecutions: s.temporal.max_concurrent_activities,
      workflowThreadPoolSize: s.temporal.workflow_thread_pool_size,
      workflowStackTraces: s.temporal.workflow_stack_traces,
    }));
    parts.add('worker connection', () => native.close());
    const running = worker.run();
    done = running;
    // Draining: the worker finishes the tasks it holds, then the rest of the parts close.
    parts.add('worker', async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running.catch(() => undefined);
    });
    checks.worker = () => worker.getState() === 'RUNNING';
    log.info('worker started', {
      component: 'worker',
      taskQueue: target.taskQueue,
      identity: worker.options.identity,
      workflowBundle: `${bundle.built ? 'built' : 'cached'}: ${bundle.codePath}`,
    });
  }

  let rpcAddress: string | undefined;
  if (o.roles.ingress) {
    const ingress = await startIngress({
      pool,
      egress,
      mostroKey,
      mostroPubkey,
      transport: s.mostro.transport,
      pow: s.mostro.pow,
      powFirstContact: s.mostro.pow_first_contact,
      db: db.prisma,
      client,
      taskQueue: target.taskQueue,
      lnd,
      log: log.child({ component: 'ingress' }),
      activePubkeysRefreshMs: s.mostro.active_pubkeys_refresh_interval * 1000,
      maxOrdersPerResponse: s.mostro.max_orders_per_response,
      orderSettings,
    });
    parts.add('ingress', () => ingress.stop());
    holdInvoiceCreated = () => ingress.invoices?.nudge();
    if (s.rpc.enabled) {
      const port = o.ports === 'ephemeral' ? 0 : s.rpc.port;
      const label = setting(s, 'rpc', 'port', `${s.rpc.listen_address}:${port}`);
      const rpc = await step(label, () =>
        startAdminRpc({ host: s.rpc.listen_address, port, ingress: ingress.nostr, client, db: db.prisma, version: o.version ?? '0.0.0', log: log.child({ component: 'rpc' }), authToken: s.rpc.auth_token }),
      );
      parts.add('admin rpc', () => rpc.close());
      rpcAddress = `${s.rpc.listen_address}:${rpc.port}`;
    }
    gaugeFrom('mostro_ingress_dropped', 'Events dropped by the intake pipeline since start, by reason', 'reason', () => ingress.nostr.stats().drops);

    // The info event (kind 38385) tells clients the transport, PoW and limits; republished periodically.
    const publishInfo = async () => {
      const pow = s.mostro.pow;
      const event = egress.sign(
        infoEvent({
          now: Math.floor(Date.now() / 1000),
          mostroPubkey,
          version: o.version ?? '0.0.0',
          commitHash: process.env.MOSTRO_COMMIT_HASH ?? 'unknown',
          maxOrderAmount: s.mostro.max_order_amount,
          minPaymentAmount: s.mostro.min_payment_amount,
          expirationHours: s.mostro.expiration_hours,
          expirationSeconds: s.mostro.expiration_seconds,
          fiatCurrenciesAccepted: s.mostro.fiat_currencies_accepted,
          maxOrdersPerResponse: s.mostro.max_orders_per_response,
          fee: s.mostro.fee,
          pow,
          powFirstContact: s.mostro.transport === 'nip44' ? Math.max(pow, s.mostro.pow_first_contact ?? pow) : pow,
          protocolVersion: transportProtocolVersion(s.mostro.transport),
          holdInvoiceExpirationWindow: s.lightning.hold_invoice_expiration_window,
          holdInvoiceCltvDelta: s.lightning.hold_invoice_cltv_delta,
          invoiceExpirationWindow: s.lightning.invoice_expiration_window,
          lnd: { version: node.version, nodePubkey: node.pubkey, commitHash: '', alias: node.alias, chains: ['bitcoin'], networks, uris: node.uris },
          instanceName: s.mostro.name ?? null,
          bond: bondPolicyOf(s),
        }),
      );
      await egress.publish(event);
    };
    const info = () => publishInfo().catch((err: unknown) => log.warn('could not publish the info event', { component: 'nostr', err: String(err) }));
    await pool.ready(5000);
    await info();
    const infoTimer = setInterval(() => void info(), s.mostro.publish_mostro_info_interval * 1000);
    parts.add('info event', async () => clearInterval(infoTimer));
    log.info('ingress started', { component: 'ingress', relays, transport: s.mostro.transport });
  }

  let metricsUrl: string | undefined;
  if (s.metrics.listen !== '') {
    const listen = o.ports === 'ephemeral' ? s.metrics.listen.replace(/:\d+$/, ':0') : s.metrics.listen;
    const m = await step(setting(s, 'metrics', 'listen', listen), () => startMetricsServer(listen, checks));
    parts.add('metrics endpoint', () => m.close());
    metricsUrl = m.url;
  }

  return {
    info: {
      pubkey: mostroPubkey,
      npub: nip19.npubEncode(mostroPubkey),
      keySource,
      relays,
      temporal: { address, namespace, taskQueue: target.taskQueue, embedded: target.embedded },
      database: db.kind,
      lightning: { mode: lnsim ? 'simulated' : 'lnd', network: node.network, nodePubkey: node.pubkey, lnsimControl: lnsim?.controlUrl, devFeeAddress: orderSettings.devFeeLightningAddress },
      metrics: metricsUrl,
      ...(rpcAddress ? { rpc: rpcAddress } : {}),
    },
    client,
    done,
    stop: () => parts.closeAll(log),
  };
}
