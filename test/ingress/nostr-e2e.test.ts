/**
 * End to end over a real relay on 127.0.0.1: messages built by rust-nostr exactly as mostro-cli builds them are
 * accepted and answered on both transports; replies are read back by rust-nostr; an event published while the
 * daemon's relay connection is down is still processed after it reconnects.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import { Intake, MemoryTradeIndexStore } from '../../src/ingress/intake.js';
import { NostrIngress } from '../../src/ingress/nostr.js';
import { lastTradeIndexHandler } from '../../src/ingress/actions/last-trade-index.js';
import { NostrEgress } from '../../src/nostr/egress.js';
import { startLocalRelay, type LocalRelay } from '../../src/nostr/local-relay.js';
import { RelayPool } from '../../src/nostr/relay-pool.js';
import { parseArrayElements, type NostrEvent, type Transport } from '@mostro/protocol';
import { cliKeys, cliUnwrap, cliWrap, pubOf } from '../helpers/mostro-cli.js';

let relay: LocalRelay;
beforeAll(async () => {
  relay = await startLocalRelay();
});
afterAll(async () => {
  await relay?.close();
});

interface Daemon {
  pubkey: string;
  store: MemoryTradeIndexStore;
  ingress: NostrIngress;
  pool: RelayPool;
}

async function startDaemon(transport: Transport, backoffMinMs = 100, sk = generateSecretKey()): Promise<Daemon> {
  const pubkey = getPublicKey(sk);
  const pool = new RelayPool([relay.url], { backoffMinMs, backoffMaxMs: backoffMinMs * 4 });
  const store = new MemoryTradeIndexStore();
  const intake = new Intake({ transport, mostroKey: sk, pow: 0, tradeIndex: store });
  const egress = new NostrEgress({ pool, mostroKey: sk, transport });
  const ingress = new NostrIngress({
    pool,
    intake,
    egress,
    transport,
    mostroPubkey: pubkey,
    handlers: { 'last-trade-index': lastTradeIndexHandler(store) },
  });
  await ingress.start();
  expect(await pool.ready(5000)).toBe(true);
  await new Promise((r) => setTimeout(r, 50)); // the REQ reaches the relay
  return { pubkey, store, ingress, pool };
}

/** A client like mostro-cli: subscribes for replies to `replyKey` before sending, takes the first one. */
async function clientRoundTrip(
  transport: Transport,
  daemon: Daemon,
  send: NostrEvent,
  replyKey: ReturnType<typeof cliKeys>,
  clientPool: RelayPool,
): Promise<string> {
  const filter =
    transport === 'nip44'
      ? { kinds: [14], authors: [daemon.pubkey], '#p': [pubOf(replyKey)], limit: 0 }
      : { kinds: [1059], '#p': [pubOf(replyKey)], limit: 0 };
  const reply = new Promise<NostrEvent>((resolve) => {
    const sub = clientPool.subscribe({
      filters: () => [filter],
      onEvent: (ev) => {
        sub.close();
        resolve(ev as NostrEvent);
      },
    });
  });
  await new Promise((r) => setTimeout(r, 50));
  const pub = await clientPool.publish(send);
  expect(pub.accepted).toEqual([relay.url]);
  const ev = await Promise.race([
    reply,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no reply within 15 s')), 15_000)),
  ]);
  const got = await cliUnwrap(ev, replyKey, transport);
  expect(got.verified).toBe(true);
  expect(got.sender).toBe(daemon.pubkey);
  return parseArrayElements(got.tupleJson).raw[0]!;
}

