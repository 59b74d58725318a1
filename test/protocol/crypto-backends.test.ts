/**
 * The portable (noble) and fast crypto backends — libsecp256k1 as WebAssembly and native through this project's addon
 * — give the same answers. The native one is required under CI=true (its machine installs libsecp256k1-dev).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { schnorr } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import * as nip44 from 'nostr-tools/nip44';
import { hexToBytes } from '@noble/hashes/utils.js';
import { libsecp256k1Backend, nativeBackend, useFastCrypto } from '../../src/nostr/fast-crypto.js';
import { conversationKeyFromSharedX, nip44Decrypt, nip44Encrypt, nobleBackend, setCryptoBackend, unwrapMessage } from '@mostro/protocol';
import { chacha20 } from '@noble/ciphers/chacha.js';
import { hmac } from '@noble/hashes/hmac.js';
import { cliKeys, cliWrap } from '../helpers/mostro-cli.js';
import { base64 } from '@scure/base';
import fc from 'fast-check';

afterEach(() => setCryptoBackend(nobleBackend));

const native = nativeBackend();
if (!native.ok && process.env.CI === 'true') throw new Error(`CI: the native secp256k1 backend is required: ${native.reason}`);
/** The fast backends this machine has (the native one when its addon was built). */
const fast = native.ok ? [libsecp256k1Backend, native.backend] : [libsecp256k1Backend];

describe('crypto backends', () => {
  it('agree on BIP-340 verification, including invalid signatures and keys', () => {
    for (let i = 0; i < 50; i++) {
      const sk = generateSecretKey();
      const pk = hexToBytes(getPublicKey(sk));
      const digest = sha256(new TextEncoder().encode(`m${i}`));
      const sig = schnorr.sign(digest, sk);
      const bad = sig.slice();
      bad[i % 64]! ^= 1;
      for (const b of [nobleBackend, ...fast]) {
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
      for (const f of fast) expect(Buffer.from(f.sharedX(a, hexToBytes(b))).toString('hex')).toBe(Buffer.from(x1).toString('hex'));
    }
    for (const f of fast) expect(() => f.sharedX(generateSecretKey(), new Uint8Array(32).fill(0xff))).toThrow();
    expect(nip44.v2.utils.getConversationKey).toBeTypeOf('function');
  });

  it.each(fast.map((b) => ({ name: b.name, b })))('unwraps mostro-cli messages with $name on both transports', async ({ b }) => {
    setCryptoBackend(b);
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

  it('signs what the others verify: events signed natively check out on noble and the other way round', () => {
    for (const f of fast) {
      for (let i = 0; i < 20; i++) {
        const sk = generateSecretKey();
        const digest = sha256(new TextEncoder().encode(`s${i}`));
        const aux = crypto.getRandomValues(new Uint8Array(32));
        expect(f.xOnlyPublicKey(sk)).toEqual(nobleBackend.xOnlyPublicKey(sk));
        expect(f.signSchnorr(digest, sk, aux)).toEqual(nobleBackend.signSchnorr(digest, sk, aux));
        expect(nobleBackend.verifySchnorr(f.signSchnorr(digest, sk), digest, f.xOnlyPublicKey(sk))).toBe(true);
      }
    }
  });

  it("run NIP-44's symmetric part on OpenSSL with the results of @noble and nostr-tools", () => {
    for (const f of fast) {
      for (const n of [0, 1, 63, 64, 65, 1000]) {
        const data = crypto.getRandomValues(new Uint8Array(n));
        const key = crypto.getRandomValues(new Uint8Array(32));
        const nonce = crypto.getRandomValues(new Uint8Array(12));
        expect(f.sha256!(data)).toEqual(sha256(data));
        expect(f.hmacSha256!(key, data)).toEqual(hmac(sha256, key, data));
        expect(f.chacha20!(key, nonce, data)).toEqual(chacha20(key, nonce, data));
      }
      setCryptoBackend(f);
      const a = generateSecretKey();
      const b = getPublicKey(generateSecretKey());
      const key = conversationKeyFromSharedX(f.sharedX(a, hexToBytes(b)));
      expect(key).toEqual(nip44.v2.utils.getConversationKey(a, b));
      const nonce = crypto.getRandomValues(new Uint8Array(32));
      const plaintext = `{"order":{"action":"release","pm":"${'x'.repeat(300)}"}}`;
      expect(nip44Encrypt(plaintext, key, nonce)).toBe(nip44.v2.encrypt(plaintext, key, nonce));
      expect(nip44Decrypt(nip44.v2.encrypt(plaintext, key), key)).toBe(plaintext);
      setCryptoBackend(nobleBackend);
    }
  });

  it("decode NIP-44's base64 exactly as strictly as @scure/base: the same bytes, the same refusals", () => {
    const decoders = fast.map((f) => f.base64Decode!);
    const outcome = (decode: (t: string) => Uint8Array, text: string): string => {
      try {
        return Buffer.from(decode(text)).toString('hex');
      } catch {
        return 'refused';
      }
    };
    // Valid payloads, and each mutated the ways a lenient decoder would accept: other characters, base64url,
    // whitespace, missing or extra padding, non-zero trailing bits.
    const mutated = fc.tuple(fc.uint8Array({ maxLength: 200 }), fc.nat(), fc.constantFrom('', '-', '_', ' ', '\n', '=', '==', '!', 'A', '%')).map(([data, at, insert]) => {
      const text = base64.encode(data);
      const i = text.length === 0 ? 0 : at % (text.length + 1);
      const kinds = [text, text.slice(0, i) + insert + text.slice(i), text.replace(/=+$/, ''), text.slice(0, i) + text.slice(i + 1)];
      // Non-zero trailing bits: the last character before the padding bumped by one.
      const pad = text.indexOf('=');
      if (pad > 0) kinds.push(text.slice(0, pad - 1) + (text[pad - 1] === 'A' ? 'B' : 'A') + text.slice(pad));
      return kinds;
    });
    fc.assert(
      fc.property(mutated, (texts) => {
        for (const text of texts) for (const d of decoders) expect(outcome(d, text)).toBe(outcome((t) => base64.decode(t), text));
      }),
      { numRuns: 500 },
    );
    for (const f of fast) for (const n of [0, 1, 2, 3, 100]) expect(f.base64Encode!(new Uint8Array(n).fill(7))).toBe(base64.encode(new Uint8Array(n).fill(7)));
  });

  it('the daemon picks the native backend when its addon is built, and says why not otherwise', () => {
    const picked = useFastCrypto();
    if (native.ok) expect(picked).toEqual({ backend: 'libsecp256k1 (native)' });
    else expect(picked).toEqual({ backend: 'libsecp256k1 (WebAssembly)', fallbackReason: native.reason });
    process.env.MOSTRO_CRYPTO = 'wasm';
    try {
      expect(useFastCrypto()).toEqual({ backend: 'libsecp256k1 (WebAssembly)', fallbackReason: 'MOSTRO_CRYPTO=wasm' });
    } finally {
      delete process.env.MOSTRO_CRYPTO;
    }
  });
});
