/**
 * A minimal NIP-01 client for a fixed set of relays: long-lived subscriptions that survive disconnects (reconnect
 * with exponential backoff and jitter, then re-subscribe with a catch-up filter for the gap), and publishing with
 * per-relay `OK` results. Events from several relays are passed on as they come; deduplication is the caller's job.
 *
 * A catch-up (a `since` given at subscription, or the gap after a lost connection) is paged: relays cap how many
 * stored events one REQ returns (newest first), so after the end of stored events the pool asks again with `until` =
 * the oldest event received, until a page brings nothing new. For each subscription the pool knows, per relay, from
 * which point on everything the relay stored has been delivered ({@link RelayPool.completeFrom}).
 */
import WebSocket from 'ws';
import type { Logger } from '../log.js';
import type { NostrEvent } from '@mostro/protocol';

export type RelayEvent = NostrEvent;

export type Filter = Record<string, unknown>;

/** How an event reached the subscriber. */
export interface Delivery {
  /** From the relay's store during a catch-up (before the end of stored events or in a later page), not live. */
  stored: boolean;
  /** For a catch-up: the point (unix s) it asked the relay to deliver everything from. */
  since?: number;
}

export interface SubscriptionOptions {
  /**
   * Filters for a REQ. `since` (unix s): the relay must deliver what it stored from that point on (a catch-up);
   * undefined: only new events.
   */
  filters: (since: number | undefined) => Filter[];
  /** The first REQ's catch-up point (e.g. a persisted ingress cursor); without it, the first REQ asks for new events only. */
  since?: number;
  onEvent: (event: unknown, relayUrl: string, delivery: Delivery) => void;
  /** Awaited before each further page of a catch-up (back-pressure from a busy subscriber). */
  readyForMore?: () => Promise<void>;
}

export interface PublishResult {
  accepted: string[];
  rejected: { url: string; reason: string }[];
}

export type PoolLogger = Pick<Logger, 'info' | 'warn'>;

const silent: PoolLogger = { info: () => undefined, warn: () => undefined };

const nowSecs = () => Math.floor(Date.now() / 1000);

interface Sub {
  id: string;
  opts: SubscriptionOptions;
}

/** One subscription on one relay. */
interface SubState {
  /** Everything this relay stored from here on has been, or is being, delivered. */
  from: number;
  /** The next REQ asks for what the relay stored since `from` (false only before a first REQ without `since`). */
  catchUp: boolean;
  /** The relay sent the end of stored events for the current REQ. */
  eose: boolean;
  /** `eose` and every page received: the relay's stream is complete up to now. */
  complete: boolean;
  /** Bumped at each REQ: answers to an older REQ (or page) are ignored. */
  generation: number;
  /** Catch-up bookkeeping: ids received so far and the oldest `created_at` among them. */
  seen?: Set<string>;
  oldest?: number;
  page?: { id: string; before: number };
}

