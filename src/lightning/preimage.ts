/**
 * Hold-invoice preimages are derived, never stored: HMAC-SHA256 of the daemon's preimage secret over the invoice's
 * key (`<order id>:<n>` for an escrow; bonds have keys of their own). Creating an invoice twice gives the same one, and
 * settling it needs nothing but the key.
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { utf8ToBytes } from '@noble/hashes/utils.js';

export function holdInvoicePreimage(secret: Uint8Array, key: string): Uint8Array {
  return hmac(sha256, secret, utf8ToBytes(`mostro-hold-invoice:${key}`));
}