describe.each(['nip44', 'gift-wrap'] as Transport[])('%s over a relay', (transport) => {
  const version = transport === 'nip44' ? 2 : 1;
  const identity = cliKeys(0);
  let daemon: Daemon;
  let clientPool: RelayPool;
  beforeAll(async () => {
    daemon = await startDaemon(transport);
    clientPool = new RelayPool([relay.url], { backoffMinMs: 20, backoffMaxMs: 100 });
    await clientPool.ready();
  });
  afterAll(() => {
    daemon?.pool.close();
    clientPool?.close();
  });

  it('answers mostro-cli getlasttradeindex (signed by identity, identity)', async () => {
    daemon.store.users.set(pubOf(identity), 7);
    const msgJson = '{"restore":{"version":2,"request_id":null,"trade_index":null,"action":"last-trade-index","payload":null}}';
    const send = await cliWrap({ transport, msgJson, trade: identity, identity, mostro: daemon.pubkey });
    const reply = await clientRoundTrip(transport, daemon, send, identity, clientPool);
    expect(reply).toBe(
      `{"restore":{"version":${version},"request_id":null,"trade_index":7,"action":"last-trade-index","payload":null}}`,
    );
  });

  it('answers an unknown identity with cant-do not_found, echoing the 64-bit request id', async () => {
    const stranger = cliKeys(0, 'legal winner thank year wave sausage worth useful legal winner thank yellow');
    const msgJson = '{"restore":{"version":2,"request_id":15285610729373585371,"trade_index":null,"action":"last-trade-index","payload":null}}';
    const send = await cliWrap({ transport, msgJson, trade: stranger, identity: stranger, mostro: daemon.pubkey });
    const reply = await clientRoundTrip(transport, daemon, send, stranger, clientPool);
    expect(reply).toBe(
      `{"cant-do":{"version":${version},"request_id":15285610729373585371,"trade_index":null,"action":"cant-do","payload":{"cant_do":"not_found"}}}`,
    );
  });

  it('answers a reused trade index with cant-do invalid_trade_index to the trade key', async () => {
    daemon.store.users.set(pubOf(identity), 7);
    const trade = cliKeys(7);
    const msgJson =
      '{"order":{"version":2,"request_id":18446744073709551615,"trade_index":7,"action":"new-order","payload":{"order":{"kind":"sell","status":"pending","amount":0,"fiat_code":"VES","min_amount":null,"max_amount":null,"fiat_amount":100,"payment_method":"face to face","premium":1,"created_at":0,"expires_at":null}}}}';
    const send = await cliWrap({ transport, msgJson, trade, identity, mostro: daemon.pubkey });
    const reply = await clientRoundTrip(transport, daemon, send, trade, clientPool);
    expect(reply).toBe(
      `{"cant-do":{"version":${version},"request_id":18446744073709551615,"trade_index":null,"action":"cant-do","payload":{"cant_do":"invalid_trade_index"}}}`,
    );
  });
});

describe('reconnection', () => {
  it('processes an event published while the daemon was reconnecting', async () => {
    const transport: Transport = 'nip44';
    // The daemon reconnects slowly, the client quickly: the client publishes inside the daemon's gap.
    const daemon = await startDaemon(transport, 1500);
    const clientPool = new RelayPool([relay.url], { backoffMinMs: 20, backoffMaxMs: 40 });
    try {
      await clientPool.ready();
      const identity = cliKeys(0);
      daemon.store.users.set(pubOf(identity), 3);
      relay.dropConnections();
      await new Promise((r) => setTimeout(r, 200));
      expect(daemon.pool.connectedRelays()).toEqual([]);
      const msgJson = '{"restore":{"version":2,"request_id":42,"trade_index":null,"action":"last-trade-index","payload":null}}';
      const send = await cliWrap({ transport, msgJson, trade: identity, identity, mostro: daemon.pubkey });
      const reply = await clientRoundTrip(transport, daemon, send, identity, clientPool);
      expect(reply).toBe('{"restore":{"version":2,"request_id":42,"trade_index":3,"action":"last-trade-index","payload":null}}');
    } finally {
      daemon.pool.close();
      clientPool.close();
    }
  });
});

