/**
 * NIP-44 version 2 (the encryption of both transports), on the crypto backend's symmetric primitives so the daemon
 * runs it on OpenSSL while a client runs it on @noble. Byte for byte what nostr-tools and rust-nostr produce for the
 * same nonce (test/protocol checks it against both); every malformed payload is refused, as they refuse it.
 */
import { base64DecodeOf, base64EncodeOf, chacha20Of, hmacSha256Of } from './crypto.js';

const VERSION = 2;
const MIN_PLAINTEXT = 1;
const MAX_PLAINTEXT = 65535;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

/** The conversation key: HKDF-extract(salt "nip44-v2", the ECDH x coordinate). */
const SALT = encoder.encode('nip44-v2');
export const conversationKeyFromSharedX = (sharedX: Uint8Array): Uint8Array => hmacSha256Of(SALT, sharedX);

/** HKDF-expand(conversation key, nonce, 76) split into the ChaCha20 key and nonce and the HMAC key. */
function messageKeys(conversationKey: Uint8Array, nonce: Uint8Array): { key: Uint8Array; iv: Uint8Array; mac: Uint8Array } {
  if (conversationKey.length !== 32) throw new Error('invalid conversation key length');
  if (nonce.length !== 32) throw new Error('invalid nonce length');
  const t1 = hmacSha256Of(conversationKey, concat(nonce, Uint8Array.of(1)));
  const t2 = hmacSha256Of(conversationKey, concat(t1, nonce, Uint8Array.of(2)));
  const t3 = hmacSha256Of(conversationKey, concat(t2, nonce, Uint8Array.of(3)));
  const okm = concat(t1, t2, t3);
  return { key: okm.subarray(0, 32), iv: okm.subarray(32, 44), mac: okm.subarray(44, 76) };
}

/** The padded length of a plaintext of `len` bytes: 32 at least, then chunks of 32 up to 256, of size/8 above. */
export function paddedLength(len: number): number {
  if (!Number.isInteger(len) || len < 1) throw new Error('expected a positive integer');
  if (len <= 32) return 32;
  const nextPower = 1 << (Math.floor(Math.log2(len - 1)) + 1);
  const chunk = nextPower <= 256 ? 32 : nextPower / 8;
  return chunk * (Math.floor((len - 1) / chunk) + 1);
}

function pad(plaintext: string): Uint8Array {
  const bytes = encoder.encode(plaintext);
  if (bytes.length < MIN_PLAINTEXT || bytes.length > MAX_PLAINTEXT) throw new Error('invalid plaintext size: must be between 1 and 65535 bytes');
  const out = new Uint8Array(2 + paddedLength(bytes.length));
  new DataView(out.buffer).setUint16(0, bytes.length, false);
  out.set(bytes, 2);
  return out;
}

function unpad(padded: Uint8Array): string {
  const len = new DataView(padded.buffer, padded.byteOffset, padded.byteLength).getUint16(0, false);
  if (len < MIN_PLAINTEXT || len > MAX_PLAINTEXT || padded.length !== 2 + paddedLength(len)) throw new Error('invalid padding');
  return decoder.decode(padded.subarray(2, 2 + len));
}

/** Constant-time comparison of two MACs. */
function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

export function nip44Encrypt(plaintext: string, conversationKey: Uint8Array, nonce: Uint8Array = crypto.getRandomValues(new Uint8Array(32))): string {
  const k = messageKeys(conversationKey, nonce);
  const ciphertext = chacha20Of(k.key, k.iv, pad(plaintext));
  const mac = hmacSha256Of(k.mac, concat(nonce, ciphertext));
  return base64EncodeOf(concat(Uint8Array.of(VERSION), nonce, ciphertext, mac));
}

export function nip44Decrypt(payload: string, conversationKey: Uint8Array): string {
  const plen = payload.length;
  if (plen === 0 || payload[0] === '#') throw new Error('unknown encryption version');
  if (plen < 132 || plen > 87472) throw new Error(`invalid payload length: ${plen}`);
  const data = base64DecodeOf(payload);
  const dlen = data.length;
  if (dlen < 99 || dlen > 65603) throw new Error(`invalid data length: ${dlen}`);
  if (data[0] !== VERSION) throw new Error(`unknown encryption version ${data[0]}`);
  const nonce = data.subarray(1, 33);
  const ciphertext = data.subarray(33, dlen - 32);
  const mac = data.subarray(dlen - 32);
  const k = messageKeys(conversationKey, nonce);
  if (!equalBytes(hmacSha256Of(k.mac, concat(nonce, ciphertext)), mac)) throw new Error('invalid MAC');
  return unpad(chacha20Of(k.key, k.iv, ciphertext));
}
