/**
 * The thin Nostr ingress: subscribes to the relays for the transport's kind p-tagged to the daemon (catch-up.ts, with
 * the durable cursor), runs every event through the intake pipeline, and hands accepted messages to the handler of
 * their action (dispatch.ts). This module is the admission in between.
 *
 * Under a flood, cheap checks come first and the expensive work is shared fairly (see src/ingress/fair-queue.ts):
 * oversized events and authors over their rate are dropped before any cryptography; what passes the gate waits in
 * one queue per sender (the identity), served round-robin with parties to an active trade first, several senders at
 * a time; per-sender and total bounds keep memory flat. Drops stay silent, as the reference's.
 *
 * Each event holds the subscription's cursor back from its arrival until it was handed to its workflow or answered
 * (or dropped); with a journal, an event it records as handled is dropped as a replay when a catch-up re-delivers it.
 */
import type { Action, CantDoReason, Message, Transport } from '@mostro/protocol';
import type { NostrEgress } from '../nostr/egress.js';
import type { Delivery, RelayPool } from '../nostr/relay-pool.js';
import { CatchUpSubscription } from './catch-up.js';
import { ActionDispatcher, type AcceptedMessage, type ActionHandler, type IngressLogger } from './dispatch.js';
import { FairQueue, TokenBuckets } from './fair-queue.js';
import { isTradeAction, type DropReason, type GateResult, type Intake, type IntakeResult } from './intake.js';
import { CATCH_UP_MARGIN_SECS } from './journal.js';
import { LoopLag } from './loop-lag.js';
import { type IngressEventState, type IngressJournal } from '../db/ingress-journal.js';

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
  /** Events between arrival and the end of their handling (gating, waiting, in progress). */
  private queued = 0;
  overloaded = 0;
  private readonly log: IngressLogger;
  private readonly subscription: CatchUpSubscription;
  private readonly dispatcher: ActionDispatcher;
  /** Authenticated ids of events between the gate and the end of their handling: a second copy is a replay. */
  private readonly inflight = new Set<string>();
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
    this.subscription = new CatchUpSubscription({ ...o, log: this.log });
    this.dispatcher = new ActionDispatcher({ ...o, log: this.log });
    this.queue = new FairQueue({ perSender: o.maxQueuePerSender ?? 16, total: o.maxQueue ?? 5_000, classes: 3 });
    const rate = o.senderRate ?? DEFAULT_SENDER_RATE;
    this.authorRate = new TokenBuckets(rate);
    this.senderRate = new TokenBuckets(rate);
  }

  /** Subscribes; with a journal, from the saved cursor (nothing saved yet: new events only, as the reference). */
  start(): Promise<void> {
    return this.subscription.start(
      (ev, delivery) => this.enqueue(ev, delivery),
      () => this.roomForMore(),
    );
  }

  stop(): void {
    this.subscription.stop();
    this.loopLag.stop();
  }

  /** Resolves when every event received so far has been processed. */
  idle(): Promise<void> {
    if (this.queued === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Saves the cursor when it moved (one save at a time). */
  saveCursor(): Promise<void> {
    return this.subscription.saveCursor();
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
    // The cursor stays behind the event until it is done with (finish).
    const hold = this.subscription.hold(delivery, receivedAt);
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
    this.subscription.release(work.hold);
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
    const handled = await this.dispatcher.route(r, arrived, receivedAtMs);
    if (journal && handled && (r.type !== 'drop' || trade)) await journal.finish(g.event.id, g.event.created_at);
  }

  /**
   * Handles a message the daemon's own key sends without Nostr (the admin RPC), with the handler a Nostr message would
   * get: replies go out as usual; a refusal is returned instead of sent (as the reference's RPC reports it).
   */
  inject(message: Message, eventId: string): Promise<CantDoReason | null> {
    return this.dispatcher.inject(message, eventId);
  }

  /** Processes one event now (tests and tools; the subscription path goes through {@link enqueue}). */
  async handle(raw: unknown): Promise<void> {
    await this.dispatcher.route(await this.o.intake.process(raw));
  }

  stats() {
    return {
      ...this.o.intake.stats(),
      handled: this.dispatcher.handled,
      ignored: this.dispatcher.ignored,
      overloaded: this.overloaded,
    };
  }
}
