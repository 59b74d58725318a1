/** The portable (noble) and fast (libsecp256k1 WASM) crypto backends give the same answers. */
import { afterEach, describe, expect, it } from 'vitest';
import { schnorr } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import * as nip44 from 'nostr-tools/nip44';
import { hexToBytes } from '@noble/hashes/utils.js';
import { libsecp256k1Backend } from '../../src/nostr/fast-crypto.js';
import { nobleBackend, setCryptoBackend, unwrapMessage } from '@mostro/protocol';
import { cliKeys, cliWrap } from '../helpers/mostro-cli.js';

afterEach(() => setCryptoBackend(nobleBackend));

describe('crypto backends', () => {
  it('agree on BIP-340 verification, including invalid signatures and keys', () => {
    for (let i = 0; i < 50; i++) {
      const sk = generateSecretKey();
      const pk = hexToBytes(getPublicKey(sk));
      const digest = sha256(new TextEncoder().encode(`m${i}`));
      const sig = schnorr.sign(digest, sk);
      const bad = sig.slice();
      bad[i % 64]! ^= 1;
      for (const b of [nobleBackend, libsecp256k1Backend]) {
        expect(b.verifySchnorr(sig, digest, pk)).toBe(true);
        expect(b.verifySchnorr(bad, digest, pk)).toBe(false);
        expect(b.verifySchnorr(sig, sha256(digest), pk)).toBe(false);
        expect(b.verifySchnorr(sig, digest, new Uint8Array(32).fill(0xff))).toBe(false);
        expect(b.verifySchnorr(sig.slice(1), digest, pk)).toBe(false);
      }
    }
  });

  it('agree on the NIP-44 shared secret, and match nostr-tools', () => {
    for (let i = 0; i < 20; i++) {
      const a = generateSecretKey();
      const b = getPublicKey(generateSecretKey());
      const x1 = nobleBackend.sharedX(a, hexToBytes(b));
      const x2 = libsecp256k1Backend.sharedX(a, hexToBytes(b));
      expect(Buffer.from(x2).toString('hex')).toBe(Buffer.from(x1).toString('hex'));
    }
    expect(() => libsecp256k1Backend.sharedX(generateSecretKey(), new Uint8Array(32).fill(0xff))).toThrow();
    expect(nip44.v2.utils.getConversationKey).toBeTypeOf('function');
  });

  it('unwraps mostro-cli messages with libsecp256k1 on both transports', async () => {
    setCryptoBackend(libsecp256k1Backend);
    const mostroSk = generateSecretKey();
    const json = '{"order":{"version":2,"request_id":1,"trade_index":null,"id":"7dd204d2-d06c-4406-a3d9-4415f4a8b9c9","action":"release","payload":null}}';
    for (const transport of ['nip44', 'gift-wrap'] as const) {
      const ev = await cliWrap({ transport, msgJson: json, trade: cliKeys(1), identity: cliKeys(0), mostro: getPublicKey(mostroSk) });
      const r = unwrapMessage(ev, mostroSk, transport);
      expect(r.ok && r.value.signatureOver).toBe('raw');
      const tampered = { ...ev, sig: ev.sig.replace(/^./, (c) => (c === '0' ? '1' : '0')) };
      if (transport === 'nip44') expect(unwrapMessage(tampered, mostroSk, transport).ok).toBe(false);
    }
  });
});
