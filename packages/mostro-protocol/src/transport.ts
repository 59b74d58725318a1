/**
 * The two Mostro transports, both directions.
 *
 * - **v2 `nip44`** (the default): one kind-14 event signed by the trade key; content = NIP-44 v2 of
 *   `[message, trade_sig | null, [identity_pubkey, identity_sig] | null]`.
 * - **v1 `gift-wrap`**: kind 1059 (ephemeral key) ⊃ seal kind 13 (signed by the identity key) ⊃ rumor kind 1
 *   (authored by the trade key) with content `[message, trade_sig | null]`. The seal signer and the rumor author
 *   differ in reputation mode, which generic NIP-59 code (nostr-tools `nip59.unwrapEvent`) rejects, so this module
 *   unwraps by hand. The outer wrap is not verified here; callers verify it first (intake step 3).
 *
 * Full privacy: no identity key; v1 seals with the trade key, v2 carries no identity proof.
 */
import { hexToBytes } from '@noble/hashes/utils.js';
import { generateSecretKey } from 'nostr-tools/pure';
import { cryptoBackend, eventHash, finalizeWith, publicKeyHex, type RandomSource } from './crypto.js';
import { conversationKeyFromSharedX, nip44Decrypt, nip44Encrypt } from './nip44.js';
import { z } from 'zod';
import { parseArrayElements, type JsonValue } from './json.js';
import {
  identityProofText,
  messageFromJsonValue,
  serializeMessage,
  signText,
  verifyMessageSignature,
  verifyTextSignature,
} from './message.js';
import type { Message } from './schema.js';

export const TRANSPORTS = ['nip44', 'gift-wrap'] as const;
export type Transport = (typeof TRANSPORTS)[number];
export const TransportSchema = z.enum(TRANSPORTS);

export const KIND_GIFT_WRAP = 1059;
export const KIND_SEAL = 13;
export const KIND_RUMOR = 1;
export const KIND_DIRECT = 14;

export function transportEventKind(t: Transport): number {
  return t === 'nip44' ? KIND_DIRECT : KIND_GIFT_WRAP;
}

/** The value of the info event's `protocol_version` tag, from which clients detect the transport. */
export function transportProtocolVersion(t: Transport): 1 | 2 {
  return t === 'nip44' ? 2 : 1;
}

export interface NostrEvent {
  id: string;
  pubkey: string;
  created_at: number;
  kind: number;
  tags: string[][];
  content: string;
  sig: string;
}

const hex = (n: number) => new RegExp(`^[0-9a-f]{${n}}$`);
export const NostrEventSchema = z.object({
  id: z.string().regex(hex(64)),
  pubkey: z.string().regex(hex(64)),
  created_at: z.number().int().min(0),
  kind: z.number().int().min(0).max(65535),
  tags: z.array(z.array(z.string())),
  content: z.string(),
  sig: z.string().regex(hex(128)),
});

const RumorSchema = z.object({
  id: z.string().regex(hex(64)).optional(),
  pubkey: z.string().regex(hex(64)),
  created_at: z.number().int().min(0),
  kind: z.number().int(),
  tags: z.array(z.array(z.string())),
  content: z.string(),
});

