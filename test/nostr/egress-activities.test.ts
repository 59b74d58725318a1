/** Nostr egress activities (run in Temporal's MockActivityEnvironment) against a real relay. */
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSecretKey, getPublicKey, verifyEvent } from 'nostr-tools/pure';
import { createNostrActivities } from '../../src/activities/nostr.js';
import { NostrEgress } from '../../src/nostr/egress.js';
import { startLocalRelay, type LocalRelay } from '../../src/nostr/local-relay.js';
import { RelayPool, type RelayEvent } from '../../src/nostr/relay-pool.js';
import { parseArrayElements, type NostrEvent } from '@mostro/protocol';
import { cliKeys, cliUnwrap, pubOf } from '../helpers/mostro-cli.js';

let relay: LocalRelay;
let pool: RelayPool;
const mostroSk = generateSecretKey();
beforeAll(async () => {
  relay = await startLocalRelay();
  pool = new RelayPool([relay.url]);
  await pool.ready();
});
afterAll(async () => {
  pool?.close();
  await relay?.close();
});

/** MockActivityEnvironment.run with the activity's own parameter and result types. */
function runIn<A extends unknown[], R>(env: MockActivityEnvironment, fn: (...args: A) => Promise<R>, ...args: A): Promise<R> {
  return env.run(fn as never, ...(args as unknown as never[])) as Promise<R>;
}

describe('nostr activities', () => {
  it('builds a reply once and publishes it; re-publishing the same event is harmless', async () => {
    const acts = createNostrActivities(new NostrEgress({ pool, mostroKey: mostroSk, transport: 'nip44' }));
    const env = new MockActivityEnvironment();
    const trade = cliKeys(4);
    const messageJson = '{"order":{"version":2,"request_id":15285610729373585371,"trade_index":null,"id":"7dd204d2-d06c-4406-a3d9-4415f4a8b9c9","action":"waiting-seller-to-pay","payload":null}}';
    const event = await runIn(env, acts.buildReply, { to: pubOf(trade), messageJson });
    const first = await runIn(env, acts.publishEvent, { event, to: pubOf(trade) });
    const again = await runIn(env, acts.publishEvent, { event, to: pubOf(trade) });
    expect(first.accepted).toEqual([relay.url]);
    expect(again.accepted).toEqual([relay.url]); // a duplicate is accepted, not stored twice
    const got = await cliUnwrap(event, trade, 'nip44');
    expect(parseArrayElements(got.tupleJson).raw[0]).toBe(messageJson);
    expect(event.tags.find((t) => t[0] === 'expiration')).toBeDefined();
  });

  it('refuses a malformed message without retrying', async () => {
    const acts = createNostrActivities(new NostrEgress({ pool, mostroKey: mostroSk, transport: 'nip44' }));
    await expect(runIn(new MockActivityEnvironment(), acts.buildReply, { to: getPublicKey(mostroSk), messageJson: '{"order":1}' })).rejects.toMatchObject({
      type: 'InvalidMessage',
      nonRetryable: true,
    });
  });

  it('fails a publish no relay accepted, so Temporal retries it', async () => {
    const deadPool = new RelayPool(['ws://127.0.0.1:9'], { backoffMinMs: 50 });
    try {
      const acts = createNostrActivities(new NostrEgress({ pool: deadPool, mostroKey: mostroSk, transport: 'nip44', publishTimeoutMs: 100, attempts: 2 }));
      const env = new MockActivityEnvironment();
      const event = await runIn(env, acts.buildDisputeEvent, { disputeId: 'd1', status: 'initiated', initiator: 'seller', openedAt: 1, now: 2, disputeDays: 90 });
      await expect(runIn(env, acts.publishEvent, { event })).rejects.toThrow(/no relay accepted/);
    } finally {
      deadPool.close();
    }
  });

  it('signs the NIP-69 event of an order revision with the Mostro key', async () => {
    const acts = createNostrActivities(new NostrEgress({ pool, mostroKey: mostroSk, transport: 'nip44' }));
    const env = new MockActivityEnvironment();
    const ev = await runIn(env, acts.buildOrderEvent, {
      order: { id: 'o1', kind: 'buy', status: 'success', amount: 1000, fiat_code: 'USD', min_amount: null, max_amount: null, fiat_amount: 10, payment_method: 'cash', premium: 0, expires_at: 0 },
      ctx: { now: 1_800_000_000, orderDays: 30, relays: [relay.url], mostroPubkey: getPublicKey(mostroSk), networks: ['regtest'] },
    });
    expect(ev).not.toBeNull();
    expect(verifyEvent({ ...(ev as NostrEvent) })).toBe(true);
    expect((ev as RelayEvent).pubkey).toBe(getPublicKey(mostroSk));
    expect(await runIn(env, acts.buildOrderEvent, {
      order: { id: 'o1', kind: 'buy', status: 'active', amount: 1000, fiat_code: 'USD', min_amount: null, max_amount: null, fiat_amount: 10, payment_method: 'cash', premium: 0, expires_at: 0 },
      ctx: { now: 1, orderDays: 30, relays: [], mostroPubkey: '', networks: null },
    })).toBeNull();
  });
});

describe('sendReplies', () => {
  it.each(['nip44', 'gift-wrap'] as const)(
    'on %s: a retried attempt publishes byte-identical events (the relay keeps one), readable by the client',
    async (transport) => {
      const acts = createNostrActivities(new NostrEgress({ pool, mostroKey: mostroSk, transport }));
      const trade = cliKeys(5);
      const messageJson = '{"order":{"version":2,"request_id":7,"trade_index":null,"id":"7dd204d2-d06c-4406-a3d9-4415f4a8b9c9","action":"released","payload":null}}';
      const got: NostrEvent[] = [];
      const filter = transport === 'nip44' ? { kinds: [14], '#p': [pubOf(trade)] } : { kinds: [1059], '#p': [pubOf(trade)] };
      const sub = pool.subscribe({ filters: () => [filter], onEvent: (ev) => void got.push(ev as NostrEvent) });
      const info = { activityId: '9', scheduledTimestampMs: 1_795_000_000_000, workflowExecution: { workflowId: 'order-x', runId: 'r1' } };
      const before = relay.storedEvents();
      // Two attempts of the same activity (same id, same first scheduling time), e.g. after a worker crash.
      await runIn(new MockActivityEnvironment(info as never), acts.sendReplies, { replies: [{ to: pubOf(trade), messageJson }] });
      await runIn(new MockActivityEnvironment({ ...info, attempt: 2 } as never), acts.sendReplies, { replies: [{ to: pubOf(trade), messageJson }] });
      expect(relay.storedEvents()).toBe(before + 1);
      // Another activity (another seed) gives a different event.
      await runIn(new MockActivityEnvironment({ ...info, activityId: '10' } as never), acts.sendReplies, { replies: [{ to: pubOf(trade), messageJson }] });
      expect(relay.storedEvents()).toBe(before + 2);
      await new Promise((r) => setTimeout(r, 200));
      sub.close();
      const ids = new Set(got.map((e) => e.id));
      expect(ids.size).toBe(2);
      for (const ev of got) {
        expect(verifyEvent(ev as never)).toBe(true);
        const opened = await cliUnwrap(ev, trade, transport);
        expect(parseArrayElements(opened.tupleJson).raw[0]).toContain('"action":"released"');
      }
    },
  );
});
