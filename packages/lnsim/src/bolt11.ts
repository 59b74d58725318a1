/** Real signed BOLT11 invoices, so that the daemon's decoding and validation run on what LND would hand out. */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToHex, hexToBytes, randomBytes } from '@noble/hashes/utils.js';
import invoices from 'invoices';

/** Signs a BOLT11 invoice with a node key (the simulator's nodes, and tests that need unusual invoices). */
export function encodeBolt11(o: {
  secretKey: Uint8Array;
  network: string;
  hash: string;
  sats: number;
  memo?: string;
  /** Commits to a description by hash (LNURL-pay invoices commit to the service's metadata this way). */
  descriptionHash?: string;
  createdAt: number;
  expirySecs: number;
  cltvDelta?: number;
  paymentAddr?: string;
}): string {
  const destination = bytesToHex(secp256k1.getPublicKey(o.secretKey, true));
  const unsigned = invoices.createUnsignedRequest({
    destination,
    id: o.hash,
    network: o.network,
    tokens: o.sats,
    ...(o.descriptionHash ? { description_hash: o.descriptionHash } : { description: o.memo ?? '' }),
    created_at: new Date(o.createdAt * 1000).toISOString(),
    expires_at: new Date((o.createdAt + o.expirySecs) * 1000).toISOString(),
    cltv_delta: o.cltvDelta,
    payment: o.paymentAddr ?? bytesToHex(randomBytes(32)),
    features: [{ bit: 9 }, { bit: 14 }, { bit: 16 }],
  });
  const signature = bytesToHex(secp256k1.sign(hexToBytes(unsigned.hash), o.secretKey, { prehash: false }));
  return invoices.createSignedRequest({ destination, hrp: unsigned.hrp, signature, tags: unsigned.tags }).request;
}