describe('an answer sent again', () => {
  it.each(['nip44', 'gift-wrap'] as Transport[])(
    '%s: is the same event when the daemon handles the request again (a crash before it was recorded): the client gets it once',
    async (transport) => {
      const sk = generateSecretKey();
      const first = await startDaemon(transport, 100, sk);
      const clientPool = new RelayPool([relay.url], { backoffMinMs: 20, backoffMaxMs: 40 });
      const identity = cliKeys(0, 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about');
      try {
        await clientPool.ready();
        first.store.users.set(pubOf(identity), 4);
        const msgJson = '{"restore":{"version":2,"request_id":77,"trade_index":null,"action":"last-trade-index","payload":null}}';
        const send = await cliWrap({ transport, msgJson, trade: identity, identity, mostro: first.pubkey });
        await clientRoundTrip(transport, first, send, identity, clientPool);
        // The daemon restarts without a record of having answered (no journal here) and handles the request again.
        first.pool.close();
        const again = await startDaemon(transport, 100, sk);
        again.store.users.set(pubOf(identity), 4);
        await again.ingress.handle(send);
        again.pool.close();
        const kind = transport === 'nip44' ? 14 : 1059;
        const stored = await new Promise<NostrEvent[]>((resolve) => {
          const got: NostrEvent[] = [];
          const sub = clientPool.subscribe({ filters: () => [{ kinds: [kind], '#p': [pubOf(identity)] }], onEvent: (ev) => void got.push(ev as NostrEvent) });
          setTimeout(() => {
            sub.close();
            resolve(got);
          }, 500);
        });
        const answers = [];
        for (const ev of stored) {
          const got = await cliUnwrap(ev, identity, transport);
          if (parseArrayElements(got.tupleJson).raw[0]!.includes('"request_id":77')) answers.push(ev.id);
        }
        expect(answers).toHaveLength(1);
      } finally {
        clientPool.close();
      }
    },
  );
});

describe('hostile traffic over the relay', () => {
  it('drops a burst of hostile events by reason and still answers the next real client', async () => {
    const transport: Transport = 'nip44';
    const daemon = await startDaemon(transport);
    const clientPool = new RelayPool([relay.url]);
    try {
      await clientPool.ready();
      const { finalizeEvent } = await import('nostr-tools/pure');
      const nip44 = await import('nostr-tools/nip44');
      const attacker = generateSecretKey();
      const conv = nip44.v2.utils.getConversationKey(attacker, daemon.pubkey);
      const now = Math.floor(Date.now() / 1000);
      const hostile: NostrEvent[] = [];
      for (let i = 0; i < 60; i++) {
        const content = [
          'not nip44 at all',
          nip44.v2.encrypt('{"not":"a tuple"}', conv),
          nip44.v2.encrypt('[{"order":{"version":2,"action":"NewOrder"}},null,null]', conv),
          nip44.v2.encrypt(`[{"order":{"version":2,"request_id":1,"trade_index":null,"action":"release","payload":null}},null,null]`, conv),
        ][i % 4]!;
        const createdAt = i % 5 === 0 ? now - 3600 : now;
        hostile.push(finalizeEvent({ kind: 14, created_at: createdAt, tags: [['p', daemon.pubkey]], content }, attacker) as NostrEvent);
      }
      for (const e of hostile) await clientPool.publish(e);
      const identity = cliKeys(0);
      daemon.store.users.set(pubOf(identity), 2);
      const msgJson = '{"restore":{"version":2,"request_id":5,"trade_index":null,"action":"last-trade-index","payload":null}}';
      const send = await cliWrap({ transport, msgJson, trade: identity, identity, mostro: daemon.pubkey });
      const reply = await clientRoundTrip(transport, daemon, send, identity, clientPool);
      expect(reply).toBe('{"restore":{"version":2,"request_id":5,"trade_index":2,"action":"last-trade-index","payload":null}}');
      await daemon.ingress.idle();
      const stats = daemon.ingress.stats();
      expect(stats.drops['not-for-me']).toBeGreaterThan(0);
      expect(stats.drops['unwrap-failed']).toBeGreaterThan(0);
      expect(stats.drops.stale).toBeGreaterThan(0);
      expect(stats.drops.shape).toBeGreaterThan(0);
      expect(stats.drops['internal-error']).toBe(0);
      expect(stats.handled).toBe(1);
    } finally {
      daemon.pool.close();
      clientPool.close();
    }
  });
});
