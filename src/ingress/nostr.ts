/**
 * The thin Nostr ingress: subscribes to the relays for the transport's kind p-tagged to the daemon, runs every event
 * through the intake pipeline, and hands accepted messages to the handler of their action. A handler failing with
 * {@link CantDoError} is answered with `cant-do` to the sender (echoing `request_id` and `id`), as the reference's
 * `manage_errors` does; any other failure is logged and gets no reply. Unhandled actions are ignored.
 */
import {
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
import type { Filter, RelayPool } from '../nostr/relay-pool.js';
import type { Intake, IntakeResult } from './intake.js';
import { metrics } from '../metrics.js';
import { unwrapKind } from '../protocol/kind.js';

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
  /** Events waiting for the pipeline beyond which new ones are dropped (flood protection). */
  maxQueue?: number;
}

const quiet: IngressLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

export class NostrIngress {
  private sub: { close(): void } | undefined;
  private chain: Promise<void> = Promise.resolve();
  private queued = 0;
  overloaded = 0;
  handled = 0;
  ignored = 0;
  private readonly log: IngressLogger;

  constructor(private readonly o: NostrIngressOptions) {
    this.log = o.log ?? quiet;
  }

  /** The subscription filter: only new events; after a disconnect, a catch-up window for the gap. */
  filters(gapStart: number | undefined): Filter[] {
    const base: Filter = { kinds: [transportEventKind(this.o.transport)], '#p': [this.o.mostroPubkey] };
    if (gapStart === undefined) return [{ ...base, limit: 0 }];
    // v1 wraps carry timestamps randomized up to two days into the past; v2 events carry the real time.
    const lookback = this.o.transport === 'gift-wrap' ? 2 * 86_400 + 60 : 60;
    return [{ ...base, since: gapStart - lookback }];
  }

  start(): void {
    this.sub = this.o.pool.subscribe({ filters: (gap) => this.filters(gap), onEvent: (ev) => this.enqueue(ev) });
  }

  stop(): void {
    this.sub?.close();
    this.sub = undefined;
  }

  /** Resolves when every event received so far has been processed. */
  idle(): Promise<void> {
    return this.chain;
  }

  /**
   * Gating (signatures, decryption) of queued events runs concurrently — in worker threads with a ParallelIntake —
   * while admission and routing happen one at a time in arrival order.
   */
  enqueue(raw: unknown): void {
    if (this.queued >= (this.o.maxQueue ?? 10_000)) {
      this.overloaded++;
      return;
    }
    this.queued++;
    const arrived = performance.now();
    const receivedAtMs = Date.now();
    const gated = this.o.intake.gate(raw);
    this.chain = this.chain.then(async () => {
      try {
        await this.route(await this.o.intake.admit(await gated), arrived, receivedAtMs);
      } catch (err) {
        this.log.error('ingress failed on an event', { err: String((err as Error)?.stack ?? err) });
      } finally {
        this.queued--;
      }
    });
  }

  private io(): HandlerIo {
    return {
      reply: async (to, msg) => {
        await this.o.egress.sendReply(to, msg);
        metrics.messagesOut.inc({ action: unwrapKind(msg).kind.action });
      },
    };
  }

  /** Processes one event now (tests and tools; the subscription path goes through {@link enqueue}). */
  async handle(raw: unknown): Promise<void> {
    await this.route(await this.o.intake.process(raw));
  }

  private async route(r: IntakeResult, arrived = performance.now(), receivedAtMs = Date.now()): Promise<void> {
    if (r.type === 'drop') return;
    const { unwrapped, kind, event } = r;
    metrics.messagesIn.inc({ action: kind.action });
    const timer = () => metrics.handling.observe({ action: kind.action }, (performance.now() - arrived) / 1000);
    if (r.type === 'reject-trade-index') {
      await this.sendCantDo(unwrapped.sender, kind, 'invalid_trade_index');
      return;
    }
    const handler = this.o.handlers[kind.action];
    if (!handler) {
      this.ignored++;
      this.log.info('no handler for action; ignored', { action: kind.action });
      return;
    }
    try {
      await handler({ event, unwrapped, kind, receivedAtMs }, this.io());
      this.handled++;
      timer();
    } catch (err) {
      if (err instanceof CantDoError) {
        await this.sendCantDo(unwrapped.sender, kind, err.reason);
        timer();
      } else {
        // Internal errors get no reply, as upstream: the client times out rather than learn internals.
        this.log.error('handler failed', { action: kind.action, err: String((err as Error)?.message ?? err) });
      }
    }
  }

  private async sendCantDo(to: string, request: MessageKind, reason: CantDoReason): Promise<void> {
    try {
      await this.o.egress.sendReply(to, cantDo(request, reason));
      metrics.messagesOut.inc({ action: 'cant-do' });
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
