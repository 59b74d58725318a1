/**
 * The invoice-state ingress: follows every hold invoice a workflow created and signals that workflow when the
 * invoice becomes ACCEPTED (paid and held), SETTLED or CANCELED.
 *
 * LND's node-wide invoice stream reports only new and settled invoices, never ACCEPTED or CANCELED, so each hold
 * invoice gets its own SubscribeSingleInvoice stream. A new stream first reports the invoice's current state, which
 * makes every (re)subscription a reconciliation: after a restart or a dropped connection nothing that happened in
 * between is missed. Which invoices to follow comes from `hold_invoices` (written by the createHoldInvoice activity
 * before LND sees the invoice); the last state delivered is recorded there with a compare-and-set, so a state is
 * delivered at least once and, across watcher restarts, rarely twice (workflows treat repeats as no-ops).
 */
import * as ln from 'lightning';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { sqlOf, type Db } from '../db/database.js';
import type { Logger } from '../log.js';
import {
  holdInvoiceExpiringSignal,
  holdInvoiceSignals,
  type HoldInvoiceExpiring,
  type HoldInvoiceState,
  type HoldInvoiceUpdate,
} from '../workflows/shared/hold-invoice.js';

/** How the watcher reaches workflows: `false` when the workflow no longer exists or has closed. */
export interface HoldInvoiceSignalGateway {
  signal(workflowId: string, update: HoldInvoiceUpdate): Promise<boolean>;
  expiring(workflowId: string, e: HoldInvoiceExpiring): Promise<boolean>;
}

export class TemporalHoldInvoiceGateway implements HoldInvoiceSignalGateway {
  constructor(private readonly client: Client) {}
  signal(workflowId: string, update: HoldInvoiceUpdate): Promise<boolean> {
    return this.send(() => this.client.workflow.getHandle(workflowId).signal(holdInvoiceSignals[update.state], update));
  }
  expiring(workflowId: string, e: HoldInvoiceExpiring): Promise<boolean> {
    return this.send(() => this.client.workflow.getHandle(workflowId).signal(holdInvoiceExpiringSignal, e));
  }
  private async send(fn: () => Promise<void>): Promise<boolean> {
    try {
      await fn();
      return true;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    }
  }
}

const RANK: Record<string, number> = { open: 0, accepted: 1, settled: 2, canceled: 2, orphaned: 2 };
const isFinal = (state: string) => RANK[state] === 2;

interface Watched {
  hash: string;
  workflowId: string;
  notified: string;
  version: number;
  sub: ReturnType<typeof ln.subscribeToInvoice>;
  /** Updates for one invoice are handled one at a time, in arrival order. */
  chain: Promise<void>;
  /** The earliest expiry height of its held HTLCs, while it is held. */
  expiryHeight?: number;
  /** The owner has been told the HTLC is about to expire. */
  expiringSent?: boolean;
}

export interface InvoiceWatcherOptions {
  lnd: ln.AuthenticatedLnd;
  db: Db;
  gateway: HoldInvoiceSignalGateway;
  log: Logger;
  /**
   * How often `hold_invoices` is scanned for invoices created in the last ten minutes (ms, default 250): a seller who
   * pays at once is seen at once. Every `fullScanEvery`-th scan (default 40) looks at every open invoice, picking up
   * lost subscriptions.
   */
  pollMs?: number;
  fullScanEvery?: number;
  /** Delay before re-subscribing after a stream error (ms). */
  retryMs?: number;
  /**
   * `[lightning] escrow_deadline_margin_blocks`: the owner of a held invoice is signalled `hold-invoice-expiring` once
   * the chain is this close to the HTLC's expiry. Absent: not watched.
   */
  expiryMarginBlocks?: number;
  /** How often the chain's height is read for that (ms, default 10 s). */
  heightPollMs?: number;
}

export class InvoiceWatcher {
  private readonly watched = new Map<string, Watched>();
  /**
   * Invoices this watcher saw to their end, and when: a scan that read a row before that end was recorded must not
   * follow it again (its new stream's first message would deliver the end a second time).
   */
  private readonly finished = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;
  /** A nudge came while a scan was running: scan once more when it ends. */
  private rescan = false;
  private stopped = true;
  private scans = 0;
  private heightTimer: NodeJS.Timeout | undefined;
  private height: number | undefined;
  /** Signals delivered, by state (for operators and tests). */
  readonly delivered: Record<HoldInvoiceState, number> = { accepted: 0, settled: 0, canceled: 0 };

  constructor(private readonly opts: InvoiceWatcherOptions) {}

