/**
 * The durable ingress cursor across an ingress restart, over real relays on 127.0.0.1 and the real database: what
 * traders sent while the ingress was down is answered after it restarts — even when older than the freshness
 * window — exactly once; what was answered before the restart is not answered again when the catch-up re-delivers
 * it or someone re-publishes it to another relay; a genuinely old message is still refused. On v1 the catch-up looks
 * two days back (gift wraps carry randomized timestamps), so it re-delivers much more, and all of it is judged the
 * same way.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import { lastTradeIndexHandler } from '../../src/ingress/actions/last-trade-index.js';
import { Intake } from '../../src/ingress/intake.js';
import { NostrIngress } from '../../src/ingress/nostr.js';
import { DbIngressJournal } from '../../src/db/ingress-journal.js';
import { DbTradeIndexStore } from '../../src/db/trade-index-store.js';
import type { Database } from '../../src/db/database.js';
import { NostrEgress } from '../../src/nostr/egress.js';
import { startLocalRelay, type LocalRelay } from '../../src/nostr/local-relay.js';
import { RelayPool } from '../../src/nostr/relay-pool.js';
import { message, unwrapKind, unwrapMessage, wrapMessage, type NostrEvent, type Transport } from '@mostro/protocol';
import { databaseBackends } from '../helpers/databases.js';

/**
 * A shorter freshness window than the daemon's 10 s, so that "older than the window" needs less waiting — long enough
 * that a live message is never stale on arrival on a busy machine.
 */
const FRESHNESS_SECS = 5;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const nowSecs = () => Math.floor(Date.now() / 1000);

let relayA: LocalRelay;
let relayB: LocalRelay;
let db: Database;
beforeAll(async () => {
  relayA = await startLocalRelay();
  relayB = await startLocalRelay();
  db = await databaseBackends()[0]!.open();
});
afterAll(async () => {
  await relayA?.close();
  await relayB?.close();
  await db?.close();
});

/** The ingress as the daemon assembles it, minus Temporal: intake, journal in the database, a pool on both relays. */
async function startIngress(transport: Transport, mostroKey: Uint8Array) {
  const mostroPubkey = getPublicKey(mostroKey);
  const pool = new RelayPool([relayA.url, relayB.url], { backoffMinMs: 50, backoffMaxMs: 200 });
  const tradeIndex = new DbTradeIndexStore(db.prisma);
  const intake = new Intake({ transport, mostroKey, pow: 0, tradeIndex, freshnessSecs: FRESHNESS_SECS });
  const ingress = new NostrIngress({
    pool,
    intake,
    egress: new NostrEgress({ pool, mostroKey, transport }),
    transport,
    mostroPubkey,
    handlers: { 'last-trade-index': lastTradeIndexHandler(tradeIndex) },
    journal: new DbIngressJournal(db.prisma, mostroPubkey),
    cursorSaveMs: 100,
  });
  await ingress.start();
  expect(await pool.ready(5000)).toBe(true);
  await sleep(100); // the REQs reach the relays
  return { ingress, pool };
}

/** A trader asking for its last trade index; every answer is collected by request id, stored ones included. */
class Asker {
  readonly key = generateSecretKey();
  readonly answers: string[] = [];
  private readonly pool = new RelayPool([relayA.url, relayB.url], { backoffMinMs: 50, backoffMaxMs: 200 });

  constructor(
    private readonly transport: Transport,
    private readonly mostroPubkey: string,
  ) {
    const pk = getPublicKey(this.key);
    const filter = transport === 'nip44' ? { kinds: [14], authors: [mostroPubkey], '#p': [pk] } : { kinds: [1059], '#p': [pk] };
    const seen = new Set<string>();
    this.pool.subscribe({
      filters: () => [filter],
      onEvent: (ev) => {
        const e = ev as NostrEvent;
        if (seen.has(e.id)) return; // the same reply from both relays
        seen.add(e.id);
        const r = unwrapMessage(e, this.key, this.transport);
        if (r.ok) this.answers.push(String(unwrapKind(r.value.message).kind.request_id));
      },
    });
  }

  get pubkey(): string {
    return getPublicKey(this.key);
  }

  /** A signed `last-trade-index` request (identity = trade key), created at `now`. */
  request(requestId: number, now = nowSecs()): NostrEvent {
    const msg = message({ wrapper: 'restore', action: 'last-trade-index', request_id: requestId, trade_index: null });
    return wrapMessage({ transport: this.transport, message: msg, tradeKey: this.key, receiver: this.mostroPubkey, now });
  }

  /**
   * A request created an hour ago. On v1 its wrap's timestamp is randomized up to two days further back: take one
   * the two-day catch-up still reaches, so that it is re-delivered and must be judged.
   */
  oldRequest(requestId: number): NostrEvent {
    for (;;) {
      const ev = this.request(requestId, nowSecs() - 3600);
      if (ev.created_at > nowSecs() - 2 * 86_400 + 600) return ev;
    }
  }

  async publish(ev: NostrEvent, relays: string[]): Promise<void> {
    const publisher = new RelayPool(relays);
    try {
      const r = await publisher.publish(ev);
      expect(r.accepted.sort()).toEqual([...relays].sort());
    } finally {
      publisher.close();
    }
  }

  async waitForAnswers(n: number, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.answers.length < n && Date.now() < deadline) await sleep(50);
  }

  close(): void {
    this.pool.close();
  }
}

