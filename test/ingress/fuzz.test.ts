/**
 * Fuzz: over 10,000 generated malformed or hostile events (bad JSON, wrong types, unknown fields, oversized content,
 * wrong kind, bad signatures, stale timestamps, replays, wrong recipient, hostile tuples and messages) through the
 * intake. Every one ends in a classified outcome — never an exception or an unclassified internal error — and the
 * valid controls mixed in are still accepted. Seeded, so a failure reproduces.
 */
import * as nip44 from 'nostr-tools/nip44';
import { describe, expect, it, beforeAll } from 'vitest';
import { Intake, MemoryTradeIndexStore, type DropReason, type IntakeResult } from '../../src/ingress/intake.js';
import { initNostrWasm } from 'nostr-wasm';
import * as nostrWasm from 'nostr-tools/wasm';
import { useFastCrypto } from '../../src/nostr/fast-crypto.js';
import type { NostrEvent } from '@mostro/protocol';

function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const OID = '7dd204d2-d06c-4406-a3d9-4415f4a8b9c9';
const VALID_MESSAGES = [
  `{"order":{"version":2,"request_id":1,"trade_index":null,"id":"${OID}","action":"release","payload":null}}`,
  `{"order":{"version":2,"request_id":18446744073709551615,"trade_index":null,"id":"${OID}","action":"take-sell","payload":{"payment_request":[null,"lnbc1",null]}}}`,
  `{"order":{"version":2,"request_id":7,"trade_index":null,"action":"orders","payload":{"ids":["${OID}"]}}}`,
  `{"restore":{"version":2,"request_id":null,"trade_index":null,"action":"restore-session","payload":null}}`,
];

