/** Canonical serialization, lossless parsing, shape rules and signatures of the protocol library. */
import { describe, expect, it } from 'vitest';
import { generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import {
  message,
  messageKind,
  parseMessage,
  serializeMessage,
  signMessage,
  signText,
  verifyMessageSignature,
  verifyShape,
  type Message,
} from '../src/index.js';
import { GOLDEN, REJECTED } from './golden.js';

describe('canonical JSON', () => {
  it.each(GOLDEN.map((g) => [g.name, g] as const))('%s: serialize(parse(x)) === x', (_name, g) => {
    const r = parseMessage(g.json);
    if (!r.ok) throw new Error(r.error);
    expect(serializeMessage(r.value)).toBe(g.json);
    expect(verifyShape(messageKind(r.value))).toBe(g.shapeOk);
  });

  it('covers every action', async () => {
    const { ACTIONS } = await import('../src/index.js');
    const covered = new Set(GOLDEN.map((g) => (parseMessage(g.json) as { ok: true; value: Message }).value).map((m) => messageKind(m).action));
    expect(ACTIONS.filter((a) => !covered.has(a))).toEqual([]);
  });

  it('prints absent options as null or omits them exactly as serde does', () => {
    const msg = message({
      action: 'new-order',
      request_id: 1n,
      trade_index: 1,
      payload: { order: { kind: 'sell', amount: 0, fiat_code: 'VES', fiat_amount: 100, payment_method: 'x', premium: 0 } },
    });
    expect(serializeMessage(msg)).toBe(
      '{"order":{"version":2,"request_id":1,"trade_index":1,"action":"new-order","payload":{"order":{"kind":"sell","status":null,"amount":0,"fiat_code":"VES","min_amount":null,"max_amount":null,"fiat_amount":100,"payment_method":"x","premium":0,"created_at":null,"expires_at":null}}}}',
    );
  });

  it('re-serializes accepted non-canonical input canonically', () => {
    const loose = ' { "order" : { "action":"release", "version":2, "id":"7DD204D2D06C4406A3D94415F4A8B9C9", "extra": [1,{"x":null}] } } ';
    const r = parseMessage(loose);
    if (!r.ok) throw new Error(r.error);
    expect(serializeMessage(r.value)).toBe(
      '{"order":{"version":2,"request_id":null,"trade_index":null,"id":"7dd204d2-d06c-4406-a3d9-4415f4a8b9c9","action":"release","payload":null}}',
    );
  });

  it('prints floats as serde_json does', () => {
    const r = parseMessage(
      '{"order":{"version":2,"request_id":null,"trade_index":null,"id":"7dd204d2-d06c-4406-a3d9-4415f4a8b9c9","action":"fiat-sent-ok","payload":{"peer":{"pubkey":"","reputation":{"rating":4,"reviews":1,"operating_days":0}}}}}',
    );
    if (!r.ok) throw new Error(r.error);
    expect(serializeMessage(r.value)).toContain('"rating":4.0,');
  });
});

describe('64-bit request_id', () => {
  it('keeps every bit through parse and serialize', () => {
    const ids = ['15285610729373585371', '18446744073709551615', '9007199254740993', '0'];
    for (const id of ids) {
      const json = `{"order":{"version":2,"request_id":${id},"trade_index":null,"action":"orders","payload":{"ids":[]}}}`;
      const r = parseMessage(json);
      if (!r.ok) throw new Error(r.error);
      expect(messageKind(r.value).request_id).toBe(BigInt(id));
      expect(serializeMessage(r.value)).toBe(json);
    }
    // What JSON.parse would have done:
    expect(String(JSON.parse('{"a":15285610729373585371}').a)).not.toBe('15285610729373585371');
  });
});

describe('rejected input', () => {
  it.each(REJECTED.map((r) => [r.name, r.json] as const))('%s', (_name, json) => {
    const r = parseMessage(json);
    expect(r.ok).toBe(false);
  });

  it('explains what is wrong', () => {
    const r = parseMessage('{"order":{"version":2,"request_id":1,"trade_index":null,"action":"NewOrder","payload":null}}');
    expect(r).toEqual({ ok: false, error: 'order.action: unknown action "NewOrder"' });
    const s = parseMessage(
      '{"order":{"version":2,"request_id":1,"trade_index":1,"action":"new-order","payload":{"order":{"kind":"sell","amount":0,"fiat_code":"VES","fiat_amount":100,"payment_method":"x","premium":1,"network":"x"}}}}',
    );
    expect(s.ok === false && s.error).toMatch(/order\.payload\.order: .*"network"/);
  });

  it('never throws on hostile text', () => {
    const inputs = ['', '[', '{"order":null}', '{"__proto__":{"x":1}}', '{"order":{"__proto__":{}}}', '[1,2]', 'null', '"x"', '1e400', '{"a":"\\ud800"}', '['.repeat(500) + ']'.repeat(500)];
    for (const i of inputs) expect(parseMessage(i).ok).toBe(false);
  });
});

describe('signatures', () => {
  const sk = generateSecretKey();
  const pk = getPublicKey(sk);
  const msg = message({ action: 'release', request_id: 9n, id: '7dd204d2-d06c-4406-a3d9-4415f4a8b9c9' });

  it('verifies a signature over the canonical JSON', () => {
    const sig = signMessage(msg, sk);
    expect(verifyMessageSignature(msg, serializeMessage(msg), sig, pk)).toBe('raw');
    expect(verifyMessageSignature(msg, undefined, sig, pk)).toBe('canonical');
  });

  it('accepts a signature over the raw JSON sent, else falls back to the canonical form', () => {
    const raw = '{"order":{"version":2,"request_id":9,"trade_index":null,"id":"7dd204d2-d06c-4406-a3d9-4415f4a8b9c9","action":"release"}}';
    const parsed = parseMessage(raw);
    if (!parsed.ok) throw new Error(parsed.error);
    expect(verifyMessageSignature(parsed.value, raw, signText(raw, sk), pk)).toBe('raw');
    expect(verifyMessageSignature(parsed.value, raw, signMessage(parsed.value, sk), pk)).toBe('canonical');
  });

  it('rejects a signature by another key, over other bytes, or malformed', () => {
    const other = generateSecretKey();
    expect(verifyMessageSignature(msg, undefined, signMessage(msg, other), pk)).toBe(false);
    const changed = message({ action: 'release', request_id: 10n, id: '7dd204d2-d06c-4406-a3d9-4415f4a8b9c9' });
    expect(verifyMessageSignature(changed, undefined, signMessage(msg, sk), pk)).toBe(false);
    expect(verifyMessageSignature(msg, undefined, 'zz', pk)).toBe(false);
    expect(verifyMessageSignature(msg, undefined, signMessage(msg, sk), 'not-a-key')).toBe(false);
  });
});
