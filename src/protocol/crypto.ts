/**
 * The elliptic-curve operations the protocol needs — BIP-340 verification and the ECDH behind NIP-44 — behind a
 * small interface. The default is pure JavaScript (@noble/curves), which runs anywhere a TypeScript client does; the
 * daemon switches to libsecp256k1 compiled to WebAssembly (`src/nostr/fast-crypto.ts`), 6–12× faster.
 */
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';

export interface CryptoBackend {
  name: string;
  /** BIP-340 verification of a signature over a 32-byte digest by an x-only public key. */
  verifySchnorr(signature: Uint8Array, digest: Uint8Array, xOnlyPubkey: Uint8Array): boolean;
  /** The x coordinate of secretKey·P, P being the even-y point of the x-only public key (NIP-44's ECDH). */
  sharedX(secretKey: Uint8Array, xOnlyPubkey: Uint8Array): Uint8Array;
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