describe('intake fuzz', () => {
  // WASM signing keeps generating 10,000 signed events fast; the daemon verifies with libsecp256k1.
  const wasm = nostrWasm;
  beforeAll(async () => {
    nostrWasm.setNostrWasm(await initNostrWasm());
    useFastCrypto();
  });

  it('classifies 10,000+ hostile events and keeps accepting valid ones', async () => {
    const rand = rng(0x5eed);
    const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const int = (n: number) => Math.floor(rand() * n);
    const nowSecs = () => Math.floor(Date.now() / 1000);

    const mostroSk = wasm.generateSecretKey();
    const mostroPk = wasm.getPublicKey(mostroSk);
    const senders = Array.from({ length: 16 }, () => {
      const sk = wasm.generateSecretKey();
      const pk = wasm.getPublicKey(sk);
      return { sk, pk, conv: nip44.v2.utils.getConversationKey(sk, mostroPk) };
    });
    const stranger = wasm.getPublicKey(wasm.generateSecretKey());

    const signed = (kind: number, content: string, s = pick(senders), createdAt = nowSecs(), tags = [['p', mostroPk]]): NostrEvent =>
      wasm.finalizeEvent({ kind, created_at: createdAt, tags, content }, s.sk) as NostrEvent;
    const sealed = (tuple: string, createdAt = nowSecs()) => {
      const s = pick(senders);
      return signed(14, nip44.v2.encrypt(tuple, s.conv), s, createdAt);
    };

    const randomString = (n: number) => Array.from({ length: n }, () => String.fromCharCode(32 + int(95))).join('');
    const blob = randomString(200_000);
    const strangerConv = (s: (typeof senders)[number]) => nip44.v2.utils.getConversationKey(s.sk, stranger);
    const strangerConvs = new Map(senders.map((s) => [s.pk, strangerConv(s)]));
    const randomJson = (depth = 0): unknown => {
      switch (int(depth > 3 ? 4 : 7)) {
        case 0:
          return int(2) === 0 ? null : rand() > 0.5;
        case 1:
          return pick([0, -1, 1.5, 2 ** 64, 1e308, -0]);
        case 2:
          return randomString(int(20));
        case 3:
          return pick(['', 'release', 'new-order', OID, mostroPk]);
        case 4:
          return Array.from({ length: int(4) }, () => randomJson(depth + 1));
        default:
          return Object.fromEntries(Array.from({ length: int(4) }, () => [pick(['order', 'action', 'payload', 'id', 'x', '__proto__', 'constructor']), randomJson(depth + 1)]));
      }
    };
    const mutateText = (t: string): string => {
      switch (int(8)) {
        case 0:
          return t.slice(0, int(t.length)); // truncated
        case 1: {
          const i = int(t.length);
          return t.slice(0, i) + t.slice(i + 1 + int(5)); // deleted chars
        }
        case 2:
          return t.replace('"version":2', pick(['"version":"2"', '"version":2.5', '"version":-1', '"version":256']));
        case 3:
          return t.replace('"request_id":', pick(['"request_id":"1",', '"request_id":1.5,"x":', '"request_id":-5,"y":']));
        case 4:
          return t.replace('"action":"', '"extra":{"deep":' + '['.repeat(200) + ']'.repeat(200) + '},"action":"x');
        case 5:
          return t.replace(/"payload":(null|\{)/, (m) => `"payload":{"unknown_variant":1},"p2":${m === '"payload":null' ? 'null' : '{'}`);
        case 6:
          return JSON.stringify(t); // double-encoded
        default:
          return t.replace(OID, pick(['not-a-uuid', '', '7dd204d2d06c4406a3d94415f4a8b9c9z']));
      }
    };

    type Case = { category: string; event: unknown; expect: (r: IntakeResult) => boolean };
    const dropped = (...reasons: DropReason[]) => (r: IntakeResult) => r.type === 'drop' && reasons.includes(r.reason);
    const accepted: NostrEvent[] = [];
    const categories: (() => Case)[] = [
      () => ({ category: 'not an event', event: randomJson(), expect: dropped('malformed-event') }),
      () => {
        const ev: Record<string, unknown> = { ...signed(14, 'x') };
        const field = pick(['id', 'pubkey', 'created_at', 'kind', 'tags', 'content', 'sig']);
        ev[field] = randomJson(3);
        if (int(3) === 0) delete ev[field];
        return { category: 'wrong field types', event: ev, expect: dropped('malformed-event', 'bad-signature', 'kind', 'not-for-me') };
      },
      () => ({ category: 'oversized content', event: signed(14, blob.slice(int(1000), 100_000 + int(50_000))), expect: dropped('not-for-me') }),
      () => ({ category: 'wrong kind', event: signed(pick([1, 4, 13, 1059, 38383]), 'x'), expect: dropped('kind') }),
      () => {
        const ev = sealed(`[${pick(VALID_MESSAGES)},null,null]`);
        const i = int(128);
        const c = ev.sig[i] === '0' ? '1' : '0';
        return { category: 'bad signature', event: { ...ev, sig: ev.sig.slice(0, i) + c + ev.sig.slice(i + 1) }, expect: dropped('bad-signature') };
      },
      () => {
        const ev = sealed(`[${pick(VALID_MESSAGES)},null,null]`);
        return { category: 'forged id', event: { ...ev, id: ev.id.replace(/^./, (c) => (c === 'f' ? 'e' : 'f')) }, expect: dropped('bad-signature') };
      },
      () => ({ category: 'stale', event: sealed(`[${pick(VALID_MESSAGES)},null,null]`, nowSecs() - 11 - int(100_000)), expect: dropped('stale') }),
      () => {
        // Until something was accepted there is nothing to replay: send a valid event (it will be replayed later).
        if (accepted.length === 0) return { category: 'valid', event: sealed(`[${VALID_MESSAGES[0]},null,null]`), expect: (r) => r.type === 'accept' };
        // Within the 60 s replay window a replay is caught as such; on a busy machine the run can outlast the window,
        // and an older replay is refused by the freshness check instead. Never accepted either way.
        return { category: 'replay', event: pick(accepted), expect: dropped('replay', 'stale') };
      },
      () => {
        const s = pick(senders);
        const conv = strangerConvs.get(s.pk)!;
        return { category: 'wrong recipient', event: signed(14, nip44.v2.encrypt(`[${VALID_MESSAGES[0]},null,null]`, conv), s, nowSecs(), [['p', stranger]]), expect: dropped('not-for-me') };
      },
      () => ({ category: 'undecryptable', event: signed(14, Buffer.from(randomString(80)).toString('base64')), expect: dropped('not-for-me') }),
      () => ({
        category: 'hostile tuple',
        event: sealed(pick([
          JSON.stringify(randomJson()),
          `[${pick(VALID_MESSAGES)}]`,
          `[${pick(VALID_MESSAGES)},null]`,
          `[${pick(VALID_MESSAGES)},null,null,null]`,
          `[${pick(VALID_MESSAGES)},"${'ab'.repeat(64)}",null]`,
          `[${pick(VALID_MESSAGES)},null,["${mostroPk}","${'cd'.repeat(64)}"]]`,
          `[${pick(VALID_MESSAGES)},42,null]`,
          `[${JSON.stringify(randomJson())},null,null]`,
        ])),
        expect: dropped('unwrap-failed'),
      }),
      () => {
        const text = mutateText(pick(VALID_MESSAGES));
        return { category: 'mutated message', event: sealed(`[${text},null,null]`), expect: (r) => r.type === 'accept' || dropped('unwrap-failed', 'shape')(r) };
      },
      () => ({ category: 'valid', event: sealed(`[${pick(VALID_MESSAGES)},null,null]`), expect: (r) => r.type === 'accept' }),
    ];
    const store = new MemoryTradeIndexStore();
    const intake = new Intake({ transport: 'nip44', mostroKey: mostroSk, pow: 0, tradeIndex: store });
    const byCategory = new Map<string, number>();
    const failures: string[] = [];
    const total = 10_400;
    for (let n = 0; n < total; n++) {
      const c = pick(categories)();
      const r = await intake.process(c.event);
      byCategory.set(c.category, (byCategory.get(c.category) ?? 0) + 1);
      if (r.type === 'accept' && c.category === 'valid') accepted.push(c.event as NostrEvent);
      if (!c.expect(r) && failures.length < 10) failures.push(`${c.category}: got ${JSON.stringify(r.type === 'drop' ? r : { type: r.type })}`);
    }
    expect(failures).toEqual([]);
    const stats = intake.stats();
    expect(stats.drops['internal-error']).toBe(0);
    expect(stats.accepted + Object.values(stats.drops).reduce((a, b) => a + b, 0)).toBe(total);
    expect(byCategory.size).toBe(categories.length);
    expect(accepted.length).toBeGreaterThan(500);
    // The pipeline is still healthy afterwards.
    const after = await intake.process(sealed(`[${VALID_MESSAGES[0]},null,null]`));
    expect(after.type).toBe('accept');
  }, 240_000);
});
