/**
 * The price manager against local yadio-style HTTP servers: median with outlier rejection, a failing or hanging
 * provider does not block the others, repeated failures put a provider on cooldown, and an old price is refused.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createPriceActivities } from '../../src/activities/price.js';
import { aggregate, DEFAULT_PRICE_SETTINGS, PriceManager } from '../../src/price/manager.js';
import { yadioProvider } from '../../src/price/yadio.js';

const servers: http.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => { s.closeAllConnections(); s.close(() => r()); })));
});

/** A provider endpoint; `answer` decides each response. Returns its base URL and a request counter. */
async function provider(answer: () => { status?: number; body?: unknown; hang?: boolean }) {
  const hits = { count: 0 };
  const server = http.createServer((req, res) => {
    hits.count++;
    const a = answer();
    if (a.hang) return; // never answers
    res.writeHead(a.status ?? 200, { 'content-type': 'application/json' });
    res.end(typeof a.body === 'string' ? a.body : JSON.stringify(a.body));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits };
}
const rates = (usd: number, ves?: number) => ({ body: { BTC: { USD: usd, ...(ves ? { VES: ves } : {}) }, base: 'BTC', timestamp: 1 } });

describe('aggregation', () => {
  it('takes the median and drops answers far from it', () => {
    expect(aggregate([{ provider: 'a', price: 100 }, { provider: 'b', price: 102 }], 5)).toEqual({ price: 101, sources: ['a', 'b'] });
    expect(aggregate([{ provider: 'a', price: 100 }, { provider: 'b', price: 101 }, { provider: 'c', price: 150 }], 5)).toEqual({ price: 100.5, sources: ['a', 'b'] });
    expect(aggregate([{ provider: 'a', price: 0 }, { provider: 'b', price: Number.NaN }], 5)).toBeUndefined();
  });
});

describe('PriceManager', () => {
  it('combines providers over HTTP, per currency', async () => {
    const a = await provider(() => rates(97_000, 3_000_000));
    const b = await provider(() => rates(97_400));
    const c = await provider(() => rates(120_000)); // an outlier
    const m = new PriceManager([yadioProvider(a.url, 'a'), yadioProvider(b.url, 'b'), yadioProvider(c.url, 'c')]);
    expect(await m.refresh()).toEqual({ updated: 2, failedProviders: [] });
    expect(m.quote('usd')).toMatchObject({ ok: true, price: 97_400 / 2 + 97_000 / 2, sources: ['a', 'b'] });
    expect(m.quote('VES')).toMatchObject({ ok: true, price: 3_000_000, sources: ['a'] });
    expect(m.quote('EUR')).toEqual({ ok: false, reason: 'no_price' });
    expect(await createPriceActivities(m).getMarketPrice({ fiatCode: 'VES' })).toMatchObject({ ok: true, price: 3_000_000 });
  });

  it('keeps going when a provider errors, answers garbage or hangs', async () => {
    const good = await provider(() => rates(90_000));
    const broken = await provider(() => ({ status: 500, body: { error: 'down' } }));
    const garbage = await provider(() => ({ body: '{"rates":[]}' }));
    const hanging = await provider(() => ({ hang: true }));
    const m = new PriceManager(
      [yadioProvider(good.url, 'good'), yadioProvider(broken.url, 'broken'), yadioProvider(garbage.url, 'garbage'), yadioProvider(hanging.url, 'hanging')],
      { ...DEFAULT_PRICE_SETTINGS, providerTimeoutSecs: 0.3 },
    );
    const t0 = Date.now();
    const r = await m.refresh();
    // A hanging provider is cut off at its timeout (0.3 s) instead of holding the refresh: generous for a busy machine.
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(r.failedProviders.sort()).toEqual(['broken', 'garbage', 'hanging']);
    expect(m.quote('USD')).toMatchObject({ ok: true, price: 90_000, sources: ['good'] });
  });

  it('rests a provider after repeated failures, then tries it again', async () => {
    let now = 1_800_000_000;
    const flaky = await provider(() => ({ status: 503 }));
    const m = new PriceManager([yadioProvider(flaky.url, 'flaky')], { ...DEFAULT_PRICE_SETTINGS, failureThreshold: 2, failureCooldownSecs: 120 }, undefined, () => now);
    await m.refresh();
    await m.refresh();
    expect(flaky.hits.count).toBe(2);
    await m.refresh(); // cooling down: not asked
    expect(flaky.hits.count).toBe(2);
    now += 121;
    await m.refresh();
    expect(flaky.hits.count).toBe(3);
  });

  it('serves the last good price until it is too old, then refuses', async () => {
    let now = 1_800_000_000;
    let up = true;
    const p = await provider(() => (up ? rates(95_000) : { status: 500 }));
    const m = new PriceManager([yadioProvider(p.url)], DEFAULT_PRICE_SETTINGS, undefined, () => now);
    await m.refresh();
    up = false;
    now += 1_000;
    await m.refresh();
    expect(m.quote('USD')).toMatchObject({ ok: true, price: 95_000, updatedAt: 1_800_000_000 });
    now += 801; // 1,801 s old; the limit is 1,800
    expect(m.quote('USD')).toEqual({ ok: false, reason: 'price_too_stale' });
    expect(m.snapshot()).toEqual({});
  });
});
