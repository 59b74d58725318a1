/**
 * The reference daemon's intake pipeline (MostroP2P/mostro `src/app.rs::accept_event`), step by step and in its
 * order, which is load-bearing:
 *
 *  1. NIP-13 PoW of the outer event ≥ `pow`          6. freshness: inner `created_at` ≥ now − 10 s
 *  2. kind = the transport's kind (14 or 1059)         7. identity ≠ sender requires a trade signature
 *  3. outer id and signature                           8. trade index (new-order, take-buy, take-sell)
 *  4. spam gate: replay dedup, first-contact PoW       9. `MessageKind::verify` shape rules
 *  5. unwrap: decrypt, parse, inner signatures
 *
 * Every failure is a silent drop counted by reason, except a stale trade index, which is answered
 * `cant-do invalid_trade_index` (and then dropped). Never throws: hostile input of any kind ends as a drop.
 */
import {
  checkPow,
  messageKind,
  serializeMessage,
  transportEventKind,
  unwrapMessage,
  verifyEventSignature,
  verifyShape,
  verifyTextSignature,
  type MessageKind,
  type NostrEvent,
  type Transport,
  type UnwrappedMessage,
} from '@mostro/protocol';
import type { TradeIndexStore } from '../db/trade-index-store.js';

export const DROP_REASONS = [
  'malformed-event',
  'too-large',
  'pow',
  'kind',
  'bad-signature',
  'replay',
  'first-contact-pow',
  'not-for-me',
  'unwrap-failed',
  'stale',
  'missing-signature',
  'trade-index',
  'invalid-trade-index',
  'shape',
  'internal-error',
  'rate-limited',
  'overloaded',
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

/** Pubkeys in an active trade (the spam gate's fast lane). */
export type KnownPubkeys = ReadonlySet<string>;

export interface GateOptions {
  transport: Transport;
  /** The daemon's secret key. */
  mostroKey: Uint8Array;
  pow: number;
  /** Stiffer PoW for unknown senders on v2 (defaults to `pow`). */
  powFirstContact?: number;
  freshnessSecs?: number;
  replayWindowSecs?: number;
  /** Without it the first-contact lane is open (fail-open, as upstream when no gate is installed). */
  knownPubkeys?: KnownPubkeys;
  /** Wall-clock seconds (never a virtual clock: clients' timestamps are real). */
  now?: () => number;
}

export interface IntakeOptions extends GateOptions {
  tradeIndex: TradeIndexStore;
}

export type IntakeResult =
  | { type: 'accept'; unwrapped: UnwrappedMessage; kind: MessageKind; event: NostrEvent }
  /** Answer `cant-do invalid_trade_index` to `unwrapped.sender`, then drop. */
  | { type: 'reject-trade-index'; unwrapped: UnwrappedMessage; kind: MessageKind; event: NostrEvent }
  | { type: 'drop'; reason: DropReason; detail?: string };

/** How one event is judged: when it arrived, and for a catch-up, how old it may be. */
export interface GateContext {
  /** When the event reached the ingress (unix s): freshness is judged against arrival, not against a queue's delay. */
  receivedAt?: number;
  /**
   * A catch-up's freshness floor (unix s): a re-delivered event created after this point may be older than the
   * freshness window — the daemon was down or disconnected when it was sent — and is still processed.
   */
  freshFrom?: number;
}

/** What the gate lets through: an authenticated, decrypted, fresh message (steps 1–7 passed). */
export type GateResult =
  | { type: 'pass'; unwrapped: UnwrappedMessage; kind: MessageKind; event: NostrEvent }
  | { type: 'drop'; reason: DropReason; detail?: string };

/** Remembers verified event ids for a window; memory is bounded by the events of one window. */
export class ReplayGuard {
  private seen = new Map<string, number>();

  constructor(private readonly windowSecs: number) {}

  /** True when `id` was already seen within the window; records it otherwise. */
  checkAndRecord(id: string, now: number): boolean {
    const cutoff = now - this.windowSecs;
    // Insertion order is time order: prune from the oldest end.
    for (const [k, t] of this.seen) {
      if (t >= cutoff) break;
      this.seen.delete(k);
    }
    const prev = this.seen.get(id);
    if (prev !== undefined && prev >= cutoff) return true;
    this.seen.set(id, now);
    return false;
  }

  get size(): number {
    return this.seen.size;
  }
}

const TRADE_ACTIONS = new Set(['new-order', 'take-buy', 'take-sell']);

/** Actions whose admission registers a trade index (a side effect a re-delivery must not mistake for a reuse). */
export function isTradeAction(action: string): boolean {
  return TRADE_ACTIONS.has(action);
}

const HEX64 = /^[0-9a-f]{64}$/;
const HEX128 = /^[0-9a-f]{128}$/;

/**
 * The NostrEventSchema check, hand-written: it runs on every inbound event, hostile ones included, and is several
 * times cheaper than the zod schema. Returns a clean copy with only the NIP-01 fields.
 */
export function asNostrEvent(raw: unknown): NostrEvent | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const e = raw as Record<string, unknown>;
  const { id, pubkey, created_at, kind, tags, content, sig } = e;
  if (typeof id !== 'string' || !HEX64.test(id) || typeof pubkey !== 'string' || !HEX64.test(pubkey)) return undefined;
  if (typeof sig !== 'string' || !HEX128.test(sig) || typeof content !== 'string') return undefined;
  if (typeof created_at !== 'number' || !Number.isSafeInteger(created_at) || created_at < 0) return undefined;
  if (typeof kind !== 'number' || !Number.isInteger(kind) || kind < 0 || kind > 65535) return undefined;
  if (!Array.isArray(tags)) return undefined;
  for (const t of tags) {
    if (!Array.isArray(t)) return undefined;
    for (const v of t) if (typeof v !== 'string') return undefined;
  }
  return { id, pubkey, created_at, kind, tags: tags as string[][], content, sig };
}

