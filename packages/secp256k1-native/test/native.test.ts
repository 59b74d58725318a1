/**
 * The addon against BIP-340's own test vectors and against @noble/curves on random keys, including the inputs an
 * attacker controls (public keys off the curve, wrong lengths). Without the addon (no libsecp256k1-dev at install
 * time) the suite is skipped with the reason — except under CI=true, whose machine installs the library.
 */
import fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import { describe, expect, it } from 'vitest';
import { ADDON_PATH, loadNative } from '../src/index.js';

const native = loadNative();
if (!native.ok) {
  if (process.env.CI === 'true') throw new Error(`CI: the native secp256k1 addon is required: ${native.reason}`);
  console.warn(`native secp256k1 tests skipped: ${native.reason}`);
}
const lib = native.ok ? native.lib : undefined!;
const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex').toUpperCase();

const vectors = fs
  .readFileSync(new URL('./bip340-vectors.csv', import.meta.url), 'utf8')
  .trim()
  .split('\n')
  .filter((line) => !line.startsWith('#'))
  .slice(1)
  .map((line) => {
    const [index, sk, pk, aux, msg, sig, result, comment] = line.split(',');
    return { index: Number(index), sk: sk!, pk: pk!, aux: aux!, msg: msg!, sig: sig!, valid: result === 'TRUE', comment: comment ?? '' };
  });

describe.skipIf(!native.ok)('libsecp256k1 through the addon', () => {
  it.each(vectors)('BIP-340 vector $index $comment', (v) => {
    if (v.sk) {
      expect(toHex(lib.xOnlyPublicKey(hex(v.sk)))).toBe(v.pk);
      expect(toHex(lib.signSchnorr(hex(v.msg), hex(v.sk), hex(v.aux)))).toBe(v.sig);
    }
    expect(lib.verifySchnorr(hex(v.sig), hex(v.msg), hex(v.pk))).toBe(v.valid);
  });

  it('agrees with @noble/curves on signatures, public keys and ECDH x coordinates of random keys', () => {
    for (let i = 0; i < 50; i++) {
      const a = secp256k1.utils.randomSecretKey();
      const b = secp256k1.utils.randomSecretKey();
      const digest = crypto.getRandomValues(new Uint8Array(32));
      const aux = crypto.getRandomValues(new Uint8Array(32));
      const pubA = schnorr.getPublicKey(a);
      const pubB = schnorr.getPublicKey(b);
      expect(lib.xOnlyPublicKey(a)).toEqual(pubA);
      const sig = lib.signSchnorr(digest, a, aux);
      expect(sig).toEqual(schnorr.sign(digest, a, aux));
      expect(lib.verifySchnorr(sig, digest, pubA)).toBe(true);
      expect(lib.verifySchnorr(sig, digest, pubB)).toBe(false);
      const even = (x: Uint8Array) => Uint8Array.from([2, ...x]);
      const x = lib.sharedX(a, pubB);
      expect(x).toEqual(secp256k1.getSharedSecret(a, even(pubB)).subarray(1, 33));
      // Both sides of a NIP-44 conversation get the same key material.
      expect(lib.sharedX(b, pubA)).toEqual(x);
    }
  });

  it('answers hostile input without crashing: a key off the curve, a zero or too-large secret, wrong lengths', () => {
    const sk = secp256k1.utils.randomSecretKey();
    const offCurve = hex('EEFDEA4CDB677750A420FEE807EACF21EB9898AE79B9768766E4FAA04A2D4A34');
    expect(lib.verifySchnorr(new Uint8Array(64), new Uint8Array(32), offCurve)).toBe(false);
    expect(() => lib.sharedX(sk, offCurve)).toThrow(/invalid public key/);
    expect(() => lib.xOnlyPublicKey(new Uint8Array(32))).toThrow(/invalid secret key/);
    expect(() => lib.signSchnorr(new Uint8Array(32), new Uint8Array(32).fill(0xff), new Uint8Array(32))).toThrow(/invalid secret key/);
    expect(() => lib.verifySchnorr(new Uint8Array(63), new Uint8Array(32), schnorr.getPublicKey(sk))).toThrow(TypeError);
    expect(() => lib.sharedX(sk, new Uint8Array(33))).toThrow(TypeError);
    expect(() => lib.xOnlyPublicKey('00'.repeat(32) as unknown as Uint8Array)).toThrow(TypeError);
  });

  it('loads in worker threads too (the ingress verifies on several), each with its own context', async () => {
    const code = `const { parentPort, workerData } = require('node:worker_threads');
      const lib = require(workerData.path);
      parentPort.postMessage(Buffer.from(lib.xOnlyPublicKey(Uint8Array.from(workerData.sk))).toString('hex'));`;
    const sk = secp256k1.utils.randomSecretKey();
    const expected = Buffer.from(schnorr.getPublicKey(sk)).toString('hex');
    const results = await Promise.all(
      [1, 2, 3].map(
        () =>
          new Promise<string>((resolve, reject) => {
            const w = new Worker(code, { eval: true, workerData: { path: ADDON_PATH, sk: [...sk] } });
            w.once('message', (m: string) => {
              resolve(m);
              void w.terminate();
            });
            w.once('error', reject);
          }),
      ),
    );
    expect(results).toEqual([expected, expected, expected]);
  });
});
