/**
 * Messages: parsing from JSON text, construction, the `MessageKind::verify` shape rules, and signatures
 * (BIP-340 Schnorr over sha256 of the message JSON).
 */
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import type { z } from 'zod';
import { cryptoBackend, sha256Of } from './crypto.js';
import { JsonSyntaxError, parseJson, type JsonValue } from './json.js';
import {
  MessageSchema,
  unwrapKind,
  type Action,
  type Message,
  type MessageInput,
  type MessageKind,
  type MessageWrapper,
  type Payload,
  type PayloadInput,
} from './schema.js';
import { serializeMessage } from './serialize.js';

/** mostro-core 0.14's protocol version; replies stamp 1 (gift wrap) or 2 (nip44) to match the transport. */
export const PROTOCOL_VERSION = 2;

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.length ? i.path.join('.') + ': ' : ''}${i.message}`)
    .join('; ');
}

/** Validates an already-parsed JSON value as a Message. */
export function messageFromJsonValue(value: unknown): ParseResult<Message> {
  const r = MessageSchema.safeParse(value);
  return r.success ? { ok: true, value: r.data } : { ok: false, error: describeIssues(r.error) };
}

/** Parses message JSON text strictly and losslessly (64-bit `request_id` kept exact). */
export function parseMessage(text: string): ParseResult<Message> {
  let value: JsonValue;
  try {
    value = parseJson(text);
  } catch (err) {
    return { ok: false, error: err instanceof JsonSyntaxError ? `invalid JSON: ${err.message}` : String(err) };
  }
  return messageFromJsonValue(value);
}

/** Builds a message from code, applying the same validation and defaults as parsing. */
export function createMessage(input: MessageInput): Message {
  const r = MessageSchema.safeParse(input);
  if (!r.success) throw new TypeError(`invalid message: ${describeIssues(r.error)}`);
  return r.data;
}

export interface NewMessageFields {
  wrapper?: MessageWrapper;
  version?: number;
  request_id?: bigint | number | null;
  trade_index?: number | null;
  id?: string;
  action: Action;
  payload?: PayloadInput | null;
}

/** Convenience constructor: `message({ action: 'new-order', payload: { order: … } })`. */
export function message(f: NewMessageFields): Message {
  const kind = {
    version: f.version ?? PROTOCOL_VERSION,
    request_id: f.request_id ?? null,
    trade_index: f.trade_index ?? null,
    ...(f.id ? { id: f.id } : {}),
    action: f.action,
    payload: f.payload ?? null,
  };
  return createMessage({ [f.wrapper ?? 'order']: kind } as MessageInput);
}

export function messageKind(msg: Message): MessageKind {
  return unwrapKind(msg).kind;
}

const payloadKey = (p: Payload | null): string | null => (p ? Object.keys(p)[0]! : null);

const ID_AND_ANY_PAYLOAD = new Set<Action>([
  'take-sell',
  'take-buy',
  'fiat-sent',
  'fiat-sent-ok',
  'release',
  'released',
  'dispute',
  'admin-canceled',
  'admin-settled',
  'rate',
  'rate-received',
  'admin-take-dispute',
  'admin-took-dispute',
  'dispute-initiated-by-you',
  'dispute-initiated-by-peer',
  'waiting-buyer-invoice',
  'purchase-completed',
  'bond-payout-completed',
  'bond-slashed',
  'hold-invoice-payment-accepted',
  'hold-invoice-payment-settled',
  'hold-invoice-payment-canceled',
  'waiting-seller-to-pay',
  'buyer-took-order',
  'buyer-invoice-accepted',
  'bond-invoice-accepted',
  'cooperative-cancel-initiated-by-you',
  'cooperative-cancel-initiated-by-peer',
  'cooperative-cancel-accepted',
  'cancel',
  'invoice-updated',
  'admin-add-solver',
  'send-dm',
  'trade-pubkey',
  'cashu-escrow-locked',
  'canceled',
]);

/**
 * mostro-core's `MessageKind::verify`: which actions need an `id` and which payloads they accept. The daemon drops
 * inbound messages that fail it (intake step 9). Clients must not apply it to daemon messages (the taker-reputation
 * notice deliberately fails it).
 */
export function verifyShape(kind: MessageKind): boolean {
  const p = payloadKey(kind.payload);
  const hasId = kind.id !== undefined;
  switch (kind.action) {
    case 'new-order':
      return p === 'order';
    case 'pay-invoice':
    case 'pay-bond-invoice':
    case 'add-invoice':
      return hasId && p === 'payment_request';
    case 'add-bond-invoice':
      return hasId && (p === 'bond_payout_request' || p === 'payment_request');
    case 'admin-settle':
    case 'admin-cancel':
      return hasId && (p === null || p === 'bond_resolution');
    case 'add-cashu-escrow':
      return hasId && p === 'cashu_lock_proof';
    case 'cashu-pm-signature':
      return hasId && p === 'cashu_signatures' && (kind.payload as { cashu_signatures: unknown[] }).cashu_signatures.length > 0;
    case 'last-trade-index':
    case 'restore-session':
      return p === null;
    case 'payment-failed':
      return hasId && p === 'payment_failed';
    case 'rate-user':
      return p === 'rating_user';
    case 'cant-do':
      return p === 'cant_do';
    case 'orders':
      return p === 'ids' || p === 'orders';
    default:
      if (ID_AND_ANY_PAYLOAD.has(kind.action)) {
        return hasId && p !== 'bond_resolution' && p !== 'bond_payout_request';
      }
      return false;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Signatures

const HEX64 = /^[0-9a-f]{64}$/i;
const HEX128 = /^[0-9a-f]{128}$/i;

/** `Message::sign`: BIP-340 over sha256(UTF-8 of `text`), hex. */
export function signText(text: string, secretKey: Uint8Array): string {
  return bytesToHex(cryptoBackend().signSchnorr(sha256Of(utf8ToBytes(text)), secretKey));
}

/** `Message::verify_signature` over sha256(`text`); malformed inputs simply do not verify. */
export function verifyTextSignature(text: string, signatureHex: string, pubkeyHex: string): boolean {
  if (!HEX128.test(signatureHex) || !HEX64.test(pubkeyHex)) return false;
  return cryptoBackend().verifySchnorr(hexToBytes(signatureHex), sha256Of(utf8ToBytes(text)), hexToBytes(pubkeyHex));
}

export function signMessage(msg: Message, secretKey: Uint8Array): string {
  return signText(serializeMessage(msg), secretKey);
}

/**
 * Verifies a signature over a received message: against the exact JSON the client sent and, failing that, against
 * the canonical re-serialization (what the reference daemon checks). Returns which one matched.
 */
export function verifyMessageSignature(
  msg: Message,
  rawJson: string | undefined,
  signatureHex: string,
  pubkeyHex: string,
): 'raw' | 'canonical' | false {
  if (rawJson !== undefined && verifyTextSignature(rawJson, signatureHex, pubkeyHex)) return 'raw';
  const canonical = serializeMessage(msg);
  if (canonical !== rawJson && verifyTextSignature(canonical, signatureHex, pubkeyHex)) return 'canonical';
  return false;
}

/** The v2 identity proof payload: binds the identity to this trade key and this message. */
export function identityProofText(tradePubkeyHex: string, messageJson: string): string {
  return `mostro-transport-v2-identity:${tradePubkeyHex.toLowerCase()}:${messageJson}`;
}

export { serializeMessage };