/** Verifies an event's id (sha256 of its NIP-01 serialization) and its signature over that id. */
export function verifyEventSignature(event: NostrEvent): boolean {
  try {
    if (eventHash(event) !== event.id) return false;
    return cryptoBackend().verifySchnorr(hexToBytes(event.sig), hexToBytes(event.id), hexToBytes(event.pubkey));
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// NIP-13 proof of work

/** Number of leading zero bits of an event id. */
export function powBits(idHex: string): number {
  let bits = 0;
  for (let i = 0; i < idHex.length; i++) {
    const nibble = parseInt(idHex[i]!, 16);
    if (nibble === 0) {
      bits += 4;
      continue;
    }
    bits += Math.clz32(nibble) - 28;
    break;
  }
  return bits;
}

export function checkPow(event: Pick<NostrEvent, 'id'>, required: number): boolean {
  return required <= 0 || powBits(event.id) >= required;
}

interface Template {
  kind: number;
  created_at: number;
  tags: string[][];
  content: string;
}

/** Signs an event, mining a NIP-13 nonce first when `pow` > 0. */
export function signEvent(t: Template, secretKey: Uint8Array, pow = 0, random?: RandomSource): NostrEvent {
  if (pow > 0) {
    const pubkey = publicKeyHex(secretKey);
    const tags = [...t.tags, ['nonce', '0', String(pow)]];
    const nonceTag = tags[tags.length - 1]!;
    for (let n = 0; ; n++) {
      nonceTag[1] = String(n);
      const id = eventHash({ ...t, tags, pubkey });
      if (powBits(id) >= pow) break;
    }
    return finalizeWith({ ...t, tags }, secretKey, random) as NostrEvent;
  }
  return finalizeWith({ ...t, tags: t.tags }, secretKey, random) as NostrEvent;
}

// ---------------------------------------------------------------------------------------------------------------
// NIP-44 helpers

/**
 * NIP-44 conversation keys cost an ECDH each (~2 ms); a trade key exchanges many messages with the daemon, so keys
 * are cached per (own key, peer key), bounded, least recently used evicted.
 */
const CONVERSATION_CACHE_SIZE = 8192;
const conversationKeys = new Map<string, Uint8Array>();
const keyIds = new WeakMap<Uint8Array, string>();

function conversationKey(secretKey: Uint8Array, pubkeyHex: string): Uint8Array {
  let own = keyIds.get(secretKey);
  if (!own) {
    own = publicKeyHex(secretKey);
    keyIds.set(secretKey, own);
  }
  const id = `${own}:${pubkeyHex}`;
  let k = conversationKeys.get(id);
  if (k) {
    conversationKeys.delete(id);
  } else {
    // NIP-44 v2: HKDF-extract(sha256, ECDH x coordinate, salt "nip44-v2").
    k = conversationKeyFromSharedX(cryptoBackend().sharedX(secretKey, hexToBytes(pubkeyHex)));
    if (conversationKeys.size >= CONVERSATION_CACHE_SIZE) {
      conversationKeys.delete(conversationKeys.keys().next().value!);
    }
  }
  conversationKeys.set(id, k);
  return k;
}

function encrypt(plaintext: string, secretKey: Uint8Array, pubkeyHex: string, random?: RandomSource): string {
  return nip44Encrypt(plaintext, conversationKey(secretKey, pubkeyHex), random?.(32));
}

function decrypt(payload: string, secretKey: Uint8Array, pubkeyHex: string): string {
  return nip44Decrypt(payload, conversationKey(secretKey, pubkeyHex));
}

/** A timestamp randomly 0–2 days in the past, as nostr-sdk tweaks seal and wrap timestamps. */
function tweakedTimestamp(now: number, random?: RandomSource): number {
  const r = random ? new Uint32Array(random(4).buffer) : crypto.getRandomValues(new Uint32Array(1));
  return now - (r[0]! % (2 * 24 * 3600));
}

// ---------------------------------------------------------------------------------------------------------------
// Wrapping

export interface WrapOptions {
  transport: Transport;
  message: Message;
  /** Author of the message: the trade key (v2 event author, v1 rumor author). */
  tradeKey: Uint8Array;
  /** The identity key; omit (or pass the trade key) for full privacy. */
  identityKey?: Uint8Array;
  /** Recipient pubkey (hex). */
  receiver: string;
  /** Include the trade signature (default true); the daemon's own messages are unsigned. */
  signed?: boolean;
  /** NIP-40 expiration (unix seconds) on the outer event. */
  expiration?: number;
  /** NIP-13 difficulty mined on the outer event. */
  pow?: number;
  /** Unix seconds now (defaults to the wall clock — relays and peers compare against real time). */
  now?: number;
  /** Override the message JSON (tests: to send a non-canonical but validly signed message). */
  messageJson?: string;
  /** v1: extra rumor tags (mostro-cli sends none; other clients add `["p", mostro]`). */
  rumorTags?: string[][];
  /** Randomness for nonces, signatures, v1 ephemeral keys and timestamps (default: the CSPRNG). */
  random?: RandomSource;
}

/** Builds the tuple text by concatenation, so the message bytes are exactly the ones signed. */
function buildTuple(o: WrapOptions, messageJson: string, tradePub: string, identityPub: string): string {
  const signed = o.signed ?? true;
  const sig = signed ? JSON.stringify(signText(messageJson, o.tradeKey)) : 'null';
  if (o.transport === 'gift-wrap') return `[${messageJson},${sig}]`;
  let proof = 'null';
  if (signed && o.identityKey && identityPub !== tradePub) {
    const idSig = signText(identityProofText(tradePub, messageJson), o.identityKey);
    proof = `[${JSON.stringify(identityPub)},${JSON.stringify(idSig)}]`;
  }
  return `[${messageJson},${sig},${proof}]`;
}

/** Wraps a message for `receiver` on the chosen transport. */
export function wrapMessage(o: WrapOptions): NostrEvent {
  const now = o.now ?? Math.floor(Date.now() / 1000);
  const messageJson = o.messageJson ?? serializeMessage(o.message);
  const tradePub = publicKeyHex(o.tradeKey);
  const identityKey = o.identityKey ?? o.tradeKey;
  const identityPub = publicKeyHex(identityKey);
  const tuple = buildTuple(o, messageJson, tradePub, identityPub);
  const outerTags: string[][] = [];
  if (o.expiration !== undefined) outerTags.push(['expiration', String(o.expiration)]);
  outerTags.push(['p', o.receiver]);

  if (o.transport === 'nip44') {
    return signEvent(
      { kind: KIND_DIRECT, created_at: now, tags: outerTags, content: encrypt(tuple, o.tradeKey, o.receiver, o.random) },
      o.tradeKey,
      o.pow ?? 0,
      o.random,
    );
  }
  const rumorBase = { pubkey: tradePub, created_at: now, kind: KIND_RUMOR, tags: o.rumorTags ?? [], content: tuple };
  const rumor = { id: eventHash(rumorBase), ...rumorBase };
  const seal = finalizeWith(
    {
      kind: KIND_SEAL,
      created_at: tweakedTimestamp(now, o.random),
      tags: [],
      content: encrypt(JSON.stringify(rumor), identityKey, o.receiver, o.random),
    },
    identityKey,
    o.random,
  );
  // A seeded source yields a valid scalar with overwhelming probability (order n ≈ 2^256 − 4.3·10^38).
  const ephemeral = o.random ? o.random(32) : generateSecretKey();
  return signEvent(
    {
      kind: KIND_GIFT_WRAP,
      created_at: tweakedTimestamp(now, o.random),
      tags: outerTags,
      content: encrypt(JSON.stringify(seal), ephemeral, o.receiver, o.random),
    },
    ephemeral,
    o.pow ?? 0,
    o.random,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Unwrapping

export interface UnwrappedMessage {
  message: Message;
  /** The message JSON exactly as received (the first tuple element). */
  messageJson: string;
  /** The trade signature, if any, and which JSON it verified against. */
  signature: string | null;
  signatureOver: 'raw' | 'canonical' | null;
  /** The trade key (v2 event author, v1 rumor author): where replies go. */
  sender: string;
  /** The identity key (proven on v2, the seal signer on v1); equals `sender` in full privacy. */
  identity: string;
  /** The inner timestamp used for freshness: v2 event, v1 rumor. */
  createdAt: number;
  transport: Transport;
}

export type UnwrapResult =
  | { ok: true; value: UnwrappedMessage }
  /** `not-for-me`: the content does not decrypt with this key. `invalid`: anything else wrong. */
  | { ok: false; reason: 'not-for-me' | 'invalid'; error: string };

const invalid = (error: string): UnwrapResult => ({ ok: false, reason: 'invalid', error });

/** JSON text validated by a schema; undefined when it is not JSON or does not fit. */
function parseJsonAs<T extends z.ZodType>(schema: T, text: string): z.output<T> | undefined {
  try {
    const r = schema.safeParse(JSON.parse(text));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

function parseTuple(
  plaintext: string,
  arity: 2 | 3,
): { ok: true; message: Message; raw: string; sig: string | null; proof: [string, string] | null } | { ok: false; error: string } {
  let values: JsonValue[];
  let raw: string[];
  try {
    ({ values, raw } = parseArrayElements(plaintext));
  } catch (err) {
    return { ok: false, error: `content is not a JSON array: ${(err as Error).message}` };
  }
  if (values.length !== arity) return { ok: false, error: `content must be a ${arity}-element array, got ${values.length}` };
  const m = messageFromJsonValue(values[0]);
  if (!m.ok) return { ok: false, error: `message: ${m.error}` };
  const sig = values[1];
  if (sig !== null && typeof sig !== 'string') return { ok: false, error: 'signature must be a string or null' };
  let proof: [string, string] | null = null;
  if (arity === 3) {
    const p = values[2];
    if (p !== null) {
      if (!Array.isArray(p) || p.length !== 2 || typeof p[0] !== 'string' || typeof p[1] !== 'string') {
        return { ok: false, error: 'identity proof must be [pubkey, signature] or null' };
      }
      proof = [p[0], p[1]];
    }
  }
  return { ok: true, message: m.value, raw: raw[0]!, sig, proof };
}

function unwrapped(
  t: { message: Message; raw: string; sig: string | null },
  signatureOver: UnwrappedMessage['signatureOver'],
  from: Pick<UnwrappedMessage, 'sender' | 'identity' | 'createdAt' | 'transport'>,
): UnwrapResult {
  return { ok: true, value: { message: t.message, messageJson: t.raw, signature: t.sig, signatureOver, ...from } };
}

function checkTradeSignature(msg: Message, raw: string, sig: string | null, author: string) {
  if (sig === null) return { ok: true as const, over: null };
  const over = verifyMessageSignature(msg, raw, sig, author);
  return over ? { ok: true as const, over } : { ok: false as const };
}

/** v2: verify the event, decrypt, parse the 3-tuple, verify the trade signature and the identity proof. */
export function unwrapDirect(event: NostrEvent, receiverKey: Uint8Array): UnwrapResult {
  if (event.kind !== KIND_DIRECT) return invalid('event is not a kind-14 direct message');
  if (!verifyEventSignature(event)) return invalid('invalid event signature');
  let plaintext: string;
  try {
    plaintext = decrypt(event.content, receiverKey, event.pubkey);
  } catch (err) {
    return { ok: false, reason: 'not-for-me', error: `cannot decrypt: ${(err as Error).message}` };
  }
  const t = parseTuple(plaintext, 3);
  if (!t.ok) return invalid(t.error);
  const sig = checkTradeSignature(t.message, t.raw, t.sig, event.pubkey);
  if (!sig.ok) return invalid('trade signature does not verify against the event author');
  let identity = event.pubkey;
  if (t.proof) {
    const [idPub, idSig] = t.proof;
    const proven =
      verifyTextSignature(identityProofText(event.pubkey, t.raw), idSig, idPub) ||
      verifyTextSignature(identityProofText(event.pubkey, serializeMessage(t.message)), idSig, idPub);
    if (!proven) return invalid('identity proof does not verify');
    identity = idPub.toLowerCase();
  }
  return unwrapped(t, sig.over, { sender: event.pubkey, identity, createdAt: event.created_at, transport: 'nip44' });
}

/** v1: decrypt the wrap, verify the seal, decrypt the rumor (author may differ from the seal signer), check the tuple. */
export function unwrapGiftWrap(event: NostrEvent, receiverKey: Uint8Array): UnwrapResult {
  if (event.kind !== KIND_GIFT_WRAP) return invalid('event is not a kind-1059 gift wrap');
  let sealJson: string;
  try {
    sealJson = decrypt(event.content, receiverKey, event.pubkey);
  } catch (err) {
    return { ok: false, reason: 'not-for-me', error: `cannot decrypt: ${(err as Error).message}` };
  }
  const seal = parseJsonAs(NostrEventSchema, sealJson);
  if (!seal) return invalid('seal is not a valid event');
  if (seal.kind !== KIND_SEAL) return invalid(`seal must be kind 13, got ${seal.kind}`);
  if (!verifyEventSignature(seal)) return invalid('invalid seal signature');
  let rumorJson: string;
  try {
    rumorJson = decrypt(seal.content, receiverKey, seal.pubkey);
  } catch {
    return invalid('cannot decrypt the seal');
  }
  const rumor = parseJsonAs(RumorSchema, rumorJson);
  if (!rumor) return invalid('rumor is not a valid unsigned event');
  if (rumor.kind !== KIND_RUMOR) return invalid(`rumor must be kind 1, got ${rumor.kind}`);
  const t = parseTuple(rumor.content, 2);
  if (!t.ok) return invalid(t.error);
  const sig = checkTradeSignature(t.message, t.raw, t.sig, rumor.pubkey);
  if (!sig.ok) return invalid('trade signature does not verify against the rumor author');
  return unwrapped(t, sig.over, { sender: rumor.pubkey, identity: seal.pubkey, createdAt: rumor.created_at, transport: 'gift-wrap' });
}

export function unwrapMessage(event: NostrEvent, receiverKey: Uint8Array, transport: Transport): UnwrapResult {
  return transport === 'nip44' ? unwrapDirect(event, receiverKey) : unwrapGiftWrap(event, receiverKey);
}

export function publicKeyOf(secretKey: Uint8Array): string {
  return publicKeyHex(secretKey);
}

