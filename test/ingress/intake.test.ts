/** The intake pipeline, step by step, with real signed events built like mostro-cli builds them. */
import { describe, expect, it } from 'vitest';
import { finalizeEvent, generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import { Intake, MemoryTradeIndexStore, ReplayGuard, type IntakeOptions } from '../../src/ingress/intake.js';
import { message, wrapMessage, type NostrEvent, type Transport } from '@mostro/protocol';
import { cliKeys, cliWrap, pubOf, secretOf } from '../helpers/mostro-cli.js';

const mostroSk = generateSecretKey();
const mostroPk = getPublicKey(mostroSk);
const identity = cliKeys(0);
const OID = '7dd204d2-d06c-4406-a3d9-4415f4a8b9c9';

const newOrder = (ti: number | null, rid = '15285610729373585371') =>
  `{"order":{"version":2,"request_id":${rid},"trade_index":${ti},"action":"new-order","payload":{"order":{"kind":"sell","status":"pending","amount":0,"fiat_code":"VES","min_amount":null,"max_amount":null,"fiat_amount":100,"payment_method":"face to face","premium":1,"created_at":0,"expires_at":null}}}}`;
const release = (id: string | null) =>
  `{"order":{"version":2,"request_id":1,"trade_index":null,${id ? `"id":"${id}",` : ''}"action":"release","payload":null}}`;

function intake(transport: Transport, extra: Partial<IntakeOptions> = {}) {
  const store = new MemoryTradeIndexStore();
  return { store, intake: new Intake({ transport, mostroKey: mostroSk, pow: 0, tradeIndex: store, ...extra }) };
}

describe.each(['nip44', 'gift-wrap'] as Transport[])('%s intake', (transport) => {
  it('accepts a mostro-cli new-order and registers the identity on first contact', async () => {
    const { intake: i, store } = intake(transport);
    const ev = await cliWrap({ transport, msgJson: newOrder(1), trade: cliKeys(1), identity, mostro: mostroPk });
    const r = await i.process(ev);
    expect(r.type).toBe('accept');
    if (r.type !== 'accept') return;
    expect(r.kind.action).toBe('new-order');
    expect(r.unwrapped.sender).toBe(pubOf(cliKeys(1)));
    expect(r.unwrapped.identity).toBe(pubOf(identity));
    expect(store.users.get(pubOf(identity))).toBe(1);
  });

  it('answers a trade index at or below the last one with invalid_trade_index', async () => {
    const { intake: i, store } = intake(transport);
    store.users.set(pubOf(identity), 5);
    const stale = await cliWrap({ transport, msgJson: newOrder(5), trade: cliKeys(5), identity, mostro: mostroPk });
    expect((await i.process(stale)).type).toBe('reject-trade-index');
    const next = await cliWrap({ transport, msgJson: newOrder(6), trade: cliKeys(6), identity, mostro: mostroPk });
    expect((await i.process(next)).type).toBe('accept');
    expect(i.stats().drops['invalid-trade-index']).toBe(1);
  });

  it('drops trade index 0 from a new user, and takes full-privacy users without any row', async () => {
    const { intake: i, store } = intake(transport);
    const zero = await cliWrap({ transport, msgJson: newOrder(0), trade: cliKeys(1), identity, mostro: mostroPk });
    expect(await i.process(zero)).toMatchObject({ type: 'drop', reason: 'trade-index' });
    const anon = await cliWrap({ transport, msgJson: newOrder(1), trade: cliKeys(7), identity: null, mostro: mostroPk });
    expect((await i.process(anon)).type).toBe('accept');
    expect(store.users.size).toBe(0);
  });

  it('treats an unsigned message as full privacy on v2, and drops it when the v1 seal names another identity', async () => {
    const { intake: i, store } = intake(transport);
    const ev = await cliWrap({ transport, msgJson: newOrder(1), trade: cliKeys(1), identity, mostro: mostroPk, signed: false });
    const r = await i.process(ev);
    if (transport === 'nip44') {
      // No trade signature means no identity proof: the trade key is the identity, nothing is registered.
      expect(r.type === 'accept' && r.unwrapped.identity).toBe(pubOf(cliKeys(1)));
      expect(store.users.size).toBe(0);
    } else {
      expect(r).toMatchObject({ type: 'drop', reason: 'missing-signature' });
    }
  });

  it('drops messages that fail the shape rules (release without an id)', async () => {
    const { intake: i } = intake(transport);
    const ok = await cliWrap({ transport, msgJson: release(OID), trade: cliKeys(2), identity, mostro: mostroPk });
    expect((await i.process(ok)).type).toBe('accept');
    const bad = await cliWrap({ transport, msgJson: release(null), trade: cliKeys(2), identity, mostro: mostroPk });
    expect(await i.process(bad)).toMatchObject({ type: 'drop', reason: 'shape' });
  });

  it('drops the same event delivered twice (second relay)', async () => {
    const { intake: i } = intake(transport);
    const ev = await cliWrap({ transport, msgJson: release(OID), trade: cliKeys(2), identity, mostro: mostroPk });
    expect((await i.process(ev)).type).toBe('accept');
    expect(await i.process({ ...ev })).toMatchObject({ type: 'drop', reason: 'replay' });
  });

  it('drops under-mined events and events of the other transport kind', async () => {
    const { intake: i } = intake(transport, { pow: 10 });
    const weak = await cliWrap({ transport, msgJson: release(OID), trade: cliKeys(2), identity, mostro: mostroPk, pow: 0 });
    // One in 1024 random ids meets 10 bits: mine instead if it did.
    const r = await i.process(weak);
    expect(r.type === 'drop' && (r.reason === 'pow' || weak.id.startsWith('00'))).toBe(true);
    const strong = await cliWrap({ transport, msgJson: release(OID), trade: cliKeys(2), identity, mostro: mostroPk, pow: 10 });
    expect((await i.process(strong)).type).toBe('accept');
    const other = await cliWrap({ transport: transport === 'nip44' ? 'gift-wrap' : 'nip44', msgJson: release(OID), trade: cliKeys(2), identity, mostro: mostroPk });
    expect(await intake(transport).intake.process(other)).toMatchObject({ type: 'drop', reason: 'kind' });
  });

  it('drops a message for another daemon as not-for-me', async () => {
    const { intake: i } = intake(transport);
    const ev = await cliWrap({ transport, msgJson: release(OID), trade: cliKeys(2), identity, mostro: getPublicKey(generateSecretKey()) });
    expect(await i.process(ev)).toMatchObject({ type: 'drop', reason: 'not-for-me' });
  });

  it('drops a message whose inner timestamp is older than 10 s', async () => {
    const { intake: i } = intake(transport);
    const msg = message({ action: 'release', id: OID, request_id: 1n });
    const old = wrapMessage({ transport, message: msg, tradeKey: secretOf(cliKeys(2)), identityKey: secretOf(identity), receiver: mostroPk, now: Math.floor(Date.now() / 1000) - 11 });
    expect(await i.process(old)).toMatchObject({ type: 'drop', reason: 'stale' });
    const fresh = wrapMessage({ transport, message: msg, tradeKey: secretOf(cliKeys(2)), identityKey: secretOf(identity), receiver: mostroPk, now: Math.floor(Date.now() / 1000) - 8 });
    expect((await i.process(fresh)).type).toBe('accept');
  });
});

describe('spam gate', () => {
  it('does not let a forged copy with a bad signature block the genuine event', async () => {
    const { intake: i } = intake('nip44');
    const genuine = await cliWrap({ transport: 'nip44', msgJson: release(OID), trade: cliKeys(2), identity, mostro: mostroPk });
    const forged: NostrEvent = { ...genuine, sig: genuine.sig.replace(/.$/, (c) => (c === '0' ? '1' : '0')) };
    expect(await i.process(forged)).toMatchObject({ type: 'drop', reason: 'bad-signature' });
    expect((await i.process(genuine)).type).toBe('accept');
  });

  it('tolls first contact with pow_first_contact on v2, not senders in an active trade', async () => {
    const known = new Set<string>([pubOf(cliKeys(3))]);
    const { intake: i } = intake('nip44', { powFirstContact: 12, knownPubkeys: known });
    const unknownWeak = await cliWrap({ transport: 'nip44', msgJson: release(OID), trade: cliKeys(4), identity, mostro: mostroPk });
    const r = await i.process(unknownWeak);
    expect(r.type === 'drop' && (r.reason === 'first-contact-pow' || unknownWeak.id.startsWith('000'))).toBe(true);
    const knownWeak = await cliWrap({ transport: 'nip44', msgJson: release(OID), trade: cliKeys(3), identity, mostro: mostroPk });
    expect((await i.process(knownWeak)).type).toBe('accept');
    const unknownMined = await cliWrap({ transport: 'nip44', msgJson: release(OID), trade: cliKeys(4), identity, mostro: mostroPk, pow: 12 });
    expect((await i.process(unknownMined)).type).toBe('accept');
  });

  it('forgets ids after the replay window', () => {
    const g = new ReplayGuard(60);
    expect(g.checkAndRecord('a', 1000)).toBe(false);
    expect(g.checkAndRecord('a', 1059)).toBe(true);
    expect(g.checkAndRecord('b', 1100)).toBe(false);
    expect(g.size).toBe(1); // 'a' pruned
    expect(g.checkAndRecord('a', 1101)).toBe(false);
  });
});

describe('trade index and canonical signatures', () => {
  it('does not register a trade index on a signature valid only over non-canonical JSON', async () => {
    const { intake: i, store } = intake('nip44');
    store.users.set(pubOf(identity), 1);
    // mostro-web develop omits min_amount/max_amount and signs what it sent.
    const loose =
      '{"order":{"version":2,"request_id":1,"trade_index":2,"action":"new-order","payload":{"order":{"kind":"sell","status":"pending","amount":0,"fiat_code":"VES","fiat_amount":100,"payment_method":"x","premium":1,"created_at":0,"expires_at":null}}}}';
    const ev = await cliWrap({ transport: 'nip44', msgJson: loose, trade: cliKeys(2), identity, mostro: mostroPk });
    expect(await i.process(ev)).toMatchObject({ type: 'drop', reason: 'trade-index', detail: 'signature does not match the canonical message' });
    // Other actions accept the raw-JSON signature.
    const looseRelease = `{"order":{"version":2,"id":"${OID}","action":"release"}}`;
    const ok = await cliWrap({ transport: 'nip44', msgJson: looseRelease, trade: cliKeys(2), identity, mostro: mostroPk });
    const r = await i.process(ok);
    expect(r.type === 'accept' && r.unwrapped.signatureOver).toBe('raw');
  });
});

describe('hostile events', () => {
  it('drops non-events and garbage content without throwing', async () => {
    const { intake: i } = intake('nip44');
    for (const raw of [null, 42, 'x', [], {}, { id: 'x' }, { kind: 14 }]) {
      expect(await i.process(raw)).toMatchObject({ type: 'drop', reason: 'malformed-event' });
    }
    const sk = generateSecretKey();
    const garbage = finalizeEvent({ kind: 14, created_at: Math.floor(Date.now() / 1000), tags: [['p', mostroPk]], content: 'not nip44' }, sk);
    expect(await i.process(garbage)).toMatchObject({ type: 'drop', reason: 'not-for-me' });
  });
});

describe('active-trade pubkeys refresh', () => {
  it('opens the fast lane for keys that enter an active trade, and keeps the set when a reload fails', async () => {
    const { refreshKnownPubkeys } = await import('../../src/ingress/known-pubkeys.js');
    const { intake: i } = intake('nip44', { powFirstContact: 16, knownPubkeys: new Set() });
    let active = ['', 'x'.repeat(64)];
    let fail = false;
    const refresh = refreshKnownPubkeys(i, async () => {
      if (fail) throw new Error('database down');
      return active;
    });
    try {
      await refresh.refreshNow();
      const trader = cliKeys(8);
      const before = await cliWrap({ transport: 'nip44', msgJson: release(OID), trade: trader, identity, mostro: mostroPk });
      const r = await i.process(before);
      expect(r.type === 'drop' && (r.reason === 'first-contact-pow' || before.id.startsWith('0000'))).toBe(true);
      active = [pubOf(trader)];
      await refresh.refreshNow();
      fail = true;
      await refresh.refreshNow(); // keeps the previous set
      const after = await cliWrap({ transport: 'nip44', msgJson: release(OID), trade: trader, identity, mostro: mostroPk });
      expect((await i.process(after)).type).toBe('accept');
    } finally {
      refresh.stop();
    }
  });
});
