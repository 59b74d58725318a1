/**
 * The server's virtual clock. Every server-side deadline (user timers, activity retries and timeouts, workflow-task
 * timeouts, test-service sleeps) is a keyed timer here, so time can be skipped: when skipping is allowed and the
 * system is idle, the clock jumps to the earliest timer.
 */

interface Entry {
  key: string;
  at: number;
  fn: () => void;
  dead: boolean;
}

const MAX_DELAY = 2 ** 31 - 1;

/** A key's first `|`-separated segment. */
const groupOf = (key: string): string => {
  const i = key.indexOf('|');
  return i < 0 ? key : key.slice(0, i);
};

export class VirtualClock {
  offset = 0;
  /** Time-skipping lock counter of the test service; skipping is allowed only at 0 (or in autoSkip mode). */
  lockCount = 1;
  private heap: Entry[] = [];
  private byKey = new Map<string, Entry>();
  /**
   * Keys by their first segment (a run's id: keys are `runId|…`), so cancelling a run's or an activity's timers
   * looks at that run's few timers, not at every timer of every open workflow.
   */
  private byGroup = new Map<string, Set<string>>();
  private realTimer: NodeJS.Timeout | undefined;
  private realAt = Infinity;
  private skipScheduled = false;
  private closed = false;

  constructor(
    private readonly opts: {
      /** Skip whenever idle, ignoring the lock counter. */
      autoSkip: boolean;
      /** Whether the test service may enable skipping at all. */
      timeSkipping: boolean;
      isIdle: () => boolean;
      onSkip: () => void;
      onError: (err: unknown) => void;
    },
  ) {}

  now(): number {
    return Date.now() + this.offset;
  }

  get size(): number {
    return this.byKey.size;
  }

  has(key: string): boolean {
    return this.byKey.has(key);
  }

  /** Arms (or re-arms) the timer `key` to fire at virtual time `at`. */
  set(key: string, at: number, fn: () => void): void {
    this.cancel(key);
    const e: Entry = { key, at, fn, dead: false };
    this.byKey.set(key, e);
    const g = groupOf(key);
    let keys = this.byGroup.get(g);
    if (!keys) this.byGroup.set(g, (keys = new Set()));
    keys.add(key);
    this.push(e);
    if (at < this.realAt) this.arm();
    this.requestSkipCheck();
  }

  cancel(key: string): void {
    const e = this.byKey.get(key);
    if (!e) return;
    e.dead = true;
    this.forget(key);
  }

  private forget(key: string): void {
    this.byKey.delete(key);
    const g = groupOf(key);
    const keys = this.byGroup.get(g);
    keys?.delete(key);
    if (keys?.size === 0) this.byGroup.delete(g);
  }

  /** Cancels every timer whose key starts with `prefix` (all timers of a run). */
  cancelPrefix(prefix: string): void {
    const candidates = prefix.includes('|') ? [...(this.byGroup.get(groupOf(prefix)) ?? [])] : [...this.byKey.keys()];
    for (const k of candidates) if (k.startsWith(prefix)) this.cancel(k);
  }

  lock(): void {
    this.lockCount++;
  }

  /**
   * Concurrent `result()` calls each unlock then lock again, so the counter may dip below zero; skipping is allowed
   * at zero or below.
   */
  unlock(): void {
    this.lockCount--;
    this.requestSkipCheck();
  }

  skippingAllowed(): boolean {
    return this.opts.autoSkip || (this.opts.timeSkipping && this.lockCount <= 0);
  }

  /** Debounced to the next turn of the event loop, so a burst of state changes is judged once. */
  requestSkipCheck(): void {
    if (this.skipScheduled || this.closed || !this.skippingAllowed()) return;
    this.skipScheduled = true;
    setImmediate(() => {
      this.skipScheduled = false;
      this.trySkip();
    });
  }

  private trySkip(): void {
    if (this.closed || !this.skippingAllowed() || !this.opts.isIdle()) return;
    const top = this.peek();
    if (!top) return;
    const delta = top.at - this.now();
    if (delta > 0) {
      this.offset += delta;
      this.opts.onSkip();
    }
    this.fireDue();
  }

  close(): void {
    this.closed = true;
    if (this.realTimer) clearTimeout(this.realTimer);
    this.realTimer = undefined;
  }

  private fireDue(): void {
    if (this.closed) return;
    for (;;) {
      const top = this.peek();
      if (!top || top.at > this.now()) break;
      this.pop();
      this.forget(top.key);
      top.dead = true;
      try {
        top.fn();
      } catch (err) {
        this.opts.onError(err);
      }
    }
    this.realAt = Infinity;
    this.arm();
    this.requestSkipCheck();
  }

  private arm(): void {
    if (this.closed) return;
    const top = this.peek();
    if (this.realTimer) clearTimeout(this.realTimer);
    this.realTimer = undefined;
    this.realAt = Infinity;
    if (!top) return;
    this.realAt = top.at;
    const delay = Math.min(Math.max(top.at - this.now(), 0), MAX_DELAY);
    this.realTimer = setTimeout(() => this.fireDue(), delay);
    // The clock alone never keeps the process alive; the gRPC server does.
    this.realTimer.unref();
  }

  private peek(): Entry | undefined {
    while (this.heap.length > 0 && this.heap[0]!.dead) this.pop();
    return this.heap[0];
  }

  private push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]!.at <= h[i]!.at) break;
      [h[p], h[i]] = [h[i]!, h[p]!];
      i = p;
    }
  }

  private pop(): Entry | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && h[l]!.at < h[m]!.at) m = l;
        if (r < h.length && h[r]!.at < h[m]!.at) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i]!, h[m]!];
        i = m;
      }
    }
    return top;
  }
}
