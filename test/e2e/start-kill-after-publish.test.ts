/**
 * Issue 14, item 2: `npm start` killed (SIGKILL) the moment its relay acknowledged a trader's messages, then started
 * again on the same data directory. The messages were on the relay's disk before it said OK, and the ingress catches
 * up from its saved cursor: after the restart the trader gets exactly one answer to each — the cancel of a pending
 * order (a signal to its workflow) and a new order (a workflow start).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MostroTrader } from '../../src/client/trader.js';
import { RelayPool } from '../../src/nostr/relay-pool.js';
import { unwrapKind, unwrapMessage, type NostrEvent, type Payload } from '@mostro/protocol';
import { startDaemon, whereIs } from '../helpers/npm-start.js';
import type { Spawned } from '../../support/process.js';
import { realServerAddress } from '../helpers/temporal.js';

const sellOrder = (sats: number) =>
  ({
    order: { kind: 'sell', status: 'pending', amount: sats, fiat_code: 'USD', min_amount: null, max_amount: null, fiat_amount: 5, payment_method: 'cash', premium: 0, created_at: 0, expires_at: null },
  }) as Payload;

/** Every reply the daemon sent to one of the trader's trade keys, stored on the relay or arriving later. */
function repliesTo(pool: RelayPool, trader: MostroTrader, index: number, mostroPubkey: string) {
  const got: { action: string; id?: string }[] = [];
  const seen = new Set<string>();
  const sub = pool.subscribe({
    filters: () => [{ kinds: [14], authors: [mostroPubkey], '#p': [trader.tradePubkey(index)] }],
    onEvent: (ev) => {
      const e = ev as NostrEvent;
      if (seen.has(e.id)) return;
      seen.add(e.id);
      const r = unwrapMessage(e, trader.tradeKey(index), 'nip44');
      if (!r.ok) return;
      const { kind } = unwrapKind(r.value.message);
      got.push({ action: kind.action, id: kind.id ?? undefined });
    },
  });
  return { got, close: () => sub.close() };
}

async function until(check: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(realServerAddress)('npm start killed right after its relay accepted a message', () => {
  const running: Spawned[] = [];
  afterAll(() => {
    for (const p of running) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  });

  it('answers each message exactly once after the restart', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mostro-kill-'));
    const first = startDaemon(dataDir);
    running.push(first);
    const at = await whereIs(first);
    let pool = new RelayPool([at.relay], { backoffMinMs: 50, backoffMaxMs: 200 });
    const seller = new MostroTrader('seller', pool, at.pubkey);
    await seller.send(1, { action: 'new-order', payload: sellOrder(15_000) });
    const pending = (await seller.next(1, 'new-order', 60_000)).id!;

    // Both messages acknowledged by the relay, then the daemon dies at once.
    await Promise.all([seller.send(1, { action: 'cancel', id: pending }), seller.send(2, { action: 'new-order', payload: sellOrder(16_000) })]);
    first.child.kill('SIGKILL');
    await first.exited;
    seller.close();
    pool.close();

    const second = startDaemon(dataDir);
    running.push(second);
    const again = await whereIs(second);
    expect(again.pubkey).toBe(at.pubkey);
    pool = new RelayPool([again.relay], { backoffMinMs: 50, backoffMaxMs: 200 });
    const onFirstKey = repliesTo(pool, seller, 1, at.pubkey);
    const onSecondKey = repliesTo(pool, seller, 2, at.pubkey);
    try {
      const what = () => `replies to trade key 1: ${JSON.stringify(onFirstKey.got)}; to trade key 2: ${JSON.stringify(onSecondKey.got)}\n${second.output()}`;
      await until(() => onFirstKey.got.some((r) => r.action === 'canceled') && onSecondKey.got.some((r) => r.action === 'new-order'), 45_000, what);
      // Anything answered twice would show up by now.
      await new Promise((r) => setTimeout(r, 3000));
      expect(onFirstKey.got.filter((r) => r.action === 'canceled'), what()).toEqual([{ action: 'canceled', id: pending }]);
      expect(onFirstKey.got.filter((r) => r.action === 'new-order'), what()).toHaveLength(1);
      const created = onSecondKey.got.filter((r) => r.action === 'new-order');
      expect(created, what()).toHaveLength(1);
      expect(created[0]!.id).not.toBe(pending);
    } finally {
      onFirstKey.close();
      onSecondKey.close();
      pool.close();
    }
    second.child.kill('SIGTERM');
    expect(await second.exited, second.output()).toBe(0);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }, 300_000);
});