describe.each(['nip44', 'gift-wrap'] as Transport[])('%s: catch-up across an ingress restart', (transport) => {
  it('answers what arrived while the ingress was down once, and refuses re-deliveries, re-publications and old messages', async () => {
    const mostroKey = generateSecretKey();
    const mostroPubkey = getPublicKey(mostroKey);
    const asker = new Asker(transport, mostroPubkey);
    await db.prisma.user.create({ data: { pubkey: asker.pubkey, lastTradeIndex: 4n, createdAt: BigInt(nowSecs()) } });
    try {
      // ---- before the restart: one request, answered ----
      let { ingress, pool } = await startIngress(transport, mostroKey);
      const answeredBefore = asker.request(1);
      await asker.publish(answeredBefore, [relayA.url]);
      await asker.waitForAnswers(1);
      expect(asker.answers).toEqual(['1']);
      await sleep(300); // a cursor save after it was answered

      // ---- the ingress goes away (no final save: the cursor is what the periodic save left) ----
      ingress.stop();
      pool.close();
      await asker.publish(asker.request(2), [relayA.url]);
      await asker.publish(asker.request(3), [relayB.url]);
      // Sent an hour before the ingress stopped, and never answered: no catch-up may take it for a missed message.
      await asker.publish(asker.oldRequest(4), [relayA.url]);
      await sleep((FRESHNESS_SECS + 1) * 1000); // now older than the freshness window

      // ---- restart: a new ingress on the same database ----
      ({ ingress, pool } = await startIngress(transport, mostroKey));
      await asker.waitForAnswers(3);
      await ingress.idle();
      expect(asker.answers.sort()).toEqual(['1', '2', '3']);

      // Someone re-publishes the request answered before the restart to the other relay: a replay.
      await asker.publish(answeredBefore, [relayB.url]);
      await sleep(500);
      await ingress.idle();
      expect(asker.answers.sort()).toEqual(['1', '2', '3']);
      const drops = ingress.stats().drops;
      // The catch-up re-delivered the request answered before the restart: recognised as handled.
      expect(drops.replay).toBeGreaterThanOrEqual(1);
      if (transport === 'gift-wrap') {
        // Its two-day catch-up re-delivers the hour-old request too: refused as stale.
        expect(drops.stale).toBeGreaterThanOrEqual(1);
      }
      ingress.stop();
      pool.close();
    } finally {
      asker.close();
    }
  }, 60_000);
});

describe('the first start', () => {
  it('with no saved cursor takes only new events, as the reference, and saves a cursor at once', async () => {
    const mostroKey = generateSecretKey();
    const mostroPubkey = getPublicKey(mostroKey);
    const journal = new DbIngressJournal(db.prisma, mostroPubkey);
    expect(await journal.loadCursor()).toBeNull();
    const asker = new Asker('nip44', mostroPubkey);
    await db.prisma.user.create({ data: { pubkey: asker.pubkey, lastTradeIndex: 1n, createdAt: BigInt(nowSecs()) } });
    await asker.publish(asker.request(1), [relayA.url]);
    const { ingress, pool } = await startIngress('nip44', mostroKey);
    try {
      const saved = await journal.loadCursor();
      expect(saved).not.toBeNull();
      expect(Math.abs(saved! - nowSecs())).toBeLessThanOrEqual(2);
      await asker.publish(asker.request(2), [relayA.url]);
      await asker.waitForAnswers(1);
      await sleep(300);
      expect(asker.answers).toEqual(['2']);
    } finally {
      ingress.stop();
      pool.close();
      asker.close();
    }
  });
});

describe('a trade message whose admission began before a crash', () => {
  it('is admitted again when re-delivered, not refused as a reused trade index', async () => {
    const mostroKey = generateSecretKey();
    const identity = generateSecretKey();
    const intake = new Intake({ transport: 'nip44', mostroKey, pow: 0, tradeIndex: new DbTradeIndexStore(db.prisma) });
    const order = { kind: 'sell', status: 'pending', amount: 0, fiat_code: 'USD', min_amount: null, max_amount: null, fiat_amount: 5, payment_method: 'cash', premium: 0, created_at: 0, expires_at: null };
    const msg = message({ action: 'new-order', request_id: 1, trade_index: 3, payload: { order } as never });
    const event = wrapMessage({ transport: 'nip44', message: msg, tradeKey: generateSecretKey(), identityKey: identity, receiver: getPublicKey(mostroKey) });
    const gated = await intake.gate(event);
    expect(gated.type).toBe('pass');
    // First contact registers index 3 for the identity; then the daemon dies before the order workflow starts.
    expect((await intake.admit(gated)).type).toBe('accept');
    // The catch-up brings the same event back: without the journal's word it looks like a reused index…
    expect((await intake.admit(gated)).type).toBe('reject-trade-index');
    // …with it (its admission had begun), the index is recognised as its own.
    expect((await intake.admit(gated, { resumed: true })).type).toBe('accept');
    // A different message reusing index 3 is still refused.
    const reuse = wrapMessage({ transport: 'nip44', message: msg, tradeKey: generateSecretKey(), identityKey: identity, receiver: getPublicKey(mostroKey) });
    expect((await intake.admit(await intake.gate(reuse))).type).toBe('reject-trade-index');
  });
});