/**
 * Steps 1–7: synchronous and CPU-bound (signatures, ECDH, decryption), so it can run in worker threads. Each gate
 * has its own replay guard: when several run in parallel, events must be sharded by id so that every copy of an
 * event meets the same guard.
 */
export class EventGate {
  private readonly replay: ReplayGuard;
  private readonly kind: number;
  private readonly now: () => number;

  constructor(private readonly opts: GateOptions) {
    this.replay = new ReplayGuard(opts.replayWindowSecs ?? 60);
    this.kind = transportEventKind(opts.transport);
    this.now = opts.now ?? (() => Math.floor(Date.now() / 1000));
  }

  setKnownPubkeys(known: KnownPubkeys | undefined): void {
    this.opts.knownPubkeys = known;
  }

  /** Never throws: hostile input of any kind ends as a drop. */
  check(raw: unknown, ctx: GateContext = {}): GateResult {
    try {
      return this.run(raw, ctx);
    } catch (err) {
      return { type: 'drop', reason: 'internal-error', detail: String((err as Error)?.message ?? err) };
    }
  }

  private run(raw: unknown, ctx: GateContext): GateResult {
    const o = this.opts;
    const drop = (reason: DropReason, detail?: string): GateResult => ({ type: 'drop', reason, detail });
    const event = asNostrEvent(raw);
    if (!event) return drop('malformed-event');
    // 1. Proof of work on the outer event.
    if (!checkPow(event, o.pow)) return drop('pow');
    // 2. Only the configured transport's kind.
    if (event.kind !== this.kind) return drop('kind');
    // 3. Authenticate before recording anything keyed on the id: the id does not commit to the signature, so a
    //    forged copy must not be able to get the genuine event dropped as a replay.
    if (!verifyEventSignature(event)) return drop('bad-signature');
    const now = ctx.receivedAt ?? this.now();
    // 4. Spam gate. Replays are dropped on both transports (a duplicate delivery by a second relay is never a new
    //    request); the first-contact PoW toll applies on v2, where the author is the trade key.
    if (this.replay.checkAndRecord(event.id, now)) return drop('replay');
    if (o.transport === 'nip44' && o.knownPubkeys && !o.knownPubkeys.has(event.pubkey)) {
      if (!checkPow(event, Math.max(o.pow, o.powFirstContact ?? o.pow))) return drop('first-contact-pow');
    }
    // 5. Unwrap.
    const u = unwrapMessage(event, o.mostroKey, o.transport);
    if (!u.ok) return drop(u.reason === 'not-for-me' ? 'not-for-me' : 'unwrap-failed', u.error);
    const unwrapped = u.value;
    // 6. Freshness of the inner timestamp (a catch-up accepts what was sent while the daemon could not hear it).
    const fresh = now - (o.freshnessSecs ?? 10);
    if (unwrapped.createdAt < (ctx.freshFrom === undefined ? fresh : Math.min(fresh, ctx.freshFrom))) return drop('stale');
    // 7. Reputation mode must be signed.
    if (unwrapped.identity !== unwrapped.sender && unwrapped.signature === null) return drop('missing-signature');
    return { type: 'pass', unwrapped, kind: messageKind(unwrapped.message), event };
  }
}

/** The whole pipeline: the gate (steps 1–7) then admission (8–9), with drop counters by reason. */
export class Intake {
  readonly drops: Record<DropReason, number> = Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<
    DropReason,
    number
  >;
  accepted = 0;
  protected readonly gateStage: EventGate;
  private known: KnownPubkeys | undefined;

