/**
 * The system's libsecp256k1 (C, through a Node-API addon built at install time): BIP-340 verification and signing,
 * x-only public keys, and the x coordinate of an ECDH point (NIP-44's conversation key input). `loadNative()` says why
 * when the addon is not there, so a caller can fall back and tell the operator once.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export interface NativeSecp256k1 {
  /** BIP-340 verification; false for a malformed public key. Throws a TypeError for wrong lengths. */
  verifySchnorr(signature: Uint8Array, digest: Uint8Array, xOnlyPubkey: Uint8Array): boolean;
  /** BIP-340 signature of a 32-byte digest with 32 bytes of auxiliary randomness. */
  signSchnorr(digest: Uint8Array, secretKey: Uint8Array, aux: Uint8Array): Uint8Array;
  xOnlyPublicKey(secretKey: Uint8Array): Uint8Array;
  /** x of secretKey·P, P the even-y point of the x-only key. Throws on an invalid key. */
  sharedX(secretKey: Uint8Array, xOnlyPubkey: Uint8Array): Uint8Array;
}

export const ADDON_PATH = fileURLToPath(new URL('../build/secp256k1.node', import.meta.url));

let loaded: { ok: true; lib: NativeSecp256k1 } | { ok: false; reason: string } | undefined;

/** The addon, or why it cannot be used (not built: no compiler or no libsecp256k1-dev at install time; a load error). */
export function loadNative(): { ok: true; lib: NativeSecp256k1 } | { ok: false; reason: string } {
  if (loaded) return loaded;
  if (!fs.existsSync(ADDON_PATH)) {
    loaded = { ok: false, reason: 'the addon was not built at install time (needs cc and libsecp256k1-dev; then npm rebuild @mostro/secp256k1-native)' };
  } else {
    try {
      loaded = { ok: true, lib: createRequire(import.meta.url)(ADDON_PATH) as NativeSecp256k1 };
    } catch (err) {
      loaded = { ok: false, reason: `the addon did not load: ${(err as Error).message}` };
    }
  }
  return loaded;
}
