/**
 * Builds and reads messages the way mostro-cli does, with `@rust-nostr/nostr-sdk` (the WASM build of the Rust
 * library mostro-cli uses): keys from its mnemonic derivation, NIP-44 v2, the v2 kind-14 event, the v1 two-key gift
 * wrap (seal by the identity, rumor by the trade key). The inner Schnorr signature uses @noble/curves, as rust-nostr's
 * JS build does not expose raw signing (interop.md §3.3).
 */
import * as rn from '@rust-nostr/nostr-sdk';
import { schnorr } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import type { NostrEvent, Transport } from '@mostro/protocol';

rn.loadWasmSync();

export const MNEMONIC =
  'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about';

/** mostro-cli's key for `index` (0 = identity, ≥ 1 = trade keys): m/44'/1237'/38383'/0/index. */
export function cliKeys(index: number, mnemonic = MNEMONIC): rn.Keys {
  return rn.Keys.fromMnemonic(mnemonic, null, 38383, 0, index);
}

export const secretOf = (k: rn.Keys): Uint8Array => hexToBytes(k.secretKey.toHex());
export const pubOf = (k: rn.Keys): string => k.publicKey.toHex();

export const sign = (text: string, k: rn.Keys) => bytesToHex(schnorr.sign(sha256(utf8ToBytes(text)), secretOf(k)));

export interface CliSend {
  transport: Transport;
  /** The message JSON exactly as the client serializes it. */
  msgJson: string;
  trade: rn.Keys;
  /** The identity key; null for full privacy. */
  identity: rn.Keys | null;
  mostro: string;
  /** `SECRET=true`: unsigned tuple. */
  signed?: boolean;
  pow?: number;
  expiration?: number;
  /** v1 rumor tags (mostro-cli sends none). */
  rumorTags?: string[][];
  /** Replace the decrypted tuple text (tests of hostile input). */
  tuple?: string;
}

/** The event mostro-cli would publish, as plain JSON. */
export async function cliWrap(o: CliSend): Promise<NostrEvent> {
  const signed = o.signed ?? true;
  const mostroPk = rn.PublicKey.parse(o.mostro);
  const sig = signed ? JSON.stringify(sign(o.msgJson, o.trade)) : 'null';
  const extra: rn.Tag[] = o.expiration ? [rn.Tag.expiration(rn.Timestamp.fromSecs(o.expiration))] : [];
  if (o.transport === 'nip44') {
    let proof = 'null';
    if (signed && o.identity && pubOf(o.identity) !== pubOf(o.trade)) {
      const idSig = sign(`mostro-transport-v2-identity:${pubOf(o.trade)}:${o.msgJson}`, o.identity);
      proof = `[${JSON.stringify(pubOf(o.identity))},${JSON.stringify(idSig)}]`;
    }
    const tuple = o.tuple ?? `[${o.msgJson},${sig},${proof}]`;
    const ciphertext = rn.nip44Encrypt(o.trade.secretKey, mostroPk, tuple, rn.NIP44Version.V2);
    const ev = new rn.EventBuilder(new rn.Kind(14), ciphertext)
      .tags([rn.Tag.publicKey(mostroPk), ...extra])
      .pow(o.pow ?? 0)
      .signWithKeys(o.trade);
    return JSON.parse(ev.asJson()) as NostrEvent;
  }
  const tuple = o.tuple ?? `[${o.msgJson},${sig}]`;
  const rumorBuilder = rn.EventBuilder.textNote(tuple).tags((o.rumorTags ?? []).map((t) => rn.Tag.parse(t)));
  const rumor = rumorBuilder.build(o.trade.publicKey);
  const sealer = rn.NostrSigner.keys(o.identity ?? o.trade);
  const seal = await (await rn.EventBuilder.seal(sealer, mostroPk, rumor)).sign(sealer);
  if (!o.pow && !o.expiration) {
    return JSON.parse(rn.EventBuilder.giftWrapFromSeal(mostroPk, seal, []).asJson()) as NostrEvent;
  }
  // As mostro-core's gift_wrap_from_seal_with_pow: PoW and expiration on the outer event.
  const ephemeral = rn.Keys.generate();
  const ct = rn.nip44Encrypt(ephemeral.secretKey, mostroPk, seal.asJson(), rn.NIP44Version.V2);
  const now = Math.floor(Date.now() / 1000);
  const ev = new rn.EventBuilder(new rn.Kind(1059), ct)
    .tags([...extra, rn.Tag.publicKey(mostroPk)])
    .customCreatedAt(rn.Timestamp.fromSecs(now - Math.floor(Math.random() * 172800)))
    .pow(o.pow ?? 0)
    .signWithKeys(ephemeral);
  return JSON.parse(ev.asJson()) as NostrEvent;
}

export interface CliReceived {
  /** The decrypted tuple text. */
  tupleJson: string;
  /** v2: the event author; v1: the seal signer (rust-nostr's `UnwrappedGift.sender`). */
  sender: string;
  /** v1 only: the rumor author. */
  rumorAuthor?: string;
  verified: boolean;
  tags: string[][];
}

/** Reads a daemon reply the way the client does, with rust-nostr. */
export async function cliUnwrap(event: NostrEvent, receiver: rn.Keys, transport: Transport): Promise<CliReceived> {
  const ev = rn.Event.fromJson(JSON.stringify(event));
  const verified = ev.verify();
  if (transport === 'nip44') {
    const tupleJson = rn.nip44Decrypt(receiver.secretKey, ev.author, ev.content);
    return { tupleJson, sender: ev.author.toHex(), verified, tags: event.tags };
  }
  const gift = await rn.UnwrappedGift.fromGiftWrap(rn.NostrSigner.keys(receiver), ev);
  return {
    tupleJson: gift.rumor.content,
    sender: gift.sender.toHex(),
    rumorAuthor: gift.rumor.pubkey.toHex(),
    verified,
    tags: event.tags,
  };
}
