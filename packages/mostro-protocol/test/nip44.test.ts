/**
 * NIP-44 v2 as this package implements it, checked against nostr-tools' implementation (written independently):
 * the same payload for the same key and nonce, each decrypting the other's, the padding rule, and every malformed
 * payload refused — on the default (@noble) primitives; test/protocol/crypto-backends.test.ts runs the daemon's.
 */
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import * as nip44 from 'nostr-tools/nip44';
import { describe, expect, it } from 'vitest';
import { conversationKeyFromSharedX, nip44Decrypt, nip44Encrypt, paddedLength } from '../src/nip44.js';

const keyPair = () => {
  const a = secp256k1.utils.randomSecretKey();
  const b = secp256k1.utils.randomSecretKey();
  const even = Uint8Array.from([2, ...schnorr.getPublicKey(b)]);
  return { ours: conversationKeyFromSharedX(secp256k1.getSharedSecret(a, even).subarray(1, 33)), theirs: nip44.v2.utils.getConversationKey(a, Buffer.from(schnorr.getPublicKey(b)).toString('hex')) };
};
const text = (n: number) => Array.from({ length: n }, (_, i) => String.fromCharCode(32 + ((i * 7) % 90))).join('');

describe('NIP-44 v2', () => {
  it('derives the conversation key nostr-tools derives', () => {
    for (let i = 0; i < 20; i++) {
      const { ours, theirs } = keyPair();
      expect(ours).toEqual(theirs);
    }
  });

  it.each([1, 2, 31, 32, 33, 64, 65, 255, 256, 257, 1000, 4096, 65535])('encrypts %i bytes exactly as nostr-tools does, and each decrypts the other', (n) => {
    const { ours } = keyPair();
    const nonce = crypto.getRandomValues(new Uint8Array(32));
    const plaintext = text(n);
    const payload = nip44Encrypt(plaintext, ours, nonce);
    expect(payload).toBe(nip44.v2.encrypt(plaintext, ours, nonce));
    expect(nip44.v2.decrypt(payload, ours)).toBe(plaintext);
    expect(nip44Decrypt(nip44.v2.encrypt(plaintext, ours), ours)).toBe(plaintext);
  });

  it('pads as the NIP does (nostr-tools agrees on every length)', () => {
    for (let n = 1; n <= 70_000; n += n < 600 ? 1 : 97) expect(paddedLength(n)).toBe(nip44.v2.utils.calcPaddedLen(n));
    expect([16, 32, 33, 65, 100, 320, 383, 515, 900, 65536].map(paddedLength)).toEqual([32, 32, 64, 96, 128, 320, 384, 640, 1024, 65536]);
  });

  it('keeps multi-byte text intact', () => {
    const { ours } = keyPair();
    const plaintext = 'pago móvil · 💸 · 日本語';
    expect(nip44Decrypt(nip44Encrypt(plaintext, ours), ours)).toBe(plaintext);
  });

  it('refuses what nostr-tools refuses: a bit flipped anywhere, another key, a bad version, bad lengths, bad base64', () => {
    const { ours } = keyPair();
    const other = keyPair().ours;
    const payload = nip44Encrypt('{"order":{}}', ours);
    const raw = Buffer.from(payload, 'base64');
    const refusedByBoth = (p: string, key = ours) => {
      expect(() => nip44Decrypt(p, key)).toThrow();
      expect(() => nip44.v2.decrypt(p, key)).toThrow();
    };
    for (const at of [0, 1, 20, 40, raw.length - 40, raw.length - 1]) {
      const t = Buffer.from(raw);
      t[at]! ^= 1;
      refusedByBoth(t.toString('base64'));
    }
    refusedByBoth(payload, other);
    refusedByBoth(`#${payload.slice(1)}`);
    refusedByBoth(payload.slice(0, 100));
    refusedByBoth(`${payload.slice(0, -4)}!!!!`);
    refusedByBoth('');
    expect(() => nip44Encrypt('', ours)).toThrow(/plaintext size/);
    expect(() => nip44Encrypt('x'.repeat(65536), ours)).toThrow(/plaintext size/);
  });
});
