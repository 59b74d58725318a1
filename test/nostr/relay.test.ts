/** The local relay and the relay pool: tag filters, addressable replacement, publish results, re-subscription. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { finalizeEvent, generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import { startLocalRelay, type LocalRelay } from '../../src/nostr/local-relay.js';
import { RelayPool, type RelayEvent } from '../../src/nostr/relay-pool.js';

let relay: LocalRelay;
let pool: RelayPool;
beforeAll(async () => {
  relay = await startLocalRelay();
  pool = new RelayPool([relay.url], { backoffMinMs: 20, backoffMaxMs: 40 });
  await pool.ready();
});
afterAll(async () => {
  pool?.close();
  await relay?.close();
});

const sk = generateSecretKey();
const now = () => Math.floor(Date.now() / 1000);
const ev = (kind: number, tags: string[][], created_at = now(), content = '') =>
  finalizeEvent({ kind, created_at, tags, content }, sk) as RelayEvent;

function collect(filter: Record<string, unknown>, ms = 200): Promise<RelayEvent[]> {
  return new Promise((resolve) => {
    const got: RelayEvent[] = [];
    const sub = pool.subscribe({ filters: () => [filter], onEvent: (e) => got.push(e as RelayEvent) });
    setTimeout(() => {
      sub.close();
      resolve(got);
    }, ms);
  });
}

describe('local relay', () => {
  it('matches #p filters on stored and live events', async () => {
    const a = getPublicKey(generateSecretKey());
    const b = getPublicKey(generateSecretKey());
    const live = collect({ kinds: [1059], '#p': [a], limit: 0 }, 400);
    await new Promise((r) => setTimeout(r, 50));
    await pool.publish(ev(1059, [['p', b]], now() - 86_400));
    const forA = ev(1059, [['p', a]], now() - 86_400); // gift wraps carry old timestamps
    await pool.publish(forA);
    expect((await live).map((e) => e.id)).toEqual([forA.id]);
    expect((await collect({ kinds: [1059], '#p': [a] })).map((e) => e.id)).toEqual([forA.id]);
  });

  it('keeps only the newest revision of an addressable event', async () => {
    const d = `order-${Math.random()}`;
    await pool.publish(ev(38383, [['d', d], ['s', 'pending']], now() - 10));
    await pool.publish(ev(38383, [['d', d], ['s', 'success']], now() - 5));
    const older = await pool.publish(ev(38383, [['d', d], ['s', 'canceled']], now() - 20));
    expect(older.accepted.length + older.rejected.length).toBe(1);
    const stored = await collect({ kinds: [38383], '#d': [d] });
    expect(stored.map((e) => e.tags[1]![1])).toEqual(['success']);
  });

  it('reports a rejected event (bad signature)', async () => {
    const good = ev(1, [], now(), 'hi');
    const r = await pool.publish({ ...good, sig: good.sig.replace(/^./, (c) => (c === '0' ? '1' : '0')) }, 2000);
    expect(r.accepted).toEqual([]);
    expect(r.rejected[0]!.url).toBe(relay.url);
  });

  it('re-subscribes after the relay drops the connection', async () => {
    const target = getPublicKey(generateSecretKey());
    const got: string[] = [];
    const sub = pool.subscribe({ filters: () => [{ kinds: [14], '#p': [target], limit: 0 }], onEvent: (e) => got.push((e as RelayEvent).id) });
    await new Promise((r) => setTimeout(r, 50));
    relay.dropConnections();
    await new Promise((r) => setTimeout(r, 300));
    expect(pool.connectedRelays()).toEqual([relay.url]);
    const e = ev(14, [['p', target]]);
    await pool.publish(e);
    await new Promise((r) => setTimeout(r, 100));
    sub.close();
    expect(got).toEqual([e.id]);
  });
});

describe('catch-up subscriptions', () => {
  it('page through a relay that caps its answers, then report the stream complete, until the connection drops', async () => {
    const capped = await startLocalRelay({ maxResults: 3 });
    const p = new RelayPool([capped.url], { backoffMinMs: 20, backoffMaxMs: 40 });
    try {
      const target = getPublicKey(generateSecretKey());
      const t0 = now();
      const stored = Array.from({ length: 10 }, (_, i) => ev(14, [['p', target]], t0 - 100 + i));
      const tooOld = ev(14, [['p', target]], t0 - 500);
      for (const e of [...stored, tooOld]) expect((await p.publish(e)).accepted).toEqual([capped.url]);

      const got: { id: string; stored: boolean; since?: number }[] = [];
      const sub = p.subscribe({
        since: t0 - 200,
        filters: (since) => [{ kinds: [14], '#p': [target], ...(since === undefined ? { limit: 0 } : { since }) }],
        onEvent: (e, _url, d) => void got.push({ id: (e as RelayEvent).id, ...d }),
      });
      expect(p.completeFrom(sub.id)).toBe(t0 - 200);
      for (let i = 0; i < 100 && p.completeFrom(sub.id) !== undefined; i++) await new Promise((r) => setTimeout(r, 20));
      expect(p.completeFrom(sub.id)).toBeUndefined();
      // Three per page, newest first: every stored event once, none from before the catch-up point.
      expect(got.map((g) => g.id).sort()).toEqual(stored.map((e) => e.id).sort());
      expect(got.every((g) => g.stored && g.since === t0 - 200)).toBe(true);

      const live = ev(14, [['p', target]]);
      await p.publish(live);
      await new Promise((r) => setTimeout(r, 100));
      expect(got.at(-1)).toEqual({ id: live.id, stored: false });

      // A lost connection: the stream is complete only up to the moment it was lost, until the catch-up is done.
      capped.dropConnections();
      await new Promise((r) => setTimeout(r, 5));
      expect(p.completeFrom(sub.id)).toBeGreaterThanOrEqual(t0);
      for (let i = 0; i < 100 && p.completeFrom(sub.id) !== undefined; i++) await new Promise((r) => setTimeout(r, 20));
      expect(p.completeFrom(sub.id)).toBeUndefined();
      sub.close();
    } finally {
      p.close();
      await capped.close();
    }
  });
});
