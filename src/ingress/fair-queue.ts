/**
 * Fairness between senders for the ingress: a storm of messages from many keys must not make an honest trader wait
 * behind it, and one flooding key must not fill the queue.
 *
 * - {@link TokenBuckets}: per-key rate limits (a burst, then a steady rate). Excess is dropped silently, as the
 *   reference drops everything it refuses at intake.
 * - {@link FairQueue}: one FIFO per sender, served round-robin — each sender with work waiting gets one item handled
 *   per round, whatever its backlog — in priority classes: a class is served only when the ones before it have
 *   nothing waiting (the ingress puts parties to an active trade first, and messages that will only be refused
 *   last). A sender is in the class of the item at the head of its FIFO, and has one item handled at a time, so its
 *   messages keep their order. Bounded per sender and in total; when the total is reached, the sender with the
 *   longest backlog loses its newest item rather than a sender with less waiting.
 */

/** A double-ended queue of keys with O(1) push and shift. */
class KeyRing {
  private items: string[] = [];
  private head = 0;

  push(k: string): void {
    this.items.push(k);
  }

  shift(): string | undefined {
    if (this.head >= this.items.length) return undefined;
    const k = this.items[this.head++];
    // Compact now and then, so the array does not grow without bound.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return k;
  }

  get length(): number {
    return this.items.length - this.head;
  }
}

interface SenderQueue<T> {
  /** `pinned`: pushed with `force`, never evicted. */
  items: { item: T; cls: number; pinned: boolean }[];
}

export interface FairQueueOptions {
  /** Items one sender may have waiting; more are refused. */
  perSender: number;
  /** Items waiting in all. */
  total: number;
  /** Priority classes, 0 first (default 1). */
  classes?: number;
}

export type PushResult<T> = { accepted: true; evicted?: T } | { accepted: false };

export class FairQueue<T> {
  private readonly queues = new Map<string, SenderQueue<T>>();
  /** Per class, senders with items waiting and none in progress, in service order; stale entries are skipped. */
  private readonly rings: KeyRing[];
  private readonly inRing = new Set<string>();
  private readonly busy = new Set<string>();
  size = 0;

  constructor(private readonly o: FairQueueOptions) {
    this.rings = Array.from({ length: o.classes ?? 1 }, () => new KeyRing());
  }

  /**
   * Queues an item; may refuse it, or accept it and evict another sender's newest item to stay within the total.
   * `force`: accepted whatever the bounds (work the caller paces itself).
   */
  push(sender: string, item: T, cls = 0, force = false): PushResult<T> {
    let q = this.queues.get(sender);
    const waiting = q?.items.length ?? 0;
    if (!force && waiting >= this.o.perSender) return { accepted: false };
    let evicted: T | undefined;
    if (!force && this.size >= this.o.total) {
      const longest = this.longest();
      // Only a sender with more waiting than this one would then have gives way.
      if (!longest || longest[1].items.length <= waiting + 1 || longest[1].items.at(-1)!.pinned) return { accepted: false };
      evicted = longest[1].items.pop()!.item;
      this.size--;
      if (longest[1].items.length === 0 && !this.busy.has(longest[0])) this.queues.delete(longest[0]);
    }
    if (!q) {
      q = { items: [] };
      this.queues.set(sender, q);
    }
    q.items.push({ item, cls: Math.min(Math.max(0, cls), this.rings.length - 1), pinned: force });
    this.size++;
    this.enroll(sender, q);
    return evicted === undefined ? { accepted: true } : { accepted: true, evicted };
  }

  /**
   * The next item: round-robin over the senders of the first class with one waiting (classes up to `maxClass`);
   * its sender is busy until {@link done}.
   */
  pop(maxClass = this.rings.length - 1): { sender: string; item: T; cls: number } | undefined {
    for (let c = 0; c <= maxClass; c++) {
      const ring = this.rings[c]!;
      for (let n = ring.length; n > 0; n--) {
        const s = ring.shift()!;
        this.inRing.delete(s);
        const q = this.queues.get(s);
        if (!q || q.items.length === 0 || this.busy.has(s)) continue;
        if (q.items[0]!.cls !== c) {
          this.enroll(s, q); // its head item changed class (an eviction): move it
          continue;
        }
        this.busy.add(s);
        this.size--;
        const head = q.items.shift()!;
        return { sender: s, item: head.item, cls: head.cls };
      }
    }
    return undefined;
  }

  /** The sender's item was handled: its next one (if any) goes to the back of its class's round. */
  done(sender: string): void {
    this.busy.delete(sender);
    const q = this.queues.get(sender);
    if (!q) return;
    if (q.items.length === 0) this.queues.delete(sender);
    else this.enroll(sender, q);
  }

  /** Whether a sender may be waiting in a class (cheap; may say yes for a sender whose item has just gone). */
  mayHaveWaiting(cls: number): boolean {
    return (this.rings[cls]?.length ?? 0) > 0;
  }

  /** Items waiting for a sender (tests, metrics). */
  waiting(sender: string): number {
    return this.queues.get(sender)?.items.length ?? 0;
  }

  /** Senders with items waiting. */
  get senders(): number {
    return this.queues.size;
  }

  private enroll(sender: string, q: SenderQueue<T>): void {
    if (this.inRing.has(sender) || this.busy.has(sender) || q.items.length === 0) return;
    this.inRing.add(sender);
    this.rings[q.items[0]!.cls]!.push(sender);
  }

  private longest(): [string, SenderQueue<T>] | undefined {
    let best: [string, SenderQueue<T>] | undefined;
    for (const e of this.queues) if (!best || e[1].items.length > best[1].items.length) best = e;
    return best;
  }
}

export interface TokenBucketOptions {
  /** Tokens a key starts with (its burst). */
  burst: number;
  /** Tokens regained per second. */
  perSecond: number;
  /** Keys remembered at most; idle ones are forgotten first (a forgotten key starts with a full bucket). */
  maxKeys?: number;
}

/** Per-key token buckets with bounded memory. */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly maxKeys: number;

  constructor(
    private readonly o: TokenBucketOptions,
    private readonly nowMs: () => number = () => performance.now(),
  ) {
    this.maxKeys = o.maxKeys ?? 100_000;
  }

  private refill(key: string): { tokens: number; at: number } | undefined {
    const b = this.buckets.get(key);
    if (!b) return undefined;
    const now = this.nowMs();
    b.tokens = Math.min(this.o.burst, b.tokens + ((now - b.at) / 1000) * this.o.perSecond);
    b.at = now;
    return b;
  }

  /** True when the key has a token left (without taking it). */
  has(key: string): boolean {
    const b = this.refill(key);
    return !b || b.tokens >= 1;
  }

  /** Takes a token; false (and nothing taken) when there is none. */
  take(key: string): boolean {
    let b = this.refill(key);
    if (!b) {
      if (this.buckets.size >= this.maxKeys) this.forget();
      b = { tokens: this.o.burst, at: this.nowMs() };
      this.buckets.set(key, b);
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  get size(): number {
    return this.buckets.size;
  }

  /** Forgets keys whose bucket has refilled (same as never seen); if that is not enough, the oldest half. */
  private forget(): void {
    const full = this.nowMs() - (this.o.burst / this.o.perSecond) * 1000;
    for (const [k, b] of this.buckets) if (b.at <= full) this.buckets.delete(k);
    if (this.buckets.size < this.maxKeys) return;
    let n = Math.floor(this.buckets.size / 2);
    for (const k of this.buckets.keys()) {
      if (n-- <= 0) break;
      this.buckets.delete(k);
    }
  }
}