class RelayConnection {
  ws: WebSocket | undefined;
  connected = false;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly states = new Map<string, SubState>();
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
      for (const sub of this.pool.subscriptions()) this.sendReq(sub);
      for (const w of this.waiters.splice(0)) w();
    });
    ws.on('message', (data) => this.onMessage(data.toString()));
    ws.on('error', (err) => this.log.warn('relay error', { url: this.url, err: err.message }));
    ws.on('close', () => {
      if (this.ws !== ws) return;
      const wasConnected = this.connected;
      this.connected = false;
      if (wasConnected) for (const st of this.states.values()) this.lost(st);
      for (const [, done] of this.pendingOk) done(false, 'connection closed');
      this.pendingOk.clear();
      this.scheduleReconnect();
    });
  }

  /** The relay's stream stopped: the next REQ catches up from where it was complete. */
  private lost(st: SubState): void {
    if (st.complete) st.from = nowSecs();
    st.catchUp = true;
    st.eose = false;
    st.complete = false;
    st.generation++;
  }

  private scheduleReconnect(): void {
    if (this.closed) return;
    const base = Math.min(this.backoff.maxMs, this.backoff.minMs * 2 ** this.attempt++);
    const delay = base / 2 + Math.random() * (base / 2);
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
    this.reconnectTimer.unref();
  }

  addSub(sub: Sub): void {
    const since = sub.opts.since;
    this.states.set(sub.id, { from: since ?? nowSecs(), catchUp: since !== undefined, eose: false, complete: false, generation: 0 });
    this.sendReq(sub);
  }

  removeSub(subId: string): void {
    const st = this.states.get(subId);
    this.states.delete(subId);
    if (!this.connected) return;
    this.ws?.send(JSON.stringify(['CLOSE', subId]));
    if (st?.page) this.ws?.send(JSON.stringify(['CLOSE', st.page.id]));
  }

  /** Undefined when this relay's stream is complete up to now; else the point from which it is. */
  completeFrom(subId: string): number | undefined {
    const st = this.states.get(subId);
    if (!st) return undefined;
    return st.complete && this.connected ? undefined : st.from;
  }

  private sendReq(sub: Sub): void {
    const st = this.states.get(sub.id);
    if (!st || !this.connected || !this.ws) return;
    st.generation++;
    st.eose = false;
    st.complete = false;
    st.page = undefined;
    st.seen = st.catchUp ? new Set() : undefined;
    st.oldest = undefined;
    this.ws.send(JSON.stringify(['REQ', sub.id, ...sub.opts.filters(st.catchUp ? st.from : undefined)]));
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
      const target = this.target(a);
      if (target) this.onEvent(target.sub, target.st, target.paging, b);
    } else if (type === 'EOSE' && typeof a === 'string') {
      const target = this.target(a);
      if (target) this.onEose(target.sub, target.st, target.paging);
    } else if (type === 'OK' && typeof a === 'string') {
      const done = this.pendingOk.get(a);
      if (done) {
        this.pendingOk.delete(a);
        done(b === true, typeof c === 'string' ? c : '');
      }
    } else if (type === 'CLOSED' && typeof a === 'string') {
      // The relay ended a subscription (or a page): ask again after a pause, catching up on what it missed.
      const target = this.target(a);
      this.log.warn('relay closed a subscription', { url: this.url, reason: b });
      if (target) {
        this.lost(target.st);
        const generation = target.st.generation;
        setTimeout(() => {
          if (this.states.get(target.sub.id)?.generation === generation) this.sendReq(target.sub);
        }, 1000).unref();
      }
    } else if (type === 'NOTICE') {
      this.log.warn('relay notice', { url: this.url, notice: a });
    }
  }

  /** The subscription a relay message is about: its REQ, or its current catch-up page. */
  private target(subId: string): { sub: Sub; st: SubState; paging: boolean } | undefined {
    const direct = this.pool.subscription(subId);
    const directState = direct && this.states.get(subId);
    if (direct && directState) return { sub: direct, st: directState, paging: false };
    for (const [id, st] of this.states) {
      if (st.page?.id !== subId) continue;
      const sub = this.pool.subscription(id);
      if (sub) return { sub, st, paging: true };
    }
    return undefined;
  }

  private onEvent(sub: Sub, st: SubState, paging: boolean, event: unknown): void {
    const stored = paging || !st.eose;
    if (stored && st.seen) {
      const e = event as { id?: unknown; created_at?: unknown } | null;
      if (typeof e?.id === 'string' && typeof e.created_at === 'number') {
        if (paging && st.seen.has(e.id)) return; // already delivered by an earlier page
        st.seen.add(e.id);
        st.oldest = st.oldest === undefined ? e.created_at : Math.min(st.oldest, e.created_at);
      }
    }
    try {
      sub.opts.onEvent(event, this.url, stored ? { stored: true, ...(st.catchUp ? { since: st.from } : {}) } : { stored: false });
    } catch (err) {
      this.log.warn('event handler failed', { err: String(err) });
    }
  }

  private onEose(sub: Sub, st: SubState, paging: boolean): void {
    if (paging) {
      const pageId = st.page!.id;
      if (this.connected) this.ws?.send(JSON.stringify(['CLOSE', pageId]));
      const broughtNew = st.seen!.size > st.page!.before;
      st.page = undefined;
      if (broughtNew) void this.nextPage(sub, st);
      else this.finishCatchUp(st);
      return;
    }
    if (st.eose) return;
    st.eose = true;
    if (st.seen && st.seen.size > 0) void this.nextPage(sub, st);
    else this.finishCatchUp(st);
  }

  /** Asks for what is older than the oldest event received, in case the relay capped its answer. */
  private async nextPage(sub: Sub, st: SubState): Promise<void> {
    const generation = st.generation;
    await sub.opts.readyForMore?.();
    if (st.generation !== generation || !this.connected || !this.ws || this.states.get(sub.id) !== st) return;
    const id = `${sub.id}~p`;
    st.page = { id, before: st.seen!.size };
    const filters = sub.opts.filters(st.from).map((f) => ({ ...f, until: st.oldest }));
    this.ws.send(JSON.stringify(['REQ', id, ...filters]));
  }

  private finishCatchUp(st: SubState): void {
    st.complete = true;
    st.seen = undefined;
    st.oldest = undefined;
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

  subscribe(opts: SubscriptionOptions): { id: string; close(): void } {
    // Random ids: some relays (@nostr-relay/core among them) confuse equal subscription ids of different clients.
    const id = `${this.idPrefix}${this.nextSub++}`;
    const sub = { id, opts };
    this.subs.set(id, sub);
    for (const c of this.conns) c.addSub(sub);
    return {
      id,
      close: () => {
        this.subs.delete(id);
        for (const c of this.conns) c.removeSub(id);
      },
    };
  }

  /**
   * The point (unix s) from which every relay has delivered, or is delivering, everything it stored for a
   * subscription; undefined when all of them are connected and caught up (their streams are complete up to now).
   */
  completeFrom(sub: { id?: string } | string): number | undefined {
    const id = typeof sub === 'string' ? sub : sub.id;
    if (id === undefined) return undefined;
    let from: number | undefined;
    for (const c of this.conns) {
      const f = c.completeFrom(id);
      if (f !== undefined) from = from === undefined ? f : Math.min(from, f);
    }
    return from;
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
