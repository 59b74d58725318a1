/**
 * The thin Nostr ingress: subscribes to the relays for the transport's kind p-tagged to the daemon, runs every event
 * through the intake pipeline, and hands accepted messages to the handler of their action. A handler failing with
 * {@link CantDoError} is answered with `cant-do` to the sender (echoing `request_id` and `id`), as the reference's
 * `manage_errors` does; any other failure is logged and gets no reply. Unhandled actions are ignored.
 *
 * With a journal the ingress keeps a durable cursor: the point before which every event its relays accepted has
 * been handled. Each queued event holds the cursor back until it was handed to its workflow or answered (or
 * dropped); a relay connection still catching up holds it at the point it catches up from. A restart subscribes
 * from the saved cursor minus a margin, and the journal's event rows make each re-delivered event count once.
 */
import {
  transportEventKind,
  type Action,
  type CantDoReason,
  type Message,
  type MessageKind,
  type NostrEvent,
  type Transport,
  type UnwrappedMessage,
} from '../protocol/index.js';
import { cantDo, type NostrEgress } from '../nostr/egress.js';
import type { Logger } from '../log.js';
import type { Delivery, Filter, RelayPool } from '../nostr/relay-pool.js';
import { isTradeAction, type GateResult, type Intake, type IntakeResult } from './intake.js';
import { CATCH_UP_MARGIN_SECS, GIFT_WRAP_SKEW_SECS, JOURNAL_RETENTION_SLACK_SECS, type IngressEventState, type IngressJournal } from './journal.js';
import { metrics } from '../metrics.js';
import { unwrapKind } from '../protocol/kind.js';

export class CantDoError extends Error {
  constructor(readonly reason: CantDoReason) {
    super(`cant-do ${reason}`);
    this.name = 'CantDoError';
  }
}

export interface AcceptedMessage {
  event: NostrEvent;
  unwrapped: UnwrappedMessage;
  kind: MessageKind;
  /** When the event reached the ingress (wall-clock ms): the start of the reply latency the daemon measures. */
  receivedAtMs?: number;
}

export interface HandlerIo {
  /** Sends a message to a pubkey (in order after earlier sends to it). */
  reply(to: string, msg: Message): Promise<void>;
}

export type ActionHandler = (m: AcceptedMessage, io: HandlerIo) => Promise<void>;

export type IngressLogger = Pick<Logger, 'info' | 'warn' | 'error'>;

export interface NostrIngressOptions {
  pool: RelayPool;
  intake: Intake;
  egress: NostrEgress;
  transport: Transport;
  mostroPubkey: string;
  handlers: Partial<Record<Action, ActionHandler>>;
  log?: IngressLogger;
  /** Live events waiting for the pipeline beyond which new ones are dropped (flood protection). */
  maxQueue?: number;
  /** The durable cursor and the record of handled events; without it nothing survives a restart (tests, tools). */
  journal?: IngressJournal;
  /** How often the cursor is saved (ms). */
  cursorSaveMs?: number;
  /** How often handled-event rows outside every catch-up window are deleted (ms). */
  journalPruneMs?: number;
}

const nowSecs = () => Math.floor(Date.now() / 1000);

function eventIdOf(raw: unknown): string | undefined {
  const id = (raw as { id?: unknown } | null)?.id;
  return typeof id === 'string' ? id : undefined;
}

/** A gated event and what the journal knew of it. */
interface Gated {
  g: GateResult;
  prior: IngressEventState | null;
}

const quiet: IngressLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

export class NostrIngress {
  private sub: { id: string; close(): void } | undefined;
  private chain: Promise<void> = Promise.resolve();
  private queued = 0;
  overloaded = 0;
  handled = 0;
  ignored = 0;
  private readonly log: IngressLogger;
  /** Cursor holds of queued events: the point each keeps the cursor at until it is done with. */
  private readonly holds = new Map<number, number>();
  private nextHold = 0;
  /** Authenticated ids of events between the gate and the end of their handling: a second copy is a replay. */
  private readonly inflight = new Set<string>();
  /** Set when the subscription closed: nothing after this point was delivered. */
  private stoppedAt: number | undefined;
  private savedCursor: number | undefined;
  private saving: Promise<void> | undefined;
  private timers: NodeJS.Timeout[] = [];

  constructor(private readonly o: NostrIngressOptions) {
    this.log = o.log ?? quiet;
  }

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

  /** Subscribes; with a journal, from the saved cursor (nothing saved yet: new events only, as the reference). */
  async start(): Promise<void> {
    const journal = this.o.journal;
    const since = journal ? ((await journal.loadCursor()) ?? undefined) : undefined;
    this.stoppedAt = undefined;
    this.sub = this.o.pool.subscribe({
      since,
      filters: (s) => this.filters(s),
      onEvent: (ev, _url, delivery) => this.enqueue(ev, delivery),
      readyForMore: () => this.roomForMore(),
    });
    if (since !== undefined) this.log.info('catching up from the ingress cursor', { since, lookbackSecs: this.lookbackSecs() });
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

  /** Resolves when every event received so far has been processed. */
  idle(): Promise<void> {
    return this.chain;
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
      (err: unknown) => this.log.warn('could not save the ingress cursor', { err: String(err) }),
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
      this.log.warn('could not prune the ingress journal', { err: String(err) });
    }
  }

  /** Paging a catch-up waits while the queue is more than half full. */
  private async roomForMore(): Promise<void> {
    const limit = (this.o.maxQueue ?? 10_000) / 2;
    while (this.queued > limit) await new Promise((r) => setTimeout(r, 50));
  }