  /** Subscribes to every hold invoice not yet final and keeps picking up new ones. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.scan();
    this.timer = setInterval(() => void this.scan(this.scans++ % (this.opts.fullScanEvery ?? 40) === 0), this.opts.pollMs ?? 250);
    this.timer.unref?.();
    if (this.opts.expiryMarginBlocks !== undefined) {
      await this.checkHeight();
      this.heightTimer = setInterval(() => void this.checkHeight(), this.opts.heightPollMs ?? 10_000);
      this.heightTimer.unref?.();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.heightTimer) clearInterval(this.heightTimer);
    await this.scanning;
    const pending = [...this.watched.values()];
    for (const w of pending) w.sub.removeAllListeners();
    this.watched.clear();
    await Promise.allSettled(pending.map((w) => w.chain));
  }

  /** Number of invoices currently followed. */
  get size(): number {
    return this.watched.size;
  }

  /**
   * A hold invoice was just created (in this process): look at recent invoices now rather than at the next scan. A
   * scan already running may have read the table before the new row: then one more follows it.
   */
  nudge(): void {
    if (this.stopped) return;
    if (this.scanning) this.rescan = true;
    else void this.scan(false);
  }

  /** One pass over `hold_invoices` (recent ones only unless `full`): follow what is not followed yet. */
  scan(full = true): Promise<void> {
    this.scanning ??= (async () => {
      try {
        // Four times a second: plain SQL (database.ts, `Sql`). A full pass looks at every open invoice.
        const since = full ? 0 : Math.floor(Date.now() / 1000) - 600;
        const rows = (
          await sqlOf(this.opts.db).query<{ payment_hash: string; workflow_id: string; notified_state: string; version: number }>(
            `SELECT "payment_hash", "workflow_id", "notified_state", "version" FROM "hold_invoices" WHERE "notified_state" IN ('open', 'accepted') AND "created_at" >= $1`,
            [since],
          )
        ).map((r) => ({ paymentHash: r.payment_hash, workflowId: r.workflow_id, notifiedState: r.notified_state, version: Number(r.version) }));
        const forgetBefore = Date.now() - 600_000;
        for (const [hash, at] of this.finished) if (at < forgetBefore) this.finished.delete(hash);
        for (const row of rows) {
          if (this.stopped) break;
          if (!this.watched.has(row.paymentHash) && !this.finished.has(row.paymentHash)) this.follow(row.paymentHash, row.workflowId, row.notifiedState, row.version);
        }
      } catch (err) {
        this.opts.log.warn('invoice watcher: scan failed', { error: (err as Error).message });
      } finally {
        this.scanning = undefined;
        if (this.rescan) {
          this.rescan = false;
          void this.scan(false);
        }
      }
    })();
    return this.scanning;
  }

  private follow(hash: string, workflowId: string, notified: string, version: number): void {
    const sub = ln.subscribeToInvoice({ lnd: this.opts.lnd, id: hash });
    const w: Watched = { hash, workflowId, notified, version, sub, chain: Promise.resolve() };
    this.watched.set(hash, w);
    sub.on('invoice_updated', (inv: ln.SubscribeToInvoiceInvoiceUpdatedEvent) => {
      const state = inv.is_confirmed ? 'settled' : inv.is_canceled ? 'canceled' : inv.is_held ? 'accepted' : 'open';
      const amountSats = inv.is_confirmed ? inv.received : Number(BigInt(inv.received_mtokens ?? '0') / 1000n) || inv.tokens;
      const held = (inv.payments ?? []).filter((p) => p.is_held).map((p) => p.timeout);
      w.expiryHeight = state === 'accepted' && held.length > 0 ? Math.min(...held) : undefined;
      w.chain = w.chain.then(() => this.deliver(w, state, amountSats)).then(() => this.warnIfExpiring(w));
    });
    const lost = (why: string) => {
      // The stream is gone (LND restarted, connection lost, invoice unknown). Forget it; the next scan re-subscribes
      // and the new stream's first message reconciles whatever happened meanwhile.
      this.opts.log.warn('invoice watcher: subscription lost', { hash, error: why });
      sub.removeAllListeners();
      const retry = setTimeout(() => {
        if (this.watched.get(hash) === w) this.watched.delete(hash);
      }, this.opts.retryMs ?? 1000);
      retry.unref?.();
    };
    sub.on('error', (err: unknown) => lost(Array.isArray(err) ? String(err[1]) : String(err)));
    // LND shutting down ends its invoice streams cleanly (status OK), with no error: the stream is just as gone.
    sub.on('end', () => lost('the stream ended (LND stopped)'));
  }

