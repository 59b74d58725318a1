/**
 * The daemon's thin ingress, assembled: Nostr messages through the intake pipeline to order workflows (start or
 * signal) and the session handlers, and LND hold-invoice states to the workflows that own the invoices.
 */
import os from 'node:os';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type * as ln from 'lightning';
import type { Db } from '../db/database.js';
import { loadActiveTradePubkeys } from '../db/active-pubkeys.js';
import { DbIngressJournal } from '../db/ingress-journal.js';
import { DbTradeIndexStore } from '../db/trade-index-store.js';
import type { Logger } from '../log.js';
import type { NostrEgress } from '../nostr/egress.js';
import type { RelayPool } from '../nostr/relay-pool.js';
import type { Transport } from '@mostro/protocol';
import type { OrderSettings } from '../domain/order-settings.js';
import { addBondInvoiceHandler } from './actions/add-bond-invoice.js';
import { adminAddSolverHandler } from './actions/admin-add-solver.js';
import { lastTradeIndexHandler } from './actions/last-trade-index.js';
import { payInvoiceHandler } from './actions/pay-invoice.js';
import { ordersHandler, restoreSessionHandler } from './actions/session.js';
import { Intake } from './intake.js';
import { ParallelIntake } from './parallel-intake.js';
import { refreshKnownPubkeys } from './known-pubkeys.js';
import { InvoiceWatcher, TemporalHoldInvoiceGateway } from './lightning.js';
import { NostrIngress } from './nostr.js';
import { newOrderRefusal, orderRoutes } from './router.js';
import { addBondInvoiceSignal, bondPayoutWorkflowId } from '../workflows/bond/contract.js';
import { orderWorkflowId, supportSignal } from '../workflows/order/contract.js';
import { TemporalOrderGateway } from './temporal-gateway.js';

export interface IngressOptions {
  pool: RelayPool;
  egress: NostrEgress;
  mostroKey: Uint8Array;
  mostroPubkey: string;
  transport: Transport;
  pow: number;
  powFirstContact?: number;
  db: Db;
  client: Client;
  taskQueue: string;
  /** Without LND no invoice states reach the workflows (a Nostr-only ingress process). */
  lnd?: ln.AuthenticatedLnd;
  log: Logger;
  activePubkeysRefreshMs?: number;
  /** Order settings handed to new order workflows (absent: each workflow asks the worker's `orderSettings`). */
  orderSettings?: OrderSettings;
  /** How often the invoice watcher reads the block height for the escrow deadline (ms, default 10 s). */
  heightPollMs?: number;
  /** `[mostro] max_orders_per_response` (the `orders` action). */
  maxOrdersPerResponse?: number;
  invoicePollMs?: number;
  /**
   * Worker threads for the intake's cryptography (signatures, decryption); 0 runs it on the main thread. Default:
   * one core less than the machine has (at least one), so a storm of hostile events does not take the thread that
   * runs the relay, the database and the workflows' activities.
   */
  intakeThreads?: number;
}

export interface RunningIngress {
  nostr: NostrIngress;
  invoices: InvoiceWatcher | undefined;
  stop(): Promise<void>;
}

export async function startIngress(o: IngressOptions): Promise<RunningIngress> {
  const tradeIndex = new DbTradeIndexStore(o.db);
  const intakeOptions = { transport: o.transport, mostroKey: o.mostroKey, pow: o.pow, powFirstContact: o.powFirstContact, tradeIndex };
  const orderSettings = o.orderSettings;
  const threads = o.intakeThreads ?? Math.max(1, os.availableParallelism() - 1);
  const intake = threads > 0 ? new ParallelIntake({ ...intakeOptions, threads }) : new Intake(intakeOptions);
  const known = refreshKnownPubkeys(intake, () => loadActiveTradePubkeys(o.db), { intervalMs: o.activePubkeysRefreshMs, log: o.log });
  await known.refreshNow();
  const nostr = new NostrIngress({
    pool: o.pool,
    intake,
    egress: o.egress,
    transport: o.transport,
    mostroPubkey: o.mostroPubkey,
    handlers: {
      ...orderRoutes(
        new TemporalOrderGateway(o.client, o.taskQueue, o.orderSettings),
        async (id) => (await o.db.order.findUnique({ where: { id }, select: { status: true } }))?.status ?? null,
        async (id) => (await o.db.dispute.findUnique({ where: { id }, select: { orderId: true } }))?.orderId ?? null,
        o.orderSettings,
      ),
      'last-trade-index': lastTradeIndexHandler(tradeIndex),
      'pay-invoice': payInvoiceHandler,
      'admin-add-solver': adminAddSolverHandler(o.db, o.mostroPubkey),
      'add-bond-invoice': addBondInvoiceHandler(o.db, async (bondId, message) => {
        try {
          await o.client.workflow.getHandle(bondPayoutWorkflowId(bondId)).signal(addBondInvoiceSignal, message);
          return true;
        } catch (err) {
          if (err instanceof WorkflowNotFoundError) return false;
          throw err;
        }
      }),
      'restore-session': restoreSessionHandler(o.db, async (orderId) => {
        await o.client.workflow
          .getHandle(orderWorkflowId(orderId))
          .signal(supportSignal, { action: 'resend-add-invoice', operator: 'restore-session', reason: 'the buyer restored its session' })
          .catch((err: unknown) => o.log.warn('could not ask for a new payout invoice', { orderId, err: String(err) }));
      }),
      orders: ordersHandler(o.db, o.maxOrdersPerResponse ?? 10),
    },
    log: o.log,
    journal: new DbIngressJournal(o.db, o.mostroPubkey),
    likelyRefused: (m) => m.kind.action === 'new-order' && orderSettings !== undefined && newOrderRefusal(m, orderSettings) !== null,
  });
  await nostr.start();
  let invoices: InvoiceWatcher | undefined;
  if (o.lnd) {
    invoices = new InvoiceWatcher({
      lnd: o.lnd,
      db: o.db,
      gateway: new TemporalHoldInvoiceGateway(o.client),
      log: o.log,
      pollMs: o.invoicePollMs,
      expiryMarginBlocks: o.orderSettings?.escrowDeadlineMarginBlocks,
      heightPollMs: o.heightPollMs,
    });
    await invoices.start();
  }
  return {
    nostr,
    invoices,
    async stop() {
      known.stop();
      nostr.stop();
      await nostr.idle();
      await nostr.saveCursor();
      await intake.close();
      await invoices?.stop();
    },
  };
}