  constructor(protected readonly opts: IntakeOptions) {
    this.gateStage = new EventGate(opts);
    this.known = opts.knownPubkeys;
  }

  protected drop(reason: DropReason, detail?: string): IntakeResult {
    this.drops[reason]++;
    return { type: 'drop', reason, detail };
  }

  /** Steps 1–7 (CPU-bound). */
  gate(raw: unknown, ctx?: GateContext): Promise<GateResult> {
    return Promise.resolve(this.gateStage.check(raw, ctx));
  }

  /** Counts a drop decided outside the pipeline (a copy already in flight, an event already handled). */
  countDrop(reason: DropReason): void {
    this.drops[reason]++;
  }

  /**
   * Steps 8–9 on what the gate passed; counts every outcome. Never throws. `resumed`: this very event's admission
   * began before a crash, so the trade index it registered is its own, not a reuse.
   */
  async admit(g: GateResult, opts: { resumed?: boolean } = {}): Promise<IntakeResult> {
    if (g.type === 'drop') return this.drop(g.reason, g.detail);
    try {
      const { unwrapped, kind, event } = g;
      // 8. Trade index.
      if (TRADE_ACTIONS.has(kind.action)) {
        const r = await this.checkTradeIndex(unwrapped, kind, opts.resumed ?? false);
        if (r === 'invalid') {
          this.drops['invalid-trade-index']++;
          return { type: 'reject-trade-index', unwrapped, kind, event };
        }
        if (r !== 'ok') return this.drop('trade-index', r);
      }
      // 9. Shape rules.
      if (!verifyShape(kind)) return this.drop('shape');
      this.accepted++;
      return { type: 'accept', unwrapped, kind, event };
    } catch (err) {
      return this.drop('internal-error', String((err as Error)?.message ?? err));
    }
  }

  /** Runs one raw relay event through the whole pipeline. Never throws. */
  async process(raw: unknown): Promise<IntakeResult> {
    return this.admit(await this.gate(raw));
  }

  setKnownPubkeys(known: KnownPubkeys | undefined): void {
    this.known = known;
    this.gateStage.setKnownPubkeys(known);
  }

  /** A party to an active trade (the spam gate's fast lane): its messages move a trade on. */
  isKnown(pubkey: string): boolean {
    return this.known?.has(pubkey) ?? false;
  }

  /** `check_trade_index`: 'ok', 'invalid' (answered with cant-do), or a reason to drop silently. */
  private async checkTradeIndex(u: UnwrappedMessage, kind: MessageKind, resumed: boolean): Promise<'ok' | 'invalid' | string> {
    const store = this.opts.tradeIndex;
    const last = await store.lastTradeIndex(u.identity);
    const index = kind.trade_index ?? 0;
    if (last !== null) {
      if (index >= 1) {
        if (u.signature === null) return 'index without a trade signature';
        if (index <= last && !(resumed && index === last)) return 'invalid';
        // Upstream re-verifies over its own serialization here: a signature valid only over non-canonical bytes
        // is not enough to register a trade index.
        if (!verifyTextSignature(serializeMessage(u.message), u.signature, u.sender)) {
          return 'signature does not match the canonical message';
        }
      }
      return 'ok';
    }
    if (kind.trade_index !== null) {
      // Index 0 is the identity key itself: a new user cannot trade with it.
      if (kind.trade_index === 0) return 'trade index 0 from a new user';
      if (u.identity !== u.sender && !(await store.createUser(u.identity, kind.trade_index))) {
        return 'cannot create user';
      }
    }
    return 'ok';
  }

  /** Drop counts and acceptance, for logs and metrics. */
  stats(): { accepted: number; drops: Record<DropReason, number> } {
    return { accepted: this.accepted, drops: { ...this.drops } };
  }

  async close(): Promise<void> {}
}

/** An in-memory TradeIndexStore (tests and the database-less mode). */
export class MemoryTradeIndexStore implements TradeIndexStore {
  readonly users = new Map<string, number>();

  async lastTradeIndex(identity: string): Promise<number | null> {
    return this.users.get(identity) ?? null;
  }

  async createUser(identity: string, lastTradeIndex: number): Promise<boolean> {
    if (this.users.has(identity)) return false;
    this.users.set(identity, lastTradeIndex);
    return true;
  }

  /** What a successful handler does: `UPDATE users SET last_trade_index = … WHERE pubkey = identity`. */
  async commit(identity: string, index: number): Promise<void> {
    if (this.users.has(identity)) this.users.set(identity, index);
  }
}
