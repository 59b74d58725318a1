/**
 * Both transports against rust-nostr (the library mostro-cli uses): messages built exactly as mostro-cli builds them
 * unwrap here, in reputation and full-privacy mode, and the daemon's replies built here read back in rust-nostr.
 */
import { describe, expect, it } from 'vitest';
import { generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import * as nip44 from 'nostr-tools/nip44';
import {
  checkPow,
  message,
  messageKind,
  parseMessage,
  powBits,
  serializeMessage,
  unwrapMessage,
  wrapMessage,
  type NostrEvent,
  type Transport,
} from '@mostro/protocol';
import { cliKeys, cliUnwrap, cliWrap, pubOf, secretOf, sign } from '../helpers/mostro-cli.js';

const mostroSk = generateSecretKey();
const mostroPk = getPublicKey(mostroSk);
const identity = cliKeys(0);
const trade = cliKeys(1);
const NEW_ORDER =
  '{"order":{"version":2,"request_id":15285610729373585371,"trade_index":1,"action":"new-order","payload":{"order":{"kind":"sell","status":"pending","amount":0,"fiat_code":"VES","min_amount":null,"max_amount":null,"fiat_amount":100,"payment_method":"face to face","premium":1,"created_at":0,"expires_at":null}}}}';

describe('keys', () => {
  it('derives mostro-cli keys from the mnemonic (protocol.md §2 test vector)', () => {
    expect(pubOf(cliKeys(0))).toBe('faa27ea81c85e00798598b46d1f36c1700221a1242b563861fa536dc2314f1df');
    expect(pubOf(cliKeys(1))).toBe('f5afa0b09d50fc78d3b3836122b43105a018a30e5ab3eccb36480a525271f3f1');
    expect(pubOf(cliKeys(2))).toBe('8717dc2de0ae9de4bc3aca6460ce6ae4ad6b6f8d6e5683305cda7bfdf9cdaf5a');
  });
});

describe.each(['nip44', 'gift-wrap'] as Transport[])('%s: messages built like mostro-cli', (transport) => {
  it('unwraps reputation mode: trade key is the sender, identity proven', async () => {
    const ev = await cliWrap({ transport, msgJson: NEW_ORDER, trade, identity, mostro: mostroPk });
    const r = unwrapMessage(ev, mostroSk, transport);
    if (!r.ok) throw new Error(r.error);
    expect(r.value.sender).toBe(pubOf(trade));
    expect(r.value.identity).toBe(pubOf(identity));
    expect(r.value.signatureOver).toBe('raw');
    expect(serializeMessage(r.value.message)).toBe(NEW_ORDER);
    expect(messageKind(r.value.message).request_id).toBe(15285610729373585371n);
    expect(Math.abs(r.value.createdAt - Date.now() / 1000)).toBeLessThan(5);
  });

  it('unwraps full privacy: identity is the trade key', async () => {
    const ev = await cliWrap({ transport, msgJson: NEW_ORDER, trade, identity: null, mostro: mostroPk });
    const r = unwrapMessage(ev, mostroSk, transport);
    if (!r.ok) throw new Error(r.error);
    expect(r.value.sender).toBe(pubOf(trade));
    expect(r.value.identity).toBe(pubOf(trade));
    expect(r.value.signature).not.toBeNull();
  });

  it('unwraps an unsigned tuple (SECRET=true) with no signature', async () => {
    const ev = await cliWrap({ transport, msgJson: NEW_ORDER, trade, identity, mostro: mostroPk, signed: false });
    const r = unwrapMessage(ev, mostroSk, transport);
    if (!r.ok) throw new Error(r.error);
    expect(r.value.signature).toBeNull();
    expect(r.value.signatureOver).toBeNull();
  });

  it('unwraps with PoW and expiration on the outer event', async () => {
    const ev = await cliWrap({ transport, msgJson: NEW_ORDER, trade, identity, mostro: mostroPk, pow: 8, expiration: Math.floor(Date.now() / 1000) + 3600 });
    expect(checkPow(ev, 8)).toBe(true);
    expect(powBits(ev.id)).toBeGreaterThanOrEqual(8);
    const r = unwrapMessage(ev, mostroSk, transport);
    expect(r.ok).toBe(true);
  });

  it('says not-for-me for a message to another daemon', async () => {
    const ev = await cliWrap({ transport, msgJson: NEW_ORDER, trade, identity, mostro: getPublicKey(generateSecretKey()) });
    const r = unwrapMessage(ev, mostroSk, transport);
    expect(r).toMatchObject({ ok: false, reason: 'not-for-me' });
  });

  it('rejects a trade signature made by a key other than the author', async () => {
    const otherSig = JSON.stringify(sign(NEW_ORDER, cliKeys(5)));
    const tuple = transport === 'nip44' ? `[${NEW_ORDER},${otherSig},null]` : `[${NEW_ORDER},${otherSig}]`;
    const ev = await cliWrap({ transport, msgJson: NEW_ORDER, trade, identity, mostro: mostroPk, tuple });
    const r = unwrapMessage(ev, mostroSk, transport);
    expect(r).toMatchObject({ ok: false, reason: 'invalid' });
    expect(r.ok === false && r.error).toMatch(/trade signature does not verify/);
  });
});

describe('v2 specifics', () => {
  it('rejects a tampered outer signature', async () => {
    const ev = await cliWrap({ transport: 'nip44', msgJson: NEW_ORDER, trade, identity, mostro: mostroPk });
    const tampered: NostrEvent = { ...ev, sig: ev.sig.replace(/^./, (c) => (c === '0' ? '1' : '0')) };
    expect(unwrapMessage(tampered, mostroSk, 'nip44')).toMatchObject({ ok: false, reason: 'invalid' });
  });

  it('rejects an identity proof made for another trade key', async () => {
    const ev = await cliWrap({ transport: 'nip44', msgJson: NEW_ORDER, trade, identity, mostro: mostroPk });
    const plaintext = nip44.v2.decrypt(ev.content, nip44.v2.utils.getConversationKey(mostroSk, ev.pubkey));
    // Move the tuple, proof included, into an event by another trade key (with its own valid trade signature).
    const other = cliKeys(3);
    const stolenProof = plaintext.slice(plaintext.lastIndexOf(',["'));
    const fresh = await cliWrap({ transport: 'nip44', msgJson: NEW_ORDER, trade: other, identity: null, mostro: mostroPk });
    const freshPlain = nip44.v2.decrypt(fresh.content, nip44.v2.utils.getConversationKey(mostroSk, fresh.pubkey));
    const forgedPlain = freshPlain.replace(/,null\]$/, stolenProof);
    const { finalizeEvent } = await import('nostr-tools/pure');
    const forged = finalizeEvent(
      { kind: 14, created_at: fresh.created_at, tags: fresh.tags, content: nip44.v2.encrypt(forgedPlain, nip44.v2.utils.getConversationKey(secretOf(other), mostroPk)) },
      secretOf(other),
    ) as NostrEvent;
    expect(unwrapMessage(forged, mostroSk, 'nip44')).toMatchObject({ ok: false, error: 'identity proof does not verify' });
  });

  it('rejects a 2-element tuple on v2 and a 3-element tuple on v1', async () => {
    const msg = parseMessage(NEW_ORDER);
    if (!msg.ok) throw new Error(msg.error);
    const v2 = wrapMessage({ transport: 'nip44', message: msg.value, tradeKey: secretOf(trade), receiver: mostroPk });
    const plain = nip44.v2.decrypt(v2.content, nip44.v2.utils.getConversationKey(mostroSk, v2.pubkey));
    const short = plain.replace(/,null\]$/, ']');
    const { finalizeEvent } = await import('nostr-tools/pure');
    const bad = finalizeEvent(
      { kind: 14, created_at: v2.created_at, tags: v2.tags, content: nip44.v2.encrypt(short, nip44.v2.utils.getConversationKey(secretOf(trade), mostroPk)) },
      secretOf(trade),
    ) as NostrEvent;
    expect(unwrapMessage(bad, mostroSk, 'nip44')).toMatchObject({ ok: false, error: 'content must be a 3-element array, got 2' });
  });
});