  /** Reads the chain's height and tells the owners of held invoices whose HTLC is about to expire. */
  private async checkHeight(): Promise<void> {
    try {
      // Not `ln.getHeight`: it opens a block subscription per call and never closes it.
      this.height = (await ln.getWalletInfo({ lnd: this.opts.lnd })).current_block_height;
    } catch (err) {
      this.opts.log.warn('invoice watcher: cannot read the block height', { error: Array.isArray(err) ? String(err[1]) : String(err) });
      return;
    }
    for (const w of this.watched.values()) w.chain = w.chain.then(() => this.warnIfExpiring(w));
  }

  private async warnIfExpiring(w: Watched): Promise<void> {
    const margin = this.opts.expiryMarginBlocks;
    if (margin === undefined || this.stopped || w.expiringSent || w.notified !== 'accepted' || w.expiryHeight === undefined || this.height === undefined) return;
    if (this.height < w.expiryHeight - margin) return;
    const e: HoldInvoiceExpiring = { hash: w.hash, expiryHeight: w.expiryHeight, height: this.height };
    try {
      await this.opts.gateway.expiring(w.workflowId, e);
      w.expiringSent = true;
      this.opts.log.warn('invoice watcher: a held HTLC is about to expire; its owner was told', { hash: w.hash, expiryHeight: e.expiryHeight, height: e.height });
    } catch (err) {
      // Temporal unreachable: the next height check tries again.
      this.opts.log.warn('invoice watcher: could not signal an expiring HTLC', { hash: w.hash, error: (err as Error).message });
    }
  }

  private async deliver(w: Watched, state: string, amountSats: number): Promise<void> {
    if (this.stopped || RANK[state]! <= RANK[w.notified]!) return;
    const update: HoldInvoiceUpdate = { hash: w.hash, state: state as HoldInvoiceState, amountSats };
    // The owner can change while the invoice is followed (a range maker's bond moves to the remainder order); and
    // another watcher (or this one, on an older stream) may have delivered this state already: then adopt its record.
    const owner = await this.opts.db.holdInvoice
      .findUnique({ where: { paymentHash: w.hash }, select: { workflowId: true, notifiedState: true, version: true } })
      .catch(() => null);
    if (owner) {
      w.workflowId = owner.workflowId;
      if (RANK[owner.notifiedState]! >= RANK[state]!) {
        w.notified = owner.notifiedState;
        w.version = owner.version;
        if (isFinal(w.notified)) this.unfollow(w);
        return;
      }
    }
    let exists = true;
    for (let attempt = 0; ; attempt++) {
      try {
        exists = await this.opts.gateway.signal(w.workflowId, update);
        break;
      } catch (err) {
        if (this.stopped) return;
        // Temporal unreachable: keep trying; the state is not recorded as delivered until it is.
        this.opts.log.warn('invoice watcher: signal failed, retrying', { hash: w.hash, state, error: (err as Error).message });
        await new Promise((r) => setTimeout(r, Math.min(30_000, 250 * 2 ** Math.min(attempt, 7))));
      }
    }
    if (exists) this.delivered[update.state]++;
    else this.opts.log.warn('invoice watcher: owning workflow is gone', { hash: w.hash, workflowId: w.workflowId, state });
    // A workflow that is gone cannot act on the invoice: `orphaned` stops the watching and marks it for operators.
    const recorded = exists ? state : 'orphaned';
    const changed = await sqlOf(this.opts.db).execute(
      'UPDATE "hold_invoices" SET "notified_state" = $1, "updated_at" = $2, "version" = "version" + 1 WHERE "payment_hash" = $3 AND "version" = $4',
      [recorded, Math.floor(Date.now() / 1000), w.hash, w.version],
    );
    if (changed === 1) {
      w.notified = recorded;
      w.version += 1;
    } else {
      // Another watcher recorded a delivery first: adopt its record.
      const row = await this.opts.db.holdInvoice.findUnique({ where: { paymentHash: w.hash } });
      if (row) {
        w.notified = RANK[row.notifiedState]! >= RANK[recorded]! ? row.notifiedState : recorded;
        w.version = row.version;
      }
    }
    if (isFinal(w.notified)) this.unfollow(w);
  }

  private unfollow(w: Watched): void {
    w.sub.removeAllListeners();
    if (this.watched.get(w.hash) === w) this.watched.delete(w.hash);
    this.finished.set(w.hash, Date.now());
  }
}
