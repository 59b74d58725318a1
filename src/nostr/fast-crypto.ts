/**
 * The protocol's crypto backend for the daemon: the system's libsecp256k1 through this project's Node-API addon
 * (`@mostro/secp256k1-native`, ~40 µs a BIP-340 verification), else libsecp256k1 compiled to WebAssembly (the
 * tiny-secp256k1 package, ~190 µs) — both several times faster than the pure-JavaScript default.
 */
import { createCipheriv, createHash, createHmac } from 'node:crypto';
import * as ecc from 'tiny-secp256k1';
import { concat02, setCryptoBackend, type CryptoBackend } from '@mostro/protocol/crypto';
import { loadNative } from '@mostro/secp256k1-native';

const bytes = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.length);

/**
 * Node's base64 decoder skips what it does not understand (other characters, missing padding, base64url); the
 * protocol must refuse those payloads as @scure/base does. A payload is canonical exactly when encoding its bytes
 * gives it back, so that is the check (~1 µs against ~34 µs for @scure/base's decoder on a 1-KB payload).
 */
function strictBase64Decode(text: string): Uint8Array {
  const b = Buffer.from(text, 'base64');
  if (b.toString('base64') !== text) throw new Error('invalid base64');
  return bytes(b);
}

/** SHA-256, HMAC, ChaCha20 and base64 through Node's OpenSSL: event ids, message digests, NIP-44's symmetric part. */
export const opensslSymmetric: Pick<CryptoBackend, 'sha256' | 'hmacSha256' | 'chacha20' | 'base64Encode' | 'base64Decode'> = {
  base64Encode: (data) => Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64'),
  base64Decode: strictBase64Decode,
  sha256: (data) => bytes(createHash('sha256').update(data).digest()),
  hmacSha256: (key, data) => bytes(createHmac('sha256', key).update(data).digest()),
  chacha20: (key, nonce, data) => {
    // OpenSSL's chacha20 takes a 16-byte IV: the 32-bit block counter (little-endian, 0 here) then the 12-byte nonce.
    const iv = new Uint8Array(16);
    iv.set(nonce, 4);
    const c = createCipheriv('chacha20', key, iv);
    return bytes(Buffer.concat([c.update(data), c.final()]));
  },
};

export const libsecp256k1Backend: CryptoBackend = {
  ...opensslSymmetric,
  name: 'libsecp256k1 (WebAssembly)',
  verifySchnorr: (sig, digest, pk) => {
    try {
      // verifySchnorr validates the key itself (and throws on an invalid one): no separate isXOnlyPoint, which
      // would decompress the point a second time.
      return sig.length === 64 && pk.length === 32 && digest.length === 32 && ecc.verifySchnorr(digest, pk, sig);
    } catch {
      return false;
    }
  },
  sharedX: (sk, pk) => {
    const p = ecc.pointMultiply(concat02(pk), sk, true);
    if (!p) throw new Error('invalid public key for ECDH');
    return p.subarray(1);
  },
  signSchnorr: (digest, sk, aux) => ecc.signSchnorr(digest, sk, aux ?? crypto.getRandomValues(new Uint8Array(32))),
  xOnlyPublicKey: (sk) => ecc.xOnlyPointFromScalar(sk),
};

/** The native backend, or why there is none (the addon was not built: no compiler or libsecp256k1-dev at install). */
export function nativeBackend(): { ok: true; backend: CryptoBackend } | { ok: false; reason: string } {
  const native = loadNative();
  if (!native.ok) return native;
  const lib = native.lib;
  return {
    ok: true,
    backend: {
      ...opensslSymmetric,
      name: 'libsecp256k1 (native)',
      // Wrong lengths are a failed verification here, as on the other backends (the addon throws a TypeError).
      verifySchnorr: (sig, digest, pk) => sig.length === 64 && pk.length === 32 && digest.length === 32 && lib.verifySchnorr(sig, digest, pk),
      sharedX: (sk, pk) => lib.sharedX(sk, pk),
      signSchnorr: (digest, sk, aux) => lib.signSchnorr(digest, sk, aux ?? crypto.getRandomValues(new Uint8Array(32))),
      xOnlyPublicKey: (sk) => lib.xOnlyPublicKey(sk),
    },
  };
}

/**
 * Switches the protocol to the fastest backend there is; returns which, and why not native when it is not (for the
 * one log line an operator needs). MOSTRO_CRYPTO=wasm keeps the WebAssembly path (benchmarks compare the two).
 */
export function useFastCrypto(): { backend: string; fallbackReason?: string } {
  const native = process.env.MOSTRO_CRYPTO === 'wasm' ? { ok: false as const, reason: 'MOSTRO_CRYPTO=wasm' } : nativeBackend();
  const chosen = native.ok ? native.backend : libsecp256k1Backend;
  setCryptoBackend(chosen);
  return native.ok ? { backend: chosen.name } : { backend: chosen.name, fallbackReason: native.reason };
}