describe.each(['nip44', 'gift-wrap'] as Transport[])('%s: daemon replies read by rust-nostr', (transport) => {
  it('is authored by the Mostro key, unsigned, p-tagged to the trade key, with the message intact', async () => {
    const reply = message({ wrapper: 'cant-do', action: 'cant-do', request_id: 15285610729373585371n, id: '7dd204d2-d06c-4406-a3d9-4415f4a8b9c9', payload: { cant_do: 'not_found' }, version: transport === 'nip44' ? 2 : 1 });
    const expiration = Math.floor(Date.now() / 1000) + 30 * 86400;
    const ev = wrapMessage({ transport, message: reply, tradeKey: mostroSk, receiver: pubOf(trade), signed: false, expiration: transport === 'nip44' ? expiration : undefined });
    expect(ev.kind).toBe(transport === 'nip44' ? 14 : 1059);
    expect(ev.tags).toContainEqual(['p', pubOf(trade)]);
    const got = await cliUnwrap(ev, trade, transport);
    expect(got.verified).toBe(true);
    expect(got.sender).toBe(mostroPk);
    if (transport === 'nip44') {
      expect(got.tupleJson).toBe(`[${serializeMessage(reply)},null,null]`);
      expect(ev.tags).toContainEqual(['expiration', String(expiration)]);
      expect(Math.abs(ev.created_at - Date.now() / 1000)).toBeLessThan(5);
    } else {
      expect(got.tupleJson).toBe(`[${serializeMessage(reply)},null]`);
      expect(got.rumorAuthor).toBe(mostroPk);
      // Wrap timestamps are randomized into the past (0-2 days).
      expect(ev.created_at).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
      expect(ev.created_at).toBeGreaterThan(Math.floor(Date.now() / 1000) - 2 * 86400 - 5);
    }
  });

  it('builds client messages rust-nostr unwraps like mostro-cli sends them (two keys on v1)', async () => {
    const msg = parseMessage(NEW_ORDER);
    if (!msg.ok) throw new Error(msg.error);
    const mostroKeys = cliKeys(9, 'legal winner thank year wave sausage worth useful legal winner thank yellow');
    const ev = wrapMessage({ transport, message: msg.value, tradeKey: secretOf(trade), identityKey: secretOf(identity), receiver: pubOf(mostroKeys) });
    const got = await cliUnwrap(ev, mostroKeys, transport);
    expect(got.verified).toBe(true);
    if (transport === 'gift-wrap') {
      expect(got.sender).toBe(pubOf(identity)); // rust-nostr 0.43 reports the seal signer
      expect(got.rumorAuthor).toBe(pubOf(trade));
    } else {
      expect(got.sender).toBe(pubOf(trade));
    }
    expect(got.tupleJson.startsWith(`[${NEW_ORDER},"`)).toBe(true);
    // And this library reads its own output.
    const back = unwrapMessage(ev, secretOf(mostroKeys), transport);
    expect(back.ok && back.value.identity).toBe(pubOf(identity));
  });
});
