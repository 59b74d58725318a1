/** libsecp256k1 (WebAssembly, from the tiny-secp256k1 package) as the protocol's crypto backend. */
import * as ecc from 'tiny-secp256k1';
import { concat02, setCryptoBackend, type CryptoBackend } from '@mostro/protocol/crypto';

export const libsecp256k1Backend: CryptoBackend = {
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

export function useFastCrypto(): void {
  setCryptoBackend(libsecp256k1Backend);
}
