/**
 * A small Mostro client built on the protocol library: an identity key and one trade key per trade index, messages
 * wrapped exactly as mostro-cli wraps them (signed, with the identity proof), replies collected per trade key. Used
 * by `npm run demo` and usable by any TypeScript client.
 */
import { generateSecretKey } from 'nostr-tools/pure';
import { RelayPool } from '../nostr/relay-pool.js';
import {
  message,
  publicKeyOf,
  unwrapKind,
  unwrapMessage,
  wrapMessage,
  type Action,
  type Message,
  type NostrEvent,
  type Payload,
  type Transport,
} from '@mostro/protocol';

export interface Reply {
  action: string;
  id?: string;
  requestId: string | null;
  payload: Payload | null;
  /** The message JSON as received. */
  json: string;
}

export class MostroTrader {
  readonly identityKey: Uint8Array;
  private readonly tradeKeys = new Map<number, Uint8Array>();
  private readonly inbox = new Map<number, Reply[]>();
  private readonly wake = new Map<number, () => void>();
  private readonly subs: { close(): void }[] = [];
  /** Every reply received per trade key, read or not, once per event (a relay may deliver an event again). */
  private readonly history = new Map<number, Reply[]>();
  private readonly seen = new Set<string>();
  private nextRequestId = 1;

  constructor(
    readonly name: string,
    private pool: RelayPool,
    readonly mostroPubkey: string,
    readonly transport: Transport = 'nip44',
    /** The identity to sign as (the admin's is the daemon's own key); a new one by default. */
    identityKey?: Uint8Array,
    /** Every message from the identity key itself, no trade keys (mostro-cli's admin commands work so). */
    private readonly identityOnly = false,
  ) {
    this.identityKey = identityKey ?? generateSecretKey();
  }

  get identity(): string {
    return publicKeyOf(this.identityKey);
  }

  tradeKey(index: number): Uint8Array {
    let k = this.tradeKeys.get(index);
    if (!k) {
      k = this.identityOnly ? this.identityKey : generateSecretKey();
      this.tradeKeys.set(index, k);
    }
    return k;
  }

  tradePubkey(index: number): string {
    return publicKeyOf(this.tradeKey(index));
  }

  /** Subscribes for the daemon's replies to trade key `index` (idempotent). */
  listen(index: number): void {
    if (this.inbox.has(index)) return;
    this.inbox.set(index, []);
    this.subscribe(index);
  }

  /**
   * Goes on through another relay pool with the same keys (the daemon came back on other ports): every trade key's
   * subscription moves there; replies not read yet stay. With `since` (unix seconds), replies the relay stored while
   * this client was away are fetched too (each event is taken once).
   */
  reconnect(pool: RelayPool, since?: number): void {
    this.close();
    this.subs.length = 0;
    this.pool = pool;
    for (const index of this.inbox.keys()) this.subscribe(index, since);
  }

  /** Every reply received on trade key `index` so far, read or not. */
  received(index: number): readonly Reply[] {
    return this.history.get(index) ?? [];
  }

  private subscribe(index: number, since?: number): void {
    const pk = this.tradePubkey(index);
    const key = this.tradeKey(index);
    const window = since === undefined ? { limit: 0 } : { since };
    const filter = this.transport === 'nip44' ? { kinds: [14], authors: [this.mostroPubkey], '#p': [pk], ...window } : { kinds: [1059], '#p': [pk], ...window };
    this.subs.push(
      this.pool.subscribe({
        filters: () => [filter],
        onEvent: (ev) => {
          const id = (ev as NostrEvent).id;
          if (this.seen.has(id)) return;
          this.seen.add(id);
          const r = unwrapMessage(ev as NostrEvent, key, this.transport);
          if (!r.ok || r.value.sender !== this.mostroPubkey) return;
          const { kind } = unwrapKind(r.value.message);
          const reply: Reply = {
            action: kind.action,
            id: kind.id ?? undefined,
            requestId: kind.request_id === null || kind.request_id === undefined ? null : String(kind.request_id),
            payload: (kind.payload ?? null) as Payload | null,
            json: r.value.messageJson,
          };
          this.inbox.get(index)!.push(reply);
          this.history.set(index, [...(this.history.get(index) ?? []), reply]);
          this.wake.get(index)?.();
        },
      }),
    );
  }

  /** Sends a message from trade key `index`; resolves with its request id once a relay accepted it. */
  async send(index: number, f: { action: Action; id?: string; payload?: Payload | null }): Promise<{ requestId: number; message: Message }> {
    this.listen(index);
    await this.pool.ready(5000);
    const requestId = this.nextRequestId++;
    const msg = message({ action: f.action, id: f.id, payload: f.payload ?? null, request_id: requestId, trade_index: index });
    const ev = wrapMessage({ transport: this.transport, message: msg, tradeKey: this.tradeKey(index), identityKey: this.identityKey, receiver: this.mostroPubkey });
    // A client whose key is the daemon's (the admin) sees its own messages on its subscription: not replies.
    this.seen.add(ev.id);
    const r = await this.pool.publish(ev);
    if (r.accepted.length === 0) throw new Error(`${this.name}: no relay accepted ${f.action}`);
    return { requestId, message: msg };
  }

  /** The next unread reply on `index` (with `action`: the first such reply, earlier ones stay unread). */
  async next(index: number, action?: string, timeoutMs = 30_000): Promise<Reply> {
    this.listen(index);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const box = this.inbox.get(index)!;
      const i = action ? box.findIndex((m) => m.action === action) : 0;
      if (box.length > 0 && i >= 0) return box.splice(i, 1)[0]!;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.name}: no ${action ?? 'reply'} within ${timeoutMs} ms (unread: ${box.map((m) => m.action).join(', ') || 'none'})`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 250));
        this.wake.set(index, () => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  close(): void {
    for (const s of this.subs) s.close();
  }
}
