/** The local relay and the relay pool: tag filters, addressable replacement, publish results, re-subscription. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
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

function collect(filter: Record<string, unknown>, ms = 200, from: RelayPool = pool): Promise<RelayEvent[]> {
  return new Promise((resolve) => {
    const got: RelayEvent[] = [];
    const sub = from.subscribe({ filters: () => [filter], onEvent: (e) => got.push(e as RelayEvent) });
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

describe('a bounded store', () => {
  const keeper = generateSecretKey();
  const byKeeper = (i: number) => finalizeEvent({ kind: 14, created_at: now(), tags: [['p', 'a'.repeat(64)]], content: `kept ${i}` }, keeper) as RelayEvent;
  const stranger = (i: number) => finalizeEvent({ kind: 14, created_at: now(), tags: [['p', 'a'.repeat(64)]], content: `junk ${i}` }, generateSecretKey()) as RelayEvent;

  async function withRelay(o: Parameters<typeof startLocalRelay>[0], fn: (r: LocalRelay, p: RelayPool) => Promise<void>) {
    const r = await startLocalRelay(o);
    const p = new RelayPool([r.url], { backoffMinMs: 20, backoffMaxMs: 40 });
    try {
      await p.ready();
      await fn(r, p);
    } finally {
      p.close();
      await r.close();
    }
  }

  it('evicts the oldest events past its bound, the kept authors’ last: a storm cannot grow it', async () => {
    await withRelay({ maxEvents: 6, keepAuthors: [getPublicKey(keeper)] }, async (r, p) => {
      const kept = [byKeeper(1), byKeeper(2), byKeeper(3)];
      for (const e of kept) await p.publish(e);
      const junk = Array.from({ length: 20 }, (_, i) => stranger(i));
      for (const e of junk) await p.publish(e);
      expect(r.storedEvents()).toBe(6);
      const stored = (await collect({ kinds: [14] }, 200, p)).map((e) => e.id);
      // The kept author's three, and the three newest of the rest.
      expect(stored.sort()).toEqual([...kept, ...junk.slice(-3)].map((e) => e.id).sort());
    });
  });

  it('neither serves nor keeps an event whose NIP-40 expiration passed', async () => {
    await withRelay({}, async (r, p) => {
      const gone = finalizeEvent({ kind: 14, created_at: now() - 10, tags: [['expiration', String(now() - 1)]], content: '' }, sk) as RelayEvent;
      await p.publish(gone);
      expect(r.storedEvents()).toBe(0);
      const soon = finalizeEvent({ kind: 14, created_at: now(), tags: [['expiration', String(now() + 3)]], content: '' }, sk) as RelayEvent;
      await p.publish(soon);
      expect(r.storedEvents()).toBe(1);
      expect((await collect({ ids: [soon.id] }, 200, p)).map((e) => e.id)).toEqual([soon.id]);
      // Once its expiration passed, a query no longer returns it.
      for (let i = 0; i < 100 && (await collect({ ids: [soon.id] }, 100, p)).length > 0; i++) await new Promise((res) => setTimeout(res, 100));
      expect(await collect({ ids: [soon.id] }, 200, p)).toEqual([]);
    });
  });

  it('keeps its file proportional to what it holds, and reloads the same events', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'relay-bound-'));
    const file = path.join(dir, 'events.jsonl');
    try {
      let last: RelayEvent[] = [];
      await withRelay({ file, maxEvents: 50, compactSlack: 100 }, async (r, p) => {
        const all = Array.from({ length: 1_000 }, (_, i) => stranger(i));
        for (let i = 0; i < all.length; i += 200) await Promise.all(all.slice(i, i + 200).map((e) => p.publish(e)));
        expect(r.storedEvents()).toBe(50);
        last = all.slice(-50);
      });
      // Compacted while running (1,000 appends against 50 live events): never past 2 × 50 + 100 lines, plus a batch.
      expect(fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).length).toBeLessThanOrEqual(2 * 50 + 100 + 200);
      await withRelay({ file, maxEvents: 50 }, async (r) => {
        expect(r.storedEvents()).toBe(50);
      });
      const ids = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as RelayEvent).id);
      expect(ids.sort()).toEqual(last.map((e) => e.id).sort());
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
