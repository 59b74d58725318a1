/**
 * Messages as the order workflow reads and writes them: canonical JSON text in, canonical JSON text out. Request ids
 * travel as decimal strings inside workflow state (Temporal's JSON payloads cannot hold a 64-bit integer exactly);
 * they become bigints only while a message is built. Uses only the pure parts of the protocol library (schemas,
 * lossless JSON, canonical serialization), so it runs in the workflow sandbox.
 */
import { parseJson } from '../../protocol/json.js';
import {
  MessageSchema,
  unwrapKind,
  type Action,
  type CantDoReason,
  type MessageKind,
  type MessageWrapper,
  type PayloadInput,
} from '../../protocol/schema.js';
import { serializeMessage } from '../../protocol/serialize.js';

/** A request id as workflow state keeps it: decimal text, or null. */
export type Rid = string | null;

export interface Inbound {
  kind: MessageKind;
  rid: Rid;
}

/** Parses a message the ingress already accepted (so it is canonical and valid). */
export function readInbound(json: string): Inbound {
  const kind = unwrapKind(MessageSchema.parse(parseJson(json))).kind;
  return { kind, rid: kind.request_id === null ? null : kind.request_id.toString() };
}

export interface Outbound {
  /** Trade key the message is sent to. */
  to: string;
  json: string;
}

/** An `order` message to `to`; the egress stamps the transport's protocol version. */
export function orderMessage(
  to: string,
  f: { rid?: Rid; ti?: number | null; id?: string; action: Action; payload?: PayloadInput | null; wrapper?: MessageWrapper },
): Outbound {
  const msg = MessageSchema.parse({
    [f.wrapper ?? 'order']: {
      version: 2,
      request_id: f.rid === null || f.rid === undefined ? null : BigInt(f.rid),
      trade_index: f.ti ?? null,
      ...(f.id ? { id: f.id } : {}),
      action: f.action,
      payload: f.payload ?? null,
    },
  });
  return { to, json: serializeMessage(msg) };
}

/** The `cant-do` answer to a request: echoes its request id and order id. */
export function cantDoMessage(to: string, rid: Rid, id: string | undefined, reason: CantDoReason): Outbound {
  return orderMessage(to, { wrapper: 'cant-do', rid, id, action: 'cant-do', payload: { cant_do: reason } });
}
