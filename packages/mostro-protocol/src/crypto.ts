/**
 * The elliptic-curve operations the protocol needs — BIP-340 verification and the ECDH behind NIP-44 — behind a
 * small interface. The default is pure JavaScript (@noble/curves), which runs anywhere a TypeScript client does; the
 * daemon switches to libsecp256k1, native or compiled to WebAssembly (its `src/nostr/fast-crypto.ts`), 6–12× faster.
 */
import { chacha20 } from '@noble/ciphers/chacha.js';
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { base64 } from '@scure/base';

export interface CryptoBackend {
  name: string;
  /** BIP-340 verification of a signature over a 32-byte digest by an x-only public key. */
  verifySchnorr(signature: Uint8Array, digest: Uint8Array, xOnlyPubkey: Uint8Array): boolean;
  /** The x coordinate of secretKey·P, P being the even-y point of the x-only public key (NIP-44's ECDH). */
  sharedX(secretKey: Uint8Array, xOnlyPubkey: Uint8Array): Uint8Array;
  /** BIP-340 signature of a 32-byte digest; fresh auxiliary randomness unless `aux` is given. */
  signSchnorr(digest: Uint8Array, secretKey: Uint8Array, aux?: Uint8Array): Uint8Array;
  /** The x-only public key of a secret key. */
  xOnlyPublicKey(secretKey: Uint8Array): Uint8Array;
  /**
   * The symmetric primitives (event ids, message digests, NIP-44's HKDF, MAC and cipher), when the backend has
   * faster ones than the pure-JavaScript defaults (the daemon: Node's OpenSSL).
   */
  sha256?(data: Uint8Array): Uint8Array;
  hmacSha256?(key: Uint8Array, data: Uint8Array): Uint8Array;
  /** ChaCha20 (RFC 8439: 12-byte nonce, block counter from 0) of `data`. */
  chacha20?(key: Uint8Array, nonce: Uint8Array, data: Uint8Array): Uint8Array;
  /**
   * Base64 (RFC 4648, padded) of NIP-44 payloads. Decoding must refuse exactly what @scure/base refuses (anything not
   * canonical: other characters, missing or extra padding, non-zero trailing bits) and throw.
   */
  base64Encode?(data: Uint8Array): string;
  base64Decode?(text: string): Uint8Array;
}

export const nobleBackend: CryptoBackend = {
  name: 'noble (pure JavaScript)',
  verifySchnorr: (sig, digest, pk) => {
    try {
      return schnorr.verify(sig, digest, pk);
    } catch {
      return false;
    }
  },
  sharedX: (sk, pk) => secp256k1.getSharedSecret(sk, concat02(pk)).subarray(1, 33),
  signSchnorr: (digest, sk, aux) => schnorr.sign(digest, sk, aux),
  xOnlyPublicKey: (sk) => schnorr.getPublicKey(sk),
};

export function concat02(xOnly: Uint8Array): Uint8Array {
  const p = new Uint8Array(33);
  p[0] = 2;
  p.set(xOnly, 1);
  return p;
}

let backend: CryptoBackend = nobleBackend;

export function setCryptoBackend(b: CryptoBackend): void {
  backend = b;
}

export function cryptoBackend(): CryptoBackend {
  return backend;
}

/** SHA-256 through the current backend (or @noble/hashes). */
export const sha256Of = (data: Uint8Array): Uint8Array => (backend.sha256 ? backend.sha256(data) : sha256(data));
/** HMAC-SHA256 through the current backend (or @noble/hashes). */
export const hmacSha256Of = (key: Uint8Array, data: Uint8Array): Uint8Array => (backend.hmacSha256 ? backend.hmacSha256(key, data) : hmac(sha256, key, data));
/** ChaCha20 (RFC 8439) through the current backend (or @noble/ciphers). */
export const chacha20Of = (key: Uint8Array, nonce: Uint8Array, data: Uint8Array): Uint8Array =>
  backend.chacha20 ? backend.chacha20(key, nonce, data) : chacha20(key, nonce, data);

/** The NIP-01 id of an event: sha256 of `[0, pubkey, created_at, kind, tags, content]`, hex. */
export function eventHash(e: { pubkey: string; created_at: number; kind: number; tags: string[][]; content: string }): string {
  return bytesToHex(sha256Of(utf8ToBytes(JSON.stringify([0, e.pubkey, e.created_at, e.kind, e.tags, e.content]))));
}

const pubkeys = new WeakMap<Uint8Array, string>();

/** Hex x-only public key of a secret key, remembered per key object (the daemon's key signs every reply). */
export function publicKeyHex(secretKey: Uint8Array): string {
  let pk = pubkeys.get(secretKey);
  if (!pk) {
    pk = bytesToHex(backend.xOnlyPublicKey(secretKey));
    pubkeys.set(secretKey, pk);
  }
  return pk;
}

/** A signed Nostr event (NIP-01 id and BIP-340 signature) through the current backend. */
export function finalizeWith<T extends { kind: number; created_at: number; tags: string[][]; content: string }>(
  t: T,
  secretKey: Uint8Array,
  random?: RandomSource,
): T & { id: string; pubkey: string; sig: string } {
  const pubkey = publicKeyHex(secretKey);
  const id = eventHash({ ...t, pubkey });
  const sig = bytesToHex(backend.signSchnorr(hexToBytes(id), secretKey, random?.(32)));
  return { ...t, id, pubkey, sig };
}

/**
 * Where the random bytes of a wrap come from (NIP-44 nonces, signature auxiliary data, v1 ephemeral keys and
 * timestamp tweaks). The default is the system's CSPRNG; a seeded source makes building the same reply twice give
 * byte-identical events, so a retried publish is deduplicated by relays instead of delivered twice.
 */
export type RandomSource = (n: number) => Uint8Array;

/** A deterministic source: HMAC-SHA256(key, seed ‖ counter) blocks. Secret key + unique seed ⇒ unpredictable, unique. */
export function seededRandom(key: Uint8Array, seed: string): RandomSource {
  let counter = 0;
  return (n) => {
    const out = new Uint8Array(n);
    for (let off = 0; off < n; off += 32) {
      const block = hmac(sha256, key, utf8ToBytes(`${seed}\u0000${counter++}`));
      out.set(block.subarray(0, Math.min(32, n - off)), off);
    }
    return out;
  };
}
/** Base64 through the current backend (or @scure/base). */
export const base64EncodeOf = (data: Uint8Array): string => (backend.base64Encode ? backend.base64Encode(data) : base64.encode(data));
/** Strict base64 decoding through the current backend (or @scure/base): throws on anything not canonical. */
export const base64DecodeOf = (text: string): Uint8Array => (backend.base64Decode ? backend.base64Decode(text) : base64.decode(text));
