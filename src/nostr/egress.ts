/**
 * Everything the daemon sends: replies wrapped for the configured transport (authored by the Mostro key, unsigned,
 * version stamped 1 or 2 to match, NIP-40 expiration on v2) and its addressable events. Publishing goes to every
 * relay with retries; an event at least one relay accepted counts as published. Sends to the same recipient leave in
 * the order they were asked for, so a direct reply always precedes the notices that follow it.
 */
import {
  message,
  serializeMessage,
  transportProtocolVersion,
  unwrapKind,
  wrapMessage,
  type CantDoReason,
  type Message,
  type MessageKind,
  type NostrEvent,
  type Transport,
} from '@mostro/protocol';
import { finalizeWith, seededRandom } from '@mostro/protocol/crypto';
import type { EventTemplate } from './events.js';
import type { PublishResult, RelayPool } from './relay-pool.js';

export class PublishError extends Error {
  constructor(
    message: string,
    readonly result: PublishResult,
  ) {
    super(message);
    this.name = 'PublishError';
  }
}

export interface EgressOptions {
  pool: RelayPool;
  mostroKey: Uint8Array;
  transport: Transport;
  /** `[expiration] dm_days`: lifetime of v2 replies (default 30). */
  dmDays?: number;
  publishTimeoutMs?: number;
  /** Publish attempts before giving up (default 3). */
  attempts?: number;
}

/** The `cant-do` reply to a request: echoes its `request_id` and `id`. */
export function cantDo(request: MessageKind, reason: CantDoReason): Message {
  return message({
    wrapper: 'cant-do',
    action: 'cant-do',
    request_id: request.request_id,
    id: request.id,
    payload: { cant_do: reason },
  });
}

export class NostrEgress {
  private lanes = new Map<string, Promise<unknown>>();

  constructor(private readonly o: EgressOptions) {}

  get transport(): Transport {
    return this.o.transport;
  }

  /**
   * Wraps a reply for `to`, stamping the protocol version of the transport. With `seed` every random input (nonces,
   * signature aux data, v1 keys and timestamp tweaks) is derived from the daemon key and the seed, so the same seed,
   * message and `now` give the same event.
   */
  buildReply(to: string, msg: Message, now = Math.floor(Date.now() / 1000), seed?: string): NostrEvent {
    const { wrapper, kind } = unwrapKind(msg);
    const stamped = { [wrapper]: { ...kind, version: transportProtocolVersion(this.o.transport) } } as Message;
    return wrapMessage({
      transport: this.o.transport,
      message: stamped,
      tradeKey: this.o.mostroKey,
      receiver: to,
      signed: false,
      expiration: this.o.transport === 'nip44' ? now + (this.o.dmDays ?? 30) * 86_400 : undefined,
      now,
      random: seed === undefined ? undefined : seededRandom(this.o.mostroKey, `mostro-reply:${seed}`),
    });
  }

  sign(template: EventTemplate): NostrEvent {
    return finalizeWith(template, this.o.mostroKey) as NostrEvent;
  }

  /** Publishes to every relay, retrying until at least one accepts; throws PublishError when none did. */
  async publish(event: NostrEvent): Promise<PublishResult> {
    const attempts = this.o.attempts ?? 3;
    let last: PublishResult = { accepted: [], rejected: [] };
    for (let i = 0; i < attempts; i++) {
      last = await this.o.pool.publish(event, this.o.publishTimeoutMs ?? 5000);
      if (last.accepted.length > 0) return last;
      await new Promise((r) => setTimeout(r, 200 * 2 ** i));
    }
    throw new PublishError(
      `no relay accepted event ${event.id}: ${last.rejected.map((r) => `${r.url}: ${r.reason}`).join('; ')}`,
      last,
    );
  }

  /** Builds and publishes a reply, after every earlier send to the same recipient. */
  sendReply(to: string, msg: Message): Promise<PublishResult> {
    return this.inLane(to, () => this.publish(this.buildReply(to, msg)));
  }

  /** Publishes an already-built event in `to`'s lane (keeps per-recipient order). */
  publishTo(to: string, event: NostrEvent): Promise<PublishResult> {
    return this.inLane(to, () => this.publish(event));
  }

  private inLane<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.lanes.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.lanes.set(key, tail);
    void tail.then(() => {
      if (this.lanes.get(key) === tail) this.lanes.delete(key);
    });
    return next;
  }

  /** For logs and tests: the canonical JSON of a message as it would be sent. */
  static describe(msg: Message): string {
    return serializeMessage(msg);
  }
}
