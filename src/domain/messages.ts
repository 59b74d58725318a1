/**
 * Messages as the order workflow reads and writes them: canonical JSON text in, canonical JSON text out. Request ids
 * travel as decimal strings inside workflow state (Temporal's JSON payloads cannot hold a 64-bit integer exactly);
 * they become bigints only while a message is built.
 *
 * Inbound messages were validated by the ingress and re-serialized canonically, so they are read without the zod
 * schemas; outbound ones are typed and checked byte for byte by the tests. Keeping zod out of the workflow bundle
 * keeps each cached workflow small (every workflow instance gets its own copy of the modules it imports).
 */
import { parseJson } from '@mostro/protocol/json';
import { unwrapKind } from '@mostro/protocol/kind';
import type { Action, CantDoReason, Message, MessageKind, MessageWrapper, Payload } from '@mostro/protocol/schema';
import { serializeMessage } from '@mostro/protocol/serialize';

/** A request id as workflow state keeps it: decimal text, or null. */
export type Rid = string | null;

export interface Inbound {
  kind: MessageKind;
  rid: Rid;
}

/** Parses a message the ingress already accepted (so it is canonical and valid). */
export function readInbound(json: string): Inbound {
  const kind = unwrapKind(parseJson(json) as unknown as Message).kind;
  const rid = kind.request_id as unknown as number | bigint | null;
  return { kind, rid: rid === null || rid === undefined ? null : rid.toString() };
}

export interface Outbound {
  /** Trade key the message is sent to. */
  to: string;
  json: string;
  /**
   * The preimage key of the escrow whose preimage this message reveals (a solver's `SolverDisputeInfo`): the sending
   * activity derives it and puts it in, so the preimage never enters the workflow's history.
   */
  escrowPreimageKey?: string;
}

/** An `order` message to `to`; the egress stamps the transport's protocol version. */
export function orderMessage(
  to: string,
  f: { rid?: Rid; ti?: number | null; id?: string; action: Action; payload?: Payload | null; wrapper?: MessageWrapper },
): Outbound {
  const kind: MessageKind = {
    version: 2,
    request_id: f.rid === null || f.rid === undefined ? null : BigInt(f.rid),
    trade_index: f.ti ?? null,
    id: f.id,
    action: f.action,
    payload: f.payload ?? null,
  };
  return { to, json: serializeMessage({ [f.wrapper ?? 'order']: kind } as Message) };
}

/** The `cant-do` answer to a request: echoes its request id and order id. */
export function cantDoMessage(to: string, rid: Rid, id: string | undefined, reason: CantDoReason): Outbound {
  return orderMessage(to, { wrapper: 'cant-do', rid, id, action: 'cant-do', payload: { cant_do: reason } });
}

/**
 * An accepted inbound message as the ingress hands it to a workflow. Plain JSON: the message travels as its
 * canonical JSON text, so a 64-bit `request_id` survives Temporal's JSON payloads.
 */
export interface InboundMessage {
  /** The Nostr event that carried it (idempotency key). */
  eventId: string;
  action: string;
  messageJson: string;
  /** The trade key: where replies go. */
  sender: string;
  /** The identity key (equals `sender` in full privacy). */
  identity: string;
  /** Inner `created_at` (unix seconds). */
  createdAt: number;
  transport: 'nip44' | 'gift-wrap';
  /** When the ingress received it (wall-clock ms), for the reply-latency metric; absent from older messages. */
  receivedAtMs?: number;
}
