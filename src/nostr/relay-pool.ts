/**
 * A minimal NIP-01 client for a fixed set of relays: long-lived subscriptions that survive disconnects (reconnect
 * with exponential backoff and jitter, then re-subscribe with a catch-up filter for the gap), and publishing with
 * per-relay `OK` results. Events from several relays are passed on as they come; deduplication is the caller's job.
 */
import WebSocket from 'ws';
import type { Logger } from '../log.js';
import type { NostrEvent } from '../protocol/index.js';

export type RelayEvent = NostrEvent;

export type Filter = Record<string, unknown>;

export interface SubscriptionOptions {
  /**
   * Filters for a (re)subscription. `gapStart` is the unix time the relay connection was lost, on re-subscription;
   * undefined on the first subscription.
   */
  filters: (gapStart: number | undefined) => Filter[];
  onEvent: (event: unknown, relayUrl: string) => void;
}

export interface PublishResult {
  accepted: string[];
  rejected: { url: string; reason: string }[];
}

export type PoolLogger = Pick<Logger, 'info' | 'warn'>;

const silent: PoolLogger = { info: () => undefined, warn: () => undefined };

interface Sub {
  id: string;
  opts: SubscriptionOptions;
}

class RelayConnection {
  ws: WebSocket | undefined;
  connected = false;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** When the last connection was lost (unix seconds), for catch-up filters. */
  private lostAt: number | undefined;
  private pendingOk = new Map<string, (ok: boolean, reason: string) => void>();
  private waiters: (() => void)[] = [];

  constructor(
    readonly url: string,
    private readonly pool: RelayPool,
    private readonly log: PoolLogger,
    private readonly backoff: { minMs: number; maxMs: number },
  ) {}

  connect(): void {
    if (this.closed) return;
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.on('open', () => {
      this.connected = true;
      this.attempt = 0;
      this.log.info('relay connected', { url: this.url });
      for (const sub of this.pool.subscriptions()) this.sendReq(sub, this.lostAt);
      this.lostAt = undefined;
      for (const w of this.waiters.splice(0)) w();
    });
    ws.on('message', (data) => this.onMessage(data.toString()));
    ws.on('error', (err) => this.log.warn('relay error', { url: this.url, err: err.message }));
    ws.on('close', () => {
      if (this.ws !== ws) return;
      if (this.connected) this.lostAt = Math.floor(Date.now() / 1000);
      this.connected = false;
      for (const [, done] of this.pendingOk) done(false, 'connection closed');
      this.pendingOk.clear();
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    if (this.closed) return;
    const base = Math.min(this.backoff.maxMs, this.backoff.minMs * 2 ** this.attempt++);
    const delay = base / 2 + Math.random() * (base / 2);
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
    this.reconnectTimer.unref();
  }

  sendReq(sub: Sub, gapStart: number | undefined): void {
    if (!this.connected || !this.ws) return;
    this.ws.send(JSON.stringify(['REQ', sub.id, ...sub.opts.filters(gapStart)]));
  }

  sendClose(subId: string): void {
    if (this.connected) this.ws?.send(JSON.stringify(['CLOSE', subId]));
  }

  private onMessage(text: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (!Array.isArray(msg)) return;
    const [type, a, b, c] = msg as [unknown, unknown, unknown, unknown];
    if (type === 'EVENT' && typeof a === 'string') {
      const sub = this.pool.subscription(a);
      if (sub) {
        try {
          sub.opts.onEvent(b, this.url);
        } catch (err) {
          this.log.warn('event handler failed', { err: String(err) });
        }
      }
    } else if (type === 'OK' && typeof a === 'string') {
      const done = this.pendingOk.get(a);
      if (done) {
        this.pendingOk.delete(a);
        done(b === true, typeof c === 'string' ? c : '');
      }
    } else if (type === 'CLOSED' && typeof a === 'string') {
      // The relay ended a subscription: ask again after a pause.
      const sub = this.pool.subscription(a);
      this.log.warn('relay closed a subscription', { url: this.url, reason: b });
      if (sub) setTimeout(() => this.sendReq(sub, Math.floor(Date.now() / 1000) - 60), 1000).unref();
    } else if (type === 'NOTICE') {
      this.log.warn('relay notice', { url: this.url, notice: a });
    }
  }

  /** Waits until connected (or the timeout). */
  ready(timeoutMs: number): Promise<boolean> {
    if (this.connected) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      this.waiters.push(() => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  async publish(event: RelayEvent, timeoutMs: number): Promise<{ ok: boolean; reason: string }> {
    if (!(await this.ready(timeoutMs))) return { ok: false, reason: 'not connected' };
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.pendingOk.delete(event.id);
        resolve({ ok: false, reason: 'no OK from relay in time' });
      }, timeoutMs);
      this.pendingOk.set(event.id, (ok, reason) => {
        clearTimeout(t);
        resolve({ ok, reason });
      });
      this.ws!.send(JSON.stringify(['EVENT', event]));
    });
  }

  close(): void {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.ws?.terminate();
  }
}

export class RelayPool {
  private conns: RelayConnection[];
  private subs = new Map<string, Sub>();
  private nextSub = 0;
  private readonly idPrefix = `m${Math.random().toString(36).slice(2, 10)}-`;

  constructor(
    readonly urls: string[],
    opts: { log?: PoolLogger; backoffMinMs?: number; backoffMaxMs?: number } = {},
  ) {
    const backoff = { minMs: opts.backoffMinMs ?? 250, maxMs: opts.backoffMaxMs ?? 30_000 };
    this.conns = urls.map((u) => new RelayConnection(u, this, opts.log ?? silent, backoff));
    for (const c of this.conns) c.connect();
  }

  subscriptions(): Sub[] {
    return [...this.subs.values()];
  }

  subscription(id: string): Sub | undefined {
    return this.subs.get(id);
  }

  subscribe(opts: SubscriptionOptions): { close(): void } {
    // Random ids: some relays (@nostr-relay/core among them) confuse equal subscription ids of different clients.
    const id = `${this.idPrefix}${this.nextSub++}`;
    const sub = { id, opts };
    this.subs.set(id, sub);
    for (const c of this.conns) c.sendReq(sub, undefined);
    return {
      close: () => {
        this.subs.delete(id);
        for (const c of this.conns) c.sendClose(id);
      },
    };
  }

  /** Resolves when at least one relay is connected (or after the timeout). */
  async ready(timeoutMs = 5000): Promise<boolean> {
    const results = this.conns.map((c) => c.ready(timeoutMs));
    return new Promise((resolve) => {
      let pending = results.length;
      if (pending === 0) resolve(false);
      for (const r of results) {
        void r.then((ok) => {
          if (ok) resolve(true);
          else if (--pending === 0) resolve(false);
        });
      }
    });
  }

  connectedRelays(): string[] {
    return this.conns.filter((c) => c.connected).map((c) => c.url);
  }

  /** Sends to every relay; the event is published if at least one accepted it. */
  async publish(event: RelayEvent, timeoutMs = 5000): Promise<PublishResult> {
    const results = await Promise.all(this.conns.map(async (c) => ({ url: c.url, ...(await c.publish(event, timeoutMs)) })));
    return {
      accepted: results.filter((r) => r.ok).map((r) => r.url),
      rejected: results.filter((r) => !r.ok).map((r) => ({ url: r.url, reason: r.reason })),
    };
  }

  close(): void {
    for (const c of this.conns) c.close();
    this.subs.clear();
  }
}
