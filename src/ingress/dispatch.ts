/**
 * The hand-over of an accepted message to the handler of its action, and the replies. A handler failing with
 * {@link CantDoError} is answered with `cant-do` to the sender (echoing `request_id` and `id`), as the reference's
 * `manage_errors` does; any other failure is logged and gets no reply. Unhandled actions are ignored. Kept apart
 * from the admission in front of it (nostr.ts): the action handlers import their contract from here.
 */
import {
  serializeMessage,
  type Action,
  type CantDoReason,
  type Message,
  type MessageKind,
  type NostrEvent,
  type Transport,
  type UnwrappedMessage,
} from '@mostro/protocol';
import { cantDo, type NostrEgress } from '../nostr/egress.js';
import type { Logger } from '../log.js';
import type { IntakeResult } from './intake.js';
import { metrics } from '../metrics.js';
import { unwrapKind } from '@mostro/protocol/kind';
import { unstorableTextAt } from '@mostro/protocol/text';
import { isOrderAction } from '../workflows/order/contract.js';

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

export interface ActionDispatcherOptions {
  egress: NostrEgress;
  transport: Transport;
  mostroPubkey: string;
  handlers: Partial<Record<Action, ActionHandler>>;
  log: IngressLogger;
}

/** Hands each message to its action's handler, and counts what was handled and what no handler takes. */
export class ActionDispatcher {
  handled = 0;
  ignored = 0;

  constructor(private readonly o: ActionDispatcherOptions) {}

  /**
   * How a handler answers the event `eventId`. Each answer is built byte for byte the same every time the event is
   * handled — the wrapping's randomness seeded by the event id and the answer's place, its time the request's — so a
   * crash between sending and recording the event, and the re-delivery that follows, cannot show a client the answer
   * twice: relays and clients drop the copy by its id.
   */
  private io(eventId: string, requestedAt: number): HandlerIo {
    let k = 0;
    const at = Math.min(requestedAt, Math.floor(Date.now() / 1000));
    return {
      reply: async (to, msg) => {
        const event = this.o.egress.buildReply(to, msg, at, `ingress:${eventId}:${k++}`);
        await this.o.egress.publishTo(to, event);
        metrics.messagesOut.inc({ action: unwrapKind(msg).kind.action });
      },
    };
  }

  /**
   * Handles a message the daemon's own key sends without Nostr (the admin RPC), with the handler a Nostr message would
   * get: replies go out as usual; a refusal is returned instead of sent (as the reference's RPC reports it).
   */
  async inject(message: Message, eventId: string): Promise<CantDoReason | null> {
    const kind = unwrapKind(message).kind;
    const handler = this.o.handlers[kind.action];
    if (!handler) return 'invalid_action';
    const now = Math.floor(Date.now() / 1000);
    const from = this.o.mostroPubkey;
    const event: NostrEvent = { id: eventId, pubkey: from, kind: 14, created_at: now, tags: [], content: '', sig: '' };
    const unwrapped: UnwrappedMessage = {
      message,
      messageJson: serializeMessage(message),
      signature: null,
      signatureOver: null,
      sender: from,
      identity: from,
      createdAt: now,
      transport: this.o.transport,
    };
    try {
      await handler({ event, unwrapped, kind, receivedAtMs: Date.now() }, this.io(eventId, now));
      return null;
    } catch (err) {
      if (err instanceof CantDoError) return err.reason;
      throw err;
    }
  }

  /** False when a handler failed internally: the event was neither handed over nor answered. */
  async route(r: IntakeResult, arrived = performance.now(), receivedAtMs = Date.now()): Promise<boolean> {
    if (r.type === 'drop') return true;
    const { unwrapped, kind, event } = r;
    const io = this.io(event.id, unwrapped.createdAt);
    metrics.messagesIn.inc({ action: kind.action });
    const timer = () => metrics.handling.observe({ action: kind.action }, (performance.now() - arrived) / 1000);
    if (r.type === 'reject-trade-index') {
      await this.sendCantDo(io, unwrapped.sender, kind, 'invalid_trade_index');
      return true;
    }
    // Text the database cannot store (NUL, broken Unicode) is refused here; an order's workflow refuses it itself.
    if (kind.action !== 'new-order' && !isOrderAction(kind.action) && unstorableTextAt(kind.payload) !== null) {
      await this.sendCantDo(io, unwrapped.sender, kind, 'invalid_payload');
      return true;
    }
    const handler = this.o.handlers[kind.action];
    if (!handler) {
      this.ignored++;
      this.o.log.info('no handler for action; ignored', { action: kind.action });
      return true;
    }
    try {
      await handler({ event, unwrapped, kind, receivedAtMs }, io);
      this.handled++;
      timer();
      return true;
    } catch (err) {
      if (err instanceof CantDoError) {
        await this.sendCantDo(io, unwrapped.sender, kind, err.reason);
        timer();
        return true;
      }
      // Internal errors get no reply, as upstream: the client times out rather than learn internals.
      this.o.log.error('handler failed', { action: kind.action, err: String((err as Error)?.message ?? err) });
      return false;
    }
  }

  private async sendCantDo(io: HandlerIo, to: string, request: MessageKind, reason: CantDoReason): Promise<void> {
    try {
      await io.reply(to, cantDo(request, reason));
    } catch (err) {
      this.o.log.warn('could not send cant-do', { reason, err: String(err) });
    }
  }
}