  /**
   * Gating (signatures, decryption) of queued events runs concurrently — in worker threads with a ParallelIntake —
   * while admission and routing happen one at a time in arrival order.
   */
  enqueue(raw: unknown, delivery: Delivery = { stored: false }): void {
    // Stored events come in pages the subscription asks for only when there is room; only live ones can flood.
    if (!delivery.stored && this.queued >= (this.o.maxQueue ?? 10_000)) {
      this.overloaded++;
      return;
    }
    this.queued++;
    const arrived = performance.now();
    const receivedAtMs = Date.now();
    const receivedAt = Math.floor(receivedAtMs / 1000);
    // A stored event may have been sent any time after the catch-up point: it holds the cursor there.
    const hold = this.nextHold++;
    this.holds.set(hold, delivery.stored ? Math.min(delivery.since ?? receivedAt, receivedAt) : receivedAt);
    const gated = this.gate(raw, delivery, receivedAt);
    this.chain = this.chain.then(async () => {
      let id: string | undefined;
      try {
        const { g, prior } = await gated;
        if (g.type === 'pass') id = g.event.id;
        await this.admitAndRoute(g, prior, arrived, receivedAtMs);
      } catch (err) {
        this.log.error('ingress failed on an event', { err: String((err as Error)?.stack ?? err) });
      } finally {
        if (id !== undefined) this.inflight.delete(id);
        this.holds.delete(hold);
        this.queued--;
      }
    });
  }

  /** The gate, plus what the journal knows of the event: already handled events end here as replays. */
  private async gate(raw: unknown, delivery: Delivery, receivedAt: number): Promise<Gated> {
    const journal = this.o.journal;
    const replay: Gated = { g: { type: 'drop', reason: 'replay' }, prior: 'done' };
    // A catch-up re-delivers what was handled before: skip those before any cryptography. (Dropping a copy by its
    // id alone is safe here: the event with that id was authenticated and handled.)
    if (journal && delivery.stored) {
      const id = eventIdOf(raw);
      if (id && (await journal.state(id)) === 'done') return replay;
    }
    const freshFrom = delivery.stored && delivery.since !== undefined ? delivery.since - CATCH_UP_MARGIN_SECS : undefined;
    const g = await this.o.intake.gate(raw, { receivedAt, freshFrom });
    if (g.type !== 'pass') return { g, prior: null };
    // Ids are trusted only once authenticated: a forged copy must not get the genuine event dropped.
    if (this.inflight.has(g.event.id)) return replay;
    this.inflight.add(g.event.id);
    try {
      const prior = journal ? await journal.state(g.event.id) : null;
      if (prior === 'done') {
        this.inflight.delete(g.event.id);
        return replay;
      }
      return { g, prior };
    } catch (err) {
      this.inflight.delete(g.event.id);
      throw err;
    }
  }

  private async admitAndRoute(g: GateResult, prior: IngressEventState | null, arrived: number, receivedAtMs: number): Promise<void> {
    if (g.type === 'drop' && g.reason === 'replay' && prior === 'done') {
      this.o.intake.countDrop('replay');
      return;
    }
    const journal = this.o.journal;
    const trade = g.type === 'pass' && isTradeAction(g.kind.action);
    // Recorded before the trade index is: a crash in between leaves a row that lets the re-delivery resume.
    if (journal && g.type === 'pass' && trade && prior === null) await journal.begin(g.event.id, g.event.created_at);
    const r = await this.o.intake.admit(g, { resumed: prior === 'admitting' });
    const handled = await this.route(r, arrived, receivedAtMs);
    if (journal && g.type === 'pass' && handled && (r.type !== 'drop' || trade)) await journal.finish(g.event.id, g.event.created_at);
  }
  private io(): HandlerIo {
    return {
      reply: async (to, msg) => {
        await this.o.egress.sendReply(to, msg);
        metrics.messagesOut.inc({ action: unwrapKind(msg).kind.action });
      },
    };
  }

  /** Processes one event now (tests and tools; the subscription path goes through {@link enqueue}). */
  async handle(raw: unknown): Promise<void> {
    await this.route(await this.o.intake.process(raw));
  }

  /** False when a handler failed internally: the event was neither handed over nor answered. */
  private async route(r: IntakeResult, arrived = performance.now(), receivedAtMs = Date.now()): Promise<boolean> {
    if (r.type === 'drop') return true;
    const { unwrapped, kind, event } = r;
    metrics.messagesIn.inc({ action: kind.action });
    const timer = () => metrics.handling.observe({ action: kind.action }, (performance.now() - arrived) / 1000);
    if (r.type === 'reject-trade-index') {
      await this.sendCantDo(unwrapped.sender, kind, 'invalid_trade_index');
      return true;
    }
    const handler = this.o.handlers[kind.action];
    if (!handler) {
      this.ignored++;
      this.log.info('no handler for action; ignored', { action: kind.action });
      return true;
    }
    try {
      await handler({ event, unwrapped, kind, receivedAtMs }, this.io());
      this.handled++;
      timer();
      return true;
    } catch (err) {
      if (err instanceof CantDoError) {
        await this.sendCantDo(unwrapped.sender, kind, err.reason);
        timer();
        return true;
      }
      // Internal errors get no reply, as upstream: the client times out rather than learn internals.
      this.log.error('handler failed', { action: kind.action, err: String((err as Error)?.message ?? err) });
      return false;
    }
  }

  private async sendCantDo(to: string, request: MessageKind, reason: CantDoReason): Promise<void> {
    try {
      await this.o.egress.sendReply(to, cantDo(request, reason));
      metrics.messagesOut.inc({ action: 'cant-do' });
    } catch (err) {
      this.log.warn('could not send cant-do', { reason, err: String(err) });
    }
  }

  stats() {
    return {
      ...this.o.intake.stats(),
      handled: this.handled,
      ignored: this.ignored,
      overloaded: this.overloaded,
    };
  }
}
