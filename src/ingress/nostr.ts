/**
 * The thin Nostr ingress: subscribes to the relays for the transport's kind p-tagged to the daemon, runs every event
 * through the intake pipeline, and hands accepted messages to the handler of their action. A handler failing with
 * {@link CantDoError} is answered with `cant-do` to the sender (echoing `request_id` and `id`), as the reference's
 * `manage_errors` does; any other failure is logged and gets no reply. Unhandled actions are ignored.
 *
 * Under a flood, cheap checks come first and the expensive work is shared fairly (see src/ingress/fair-queue.ts):
 * oversized events and authors over their rate are dropped before any cryptography; what passes the gate waits in
 * one queue per sender (the identity), served round-robin with parties to an active trade first, several senders at
 * a time; per-sender and total bounds keep memory flat. Drops stay silent, as the reference's.
 *
 * With a journal the ingress keeps a durable cursor: the point before which every event its relays accepted has
 * been handled. Each queued event holds the cursor back until it was handed to its workflow or answered (or
 * dropped); a relay connection still catching up holds it at the point it catches up from. A restart subscribes
 * from the saved cursor minus a margin, and the journal's event rows make each re-delivered event count once.
 */
import {
  serializeMessage,
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
import { FairQueue, TokenBuckets } from './fair-queue.js';
import { isTradeAction, type DropReason, type GateResult, type Intake, type IntakeResult } from './intake.js';
import { CATCH_UP_MARGIN_SECS, GIFT_WRAP_SKEW_SECS, JOURNAL_RETENTION_SLACK_SECS } from './journal.js';
import { metrics } from '../metrics.js';
import { unwrapKind } from '../protocol/kind.js';
import { unstorableTextAt } from '../protocol/text.js';
import { isOrderAction } from '../workflows/order/contract.js';
import { type IngressEventState, type IngressJournal } from '../db/ingress-journal.js';

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
  /** Events waiting in all (flood protection; beyond it the longest backlog gives way). */
  maxQueue?: number;
  /** Events one sender may have waiting. */
  maxQueuePerSender?: number;
  /** Senders whose messages are handled at the same time (one message per sender at a time). */
  concurrency?: number;
  /** Per-sender rate limit: a burst, then a steady rate per second (identities, and v2 event authors). */
  senderRate?: { burst: number; perSecond: number };
  /** A message that will certainly be refused (judged from itself alone): it waits behind everything else. */
  likelyRefused?: (m: AcceptedMessage) => boolean;
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

/** An event between its arrival and the end of its handling. */
interface Work {
  hold: number;
  arrived: number;
  receivedAtMs: number;
  /** Its authenticated id, once the gate passed it. */
  id?: string;
  gated?: Gated & { g: Extract<GateResult, { type: 'pass' }> };
}

/** NIP-44 caps a plaintext at 65,535 bytes; v1 wraps it twice. Anything larger is not a Mostro message. */
const MAX_CONTENT_CHARS = 256 * 1024;

/**
 * How late the event loop runs timers: a short-interval timer's drift, smoothed. Busy above a threshold; when it
 * recovers, `onIdle` runs (work that waited for it can start). The timer runs only while someone asks.
 */
class LoopLag {
  private lagMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private last = 0;
  private idleRounds = 0;

  constructor(
    private readonly onIdle: () => void,
    private readonly thresholdMs = 20,
    private readonly intervalMs = 10,
  ) {}

  busy(): boolean {
    this.watch();
    return this.lagMs > this.thresholdMs;
  }

  private watch(): void {
    this.idleRounds = 0;
    if (this.timer) return;
    this.last = performance.now();
    this.timer = setInterval(() => {
      const now = performance.now();
      const drift = Math.max(0, now - this.last - this.intervalMs);
      this.last = now;
      this.lagMs = this.lagMs * 0.7 + drift * 0.3;
      if (this.lagMs <= this.thresholdMs) this.onIdle();
      // Nobody asked for a while: stop measuring.
      if (++this.idleRounds > 100) {
        clearInterval(this.timer);
        this.timer = undefined;
        this.lagMs = 0; // stale by the next time anyone asks
      }
    }, this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** Queue classes, served in this order. */
const CLASS_ACTIVE_TRADE = 0;
const CLASS_NORMAL = 1;
const CLASS_DOOMED = 2;

/** Events being gated at once at most. */
const MAX_GATING = 2_000;

/** Defaults: a trader sends a handful of messages per trade; a flood from one key is cut after its burst. */
const DEFAULT_SENDER_RATE = { burst: 20, perSecond: 2 };

const quiet: IngressLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

export class NostrIngress {
  private sub: { id: string; close(): void } | undefined;
  /** Events between arrival and the end of their handling (gating, waiting, in progress). */
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
  private readonly queue: FairQueue<Work>;
  private readonly authorRate: TokenBuckets;
  private readonly senderRate: TokenBuckets;
  private active = 0;
  private activeDoomed = 0;
  private readonly loopLag = new LoopLag(() => {
    if (this.queue.mayHaveWaiting(CLASS_DOOMED)) this.pump();
  });
  /** The highest trade index admitted per identity, most recent last. */
  private readonly tradeIndexes = new Map<string, number>();
  private idleWaiters: (() => void)[] = [];
  private arrivals: Promise<void> = Promise.resolve();

  constructor(private readonly o: NostrIngressOptions) {
    this.log = o.log ?? quiet;
    this.queue = new FairQueue({ perSender: o.maxQueuePerSender ?? 16, total: o.maxQueue ?? 5_000, classes: 3 });
    const rate = o.senderRate ?? DEFAULT_SENDER_RATE;
    this.authorRate = new TokenBuckets(rate);
    this.senderRate = new TokenBuckets(rate);
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
    this.loopLag.stop();
  }

  /** Resolves when every event received so far has been processed. */
  idle(): Promise<void> {
    if (this.queued === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
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
    const limit = (this.o.maxQueue ?? 5_000) / 2;
    while (this.queued > limit) await new Promise((r) => setTimeout(r, 50));
  }

  /**
   * Takes an event in: cheap checks, then the gate (signatures, decryption; concurrently, in worker threads with a
   * ParallelIntake), then the sender's queue. Never throws.
   */
  enqueue(raw: unknown, delivery: Delivery = { stored: false }): void {
    // Cheap checks before any cryptography: size, and the v2 author's rate (only authenticated events count against
    // it, below, so a forged copy cannot use up someone else's tokens).
    const e = raw as { content?: unknown; pubkey?: unknown } | null;
    if (typeof e?.content === 'string' && e.content.length > MAX_CONTENT_CHARS) return this.o.intake.countDrop('too-large');
    // A catch-up's events were sent over the whole gap: no rate applies to them, and none is dropped for load (the
    // pages are paced by the queue instead).
    const author = !delivery.stored && this.o.transport === 'nip44' && typeof e?.pubkey === 'string' ? e.pubkey : undefined;
    if (author !== undefined && !this.authorRate.has(author)) return this.o.intake.countDrop('rate-limited');
    // Events still being gated (worker threads falling behind): a bound on memory before any sender is known.
    if (!delivery.stored && this.queued - this.queue.size - this.active >= MAX_GATING) {
      this.overloaded++;
      return this.o.intake.countDrop('overloaded');
    }
    this.queued++;
    const receivedAtMs = Date.now();
    const receivedAt = Math.floor(receivedAtMs / 1000);
    // A stored event may have been sent any time after the catch-up point: it holds the cursor there.
    const hold = this.nextHold++;
    this.holds.set(hold, delivery.stored ? Math.min(delivery.since ?? receivedAt, receivedAt) : receivedAt);
    const work: Work = { hold, arrived: performance.now(), receivedAtMs };
    const gated = this.gate(raw, delivery, receivedAt);
    // Gated events join their sender's queue in arrival order, even when worker threads finish them out of order:
    // a sender's messages must be handled in the order it sent them.
    this.arrivals = this.arrivals.then(() =>
      gated.then(
        (g) => this.afterGate(work, g, author, delivery.stored),
        (err: unknown) => {
          this.log.error('ingress failed on an event', { err: String((err as Error)?.stack ?? err) });
          this.finish(work);
        },
      ),
    );
  }

  private afterGate(work: Work, gated: Gated, author: string | undefined, stored: boolean): void {
    const { g, prior } = gated;
    if (g.type === 'drop') {
      // Past the signature check the author is authenticated: the event counts against its rate.
      if (author !== undefined && !['malformed-event', 'pow', 'kind', 'bad-signature'].includes(g.reason)) this.authorRate.take(author);
      if (g.reason === 'replay' && prior === 'done') this.o.intake.countDrop('replay');
      else void this.o.intake.admit(g); // counts the drop
      return this.finish(work);
    }
    work.id = g.event.id;
    work.gated = { g, prior };
    const sender = g.unwrapped.identity;
    if (!stored && ((author !== undefined && !this.authorRate.take(author)) || !this.senderRate.take(sender))) return this.refuse(work, 'rate-limited');
    const pushed = this.queue.push(sender, work, this.classOf(g), stored);
    if (!pushed.accepted) return this.refuse(work, 'overloaded');
    if (pushed.evicted) this.refuse(pushed.evicted, 'overloaded');
    this.pump();
  }

  /** A gated event dropped for load: counted, and done with. */
  private refuse(work: Work, reason: DropReason): void {
    if (reason === 'overloaded') this.overloaded++;
    this.o.intake.countDrop(reason);
    this.finish(work);
  }

  /**
   * Who goes first: a party to an active trade (its message moves a trade on), then everyone else, and last a
   * message that will only be refused — a `new-order` its own fields condemn, a trade index at or below one this
   * ingress already admitted for the identity. A guess that only orders the queue: every message is still judged
   * in full when its turn comes, so a storm of doomed orders waits behind the honest traffic, not in front of it.
   */
  private classOf(g: Extract<GateResult, { type: 'pass' }>): number {
    if (this.o.intake.isKnown(g.unwrapped.sender)) return CLASS_ACTIVE_TRADE;
    const m: AcceptedMessage = { event: g.event, unwrapped: g.unwrapped, kind: g.kind };
    if (this.o.likelyRefused?.(m)) return CLASS_DOOMED;
    const index = g.kind.trade_index;
    const seen = this.tradeIndexes.get(g.unwrapped.identity);
    if (isTradeAction(g.kind.action) && typeof index === 'number' && seen !== undefined && index <= seen) return CLASS_DOOMED;
    return CLASS_NORMAL;
  }

  /** Remembers the highest trade index admitted per identity (a hint for {@link classOf}; bounded). */
  private noteTradeIndex(r: IntakeResult): void {
    if (r.type !== 'accept' || !isTradeAction(r.kind.action) || typeof r.kind.trade_index !== 'number') return;
    const identity = r.unwrapped.identity;
    const seen = this.tradeIndexes.get(identity);
    if (seen !== undefined && seen >= r.kind.trade_index) return;
    this.tradeIndexes.delete(identity);
    if (this.tradeIndexes.size >= 100_000) this.tradeIndexes.delete(this.tradeIndexes.keys().next().value!);
    this.tradeIndexes.set(identity, r.kind.trade_index);
  }

  /**
   * Doomed messages use what the daemon has to spare: one at a time, and only while the event loop keeps up (its
   * delay stays short), so that the honest traffic they would slow down — the relay, the workflows' activities, the
   * replies — keeps its pace. Under a sustained storm they wait, and the bounded queue drops the excess.
   */
  private doomedMayRun(): boolean {
    return this.activeDoomed === 0 && this.loopLag.busy() === false;
  }

  /** Starts handling queued events, up to the concurrency, one per sender. */
  private pump(): void {
    const slots = this.o.concurrency ?? 4;
    while (this.active < slots) {
      const doomedWaiting = this.queue.mayHaveWaiting(CLASS_DOOMED);
      const next = this.queue.pop(doomedWaiting && this.doomedMayRun() ? CLASS_DOOMED : CLASS_NORMAL);
      if (!next) return;
      this.active++;
      const doomed = next.cls === CLASS_DOOMED;
      if (doomed) this.activeDoomed++;
      const { g, prior } = next.item.gated!;
      this.admitAndRoute(g, prior, next.item.arrived, next.item.receivedAtMs)
        .catch((err: unknown) => this.log.error('ingress failed on an event', { err: String((err as Error)?.stack ?? err) }))
        .finally(() => {
          this.active--;
          if (doomed) this.activeDoomed--;
          this.queue.done(next.sender);
          this.finish(next.item);
          this.pump();
        });
    }
  }

  private finish(work: Work): void {
    if (work.id !== undefined) this.inflight.delete(work.id);
    this.holds.delete(work.hold);
    if (--this.queued === 0) for (const w of this.idleWaiters.splice(0)) w();
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

  /** Admission (trade index, shape) and the hand-over, with the journal's record around them. */
  private async admitAndRoute(g: Extract<GateResult, { type: 'pass' }>, prior: IngressEventState | null, arrived: number, receivedAtMs: number): Promise<void> {
    const journal = this.o.journal;
    const trade = isTradeAction(g.kind.action);
    // Recorded before the trade index is: a crash in between leaves a row that lets the re-delivery resume.
    if (journal && trade && prior === null) await journal.begin(g.event.id, g.event.created_at);
    const r = await this.o.intake.admit(g, { resumed: prior === 'admitting' });
    this.noteTradeIndex(r);
    const handled = await this.route(r, arrived, receivedAtMs);
    if (journal && handled && (r.type !== 'drop' || trade)) await journal.finish(g.event.id, g.event.created_at);
  }

  /**
   * How a handler answers the event `eventId`. Each answer is built byte for byte the same every time the event is
   * handled — the wrapping's randomness seeded by the event id and the answer's place, its time the request's — so a
   * crash between sending and recording the event, and the re-delivery that follows, cannot show a client the answer
   * twice: relays and clients drop the copy by its id.
   */
  private io(eventId: string, requestedAt: number): HandlerIo {
    let k = 0;
    const at = Math.min(requestedAt, Math.floor(Date.now() / 1000));
    return {
      reply: async (to, msg) => {
        const event = this.o.egress.buildReply(to, msg, at, `ingress:${eventId}:${k++}`);
        await this.o.egress.publishTo(to, event);
        metrics.messagesOut.inc({ action: unwrapKind(msg).kind.action });
      },
    };
  }

  /**
   * Handles a message the daemon's own key sends without Nostr (the admin RPC), with the handler a Nostr message would
   * get: replies go out as usual; a refusal is returned instead of sent (as the reference's RPC reports it).
   */
  async inject(message: Message, eventId: string): Promise<CantDoReason | null> {
    const kind = unwrapKind(message).kind;
    const handler = this.o.handlers[kind.action];
    if (!handler) return 'invalid_action';
    const now = Math.floor(Date.now() / 1000);
    const from = this.o.mostroPubkey;
    const event: NostrEvent = { id: eventId, pubkey: from, kind: 14, created_at: now, tags: [], content: '', sig: '' };
    const unwrapped: UnwrappedMessage = {
      message,
      messageJson: serializeMessage(message),
      signature: null,
      signatureOver: null,
      sender: from,
      identity: from,
      createdAt: now,
      transport: this.o.transport,
    };
    try {
      await handler({ event, unwrapped, kind, receivedAtMs: Date.now() }, this.io(eventId, now));
      return null;
    } catch (err) {
      if (err instanceof CantDoError) return err.reason;
      throw err;
    }
  }

  /** Processes one event now (tests and tools; the subscription path goes through {@link enqueue}). */
  async handle(raw: unknown): Promise<void> {
    await this.route(await this.o.intake.process(raw));
  }

  /** False when a handler failed internally: the event was neither handed over nor answered. */
  private async route(r: IntakeResult, arrived = performance.now(), receivedAtMs = Date.now()): Promise<boolean> {
    if (r.type === 'drop') return true;
    const { unwrapped, kind, event } = r;
    const io = this.io(event.id, unwrapped.createdAt);
    metrics.messagesIn.inc({ action: kind.action });
    const timer = () => metrics.handling.observe({ action: kind.action }, (performance.now() - arrived) / 1000);
    if (r.type === 'reject-trade-index') {
      await this.sendCantDo(io, unwrapped.sender, kind, 'invalid_trade_index');
      return true;
    }
    // Text the database cannot store (NUL, broken Unicode) is refused here; an order's workflow refuses it itself.
    if (kind.action !== 'new-order' && !isOrderAction(kind.action) && unstorableTextAt(kind.payload) !== null) {
      await this.sendCantDo(io, unwrapped.sender, kind, 'invalid_payload');
      return true;
    }
    const handler = this.o.handlers[kind.action];
    if (!handler) {
      this.ignored++;
      this.log.info('no handler for action; ignored', { action: kind.action });
      return true;
    }
    try {
      await handler({ event, unwrapped, kind, receivedAtMs }, io);
      this.handled++;
      timer();
      return true;
    } catch (err) {
      if (err instanceof CantDoError) {
        await this.sendCantDo(io, unwrapped.sender, kind, err.reason);
        timer();
        return true;
      }
      // Internal errors get no reply, as upstream: the client times out rather than learn internals.
      this.log.error('handler failed', { action: kind.action, err: String((err as Error)?.message ?? err) });
      return false;
    }
  }

  private async sendCantDo(io: HandlerIo, to: string, request: MessageKind, reason: CantDoReason): Promise<void> {
    try {
      await io.reply(to, cantDo(request, reason));
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
