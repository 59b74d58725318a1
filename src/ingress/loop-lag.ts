/**
 * The ingress's measure of spare capacity: it runs work it can put off (messages that will only be refused) only
 * while the event loop keeps up, so that the honest traffic keeps its pace.
 */

/**
 * How late the event loop runs timers: a short-interval timer's drift, smoothed. Busy above a threshold; when it
 * recovers, `onIdle` runs (work that waited for it can start). The timer runs only while someone asks.
 */
export class LoopLag {
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
