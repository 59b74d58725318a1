/**
 * The ingress's relay subscription and, with a journal, its durable cursor: the point before which every event its
 * relays accepted has been handled. Each event taken in holds the cursor back until it was handed to its workflow or
 * answered (or dropped); a relay connection still catching up holds it at the point it catches up from. A restart
 * subscribes from the saved cursor minus a margin; the journal's event rows (checked by the ingress's gate) make each
 * re-delivered event count once. Kept apart from the admission (nostr.ts), which only takes holds and releases them.
 */
import { transportEventKind, type Transport } from '@mostro/protocol';
import type { Delivery, Filter, RelayPool } from '../nostr/relay-pool.js';
import type { IngressJournal } from '../db/ingress-journal.js';
import type { IngressLogger } from './dispatch.js';
import { CATCH_UP_MARGIN_SECS, GIFT_WRAP_SKEW_SECS, JOURNAL_RETENTION_SLACK_SECS } from './journal.js';

export interface CatchUpSubscriptionOptions {
  pool: RelayPool;
  transport: Transport;
  mostroPubkey: string;
  log: IngressLogger;
  /** The durable cursor and the record of handled events; without it nothing survives a restart (tests, tools). */
  journal?: IngressJournal;
  /** How often the cursor is saved (ms). */
  cursorSaveMs?: number;
  /** How often handled-event rows outside every catch-up window are deleted (ms). */
  journalPruneMs?: number;
}

const nowSecs = () => Math.floor(Date.now() / 1000);

export class CatchUpSubscription {
  private sub: { id: string; close(): void } | undefined;
  /** Cursor holds of events taken in: the point each keeps the cursor at until it is done with. */
  private readonly holds = new Map<number, number>();
  private nextHold = 0;
  /** Set when the subscription closed: nothing after this point was delivered. */
  private stoppedAt: number | undefined;
  private savedCursor: number | undefined;
  private saving: Promise<void> | undefined;
  private timers: NodeJS.Timeout[] = [];

  constructor(private readonly o: CatchUpSubscriptionOptions) {}

  /** How far before a catch-up point the relays are asked to look (outer `created_at`). */
  private lookbackSecs(): number {
    // v1 wraps carry timestamps randomized up to two days into the past; v2 events carry the real time.
    return (this.o.transport === 'gift-wrap' ? GIFT_WRAP_SKEW_SECS : 0) + CATCH_UP_MARGIN_SECS;
  }

  /** The subscription filter: only new events, or everything a relay stored since a catch-up point. */
  filters(since: number | undefined): Filter[] {
    const base: Filter = { kinds: [transportEventKind(this.o.transport)], '#p': [this.o.mostroPubkey] };
    if (since === undefined) return [{ ...base, limit: 0 }];
    return [{ ...base, since: since - this.lookbackSecs() }];
  }

  /**
   * Subscribes; with a journal, from the saved cursor (nothing saved yet: new events only, as the reference).
   * `readyForMore` paces a catch-up's pages.
   */
  async start(onEvent: (raw: unknown, delivery: Delivery) => void, readyForMore: () => Promise<void>): Promise<void> {
    const journal = this.o.journal;
    const since = journal ? ((await journal.loadCursor()) ?? undefined) : undefined;
    this.stoppedAt = undefined;
    this.sub = this.o.pool.subscribe({
      since,
      filters: (s) => this.filters(s),
      onEvent: (ev, _url, delivery) => onEvent(ev, delivery),
      readyForMore,
    });
    if (since !== undefined) this.o.log.info('catching up from the ingress cursor', { since, lookbackSecs: this.lookbackSecs() });
    if (journal) {
      const save = setInterval(() => void this.saveCursor(), this.o.cursorSaveMs ?? 1000);
      const prune = setInterval(() => void this.prune(), this.o.journalPruneMs ?? 600_000);
      save.unref();
      prune.unref();
      this.timers.push(save, prune);
      await this.saveCursor();
    }
  }

  stop(): void {
    if (this.sub) this.stoppedAt = this.o.pool.completeFrom(this.sub.id) ?? nowSecs();
    this.sub?.close();
    this.sub = undefined;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }

  /**
   * Holds the cursor for an event taken in at `receivedAt`, until {@link release}: a stored event (a catch-up's) may
   * have been sent any time after the catch-up point, so it holds the cursor there.
   */
  hold(delivery: Delivery, receivedAt: number): number {
    const hold = this.nextHold++;
    this.holds.set(hold, delivery.stored ? Math.min(delivery.since ?? receivedAt, receivedAt) : receivedAt);
    return hold;
  }

  /** The event of `hold` is done with: it no longer holds the cursor back. */
  release(hold: number): void {
    this.holds.delete(hold);
  }

  /**
   * The point (unix s) before which every event the relays accepted has been handled: the oldest hold of a queued
   * event, the point a relay connection is still catching up from, otherwise now.
   */
  cursor(): number {
    let at = this.stoppedAt ?? (this.sub && this.o.pool.completeFrom(this.sub.id)) ?? nowSecs();
    for (const h of this.holds.values()) at = Math.min(at, h);
    return at;
  }

  /** Saves the cursor when it moved (one save at a time). */
  async saveCursor(): Promise<void> {
    const journal = this.o.journal;
    if (!journal) return;
    while (this.saving) await this.saving;
    const at = this.cursor();
    if (at === this.savedCursor) return;
    this.saving = journal.saveCursor(at).then(
      () => {
        this.savedCursor = at;
      },
      (err: unknown) => this.o.log.warn('could not save the ingress cursor', { err: String(err) }),
    );
    try {
      await this.saving;
    } finally {
      this.saving = undefined;
    }
  }

  /** Deletes event rows that no catch-up from the saved cursor can re-deliver. */
  private async prune(): Promise<void> {
    if (this.savedCursor === undefined || !this.o.journal) return;
    try {
      await this.o.journal.prune(this.savedCursor - this.lookbackSecs() - JOURNAL_RETENTION_SLACK_SECS);
    } catch (err) {
      this.o.log.warn('could not prune the ingress journal', { err: String(err) });
    }
  }
}
