/** The worker-thread intake gives the same outcomes as the single-threaded one, replays included. */
import { afterAll, describe, expect, it } from 'vitest';
import { generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import { Intake, MemoryTradeIndexStore, type IntakeResult } from '../../src/ingress/intake.js';
import { ParallelIntake } from '../../src/ingress/parallel-intake.js';
import type { NostrEvent } from '@mostro/protocol';
import { cliKeys, cliWrap, pubOf } from '../helpers/mostro-cli.js';

const mostroSk = generateSecretKey();
const mostroPk = getPublicKey(mostroSk);
const OID = '7dd204d2-d06c-4406-a3d9-4415f4a8b9c9';
let parallel: ParallelIntake | undefined;
afterAll(async () => {
  await parallel?.close();
});

const outcome = (r: IntakeResult) => (r.type === 'drop' ? `drop:${r.reason}` : r.type);

describe('ParallelIntake', () => {
  it('matches Intake outcome for outcome across two worker threads', async () => {
    const identity = cliKeys(0);
    const events: NostrEvent[] = [];
    for (let i = 1; i <= 12; i++) {
      const json =
        i % 3 === 0
          ? `{"order":{"version":2,"request_id":${i},"trade_index":${i},"action":"new-order","payload":{"order":{"kind":"sell","status":"pending","amount":0,"fiat_code":"VES","min_amount":null,"max_amount":null,"fiat_amount":100,"payment_method":"x","premium":1,"created_at":0,"expires_at":null}}}}`
          : `{"order":{"version":2,"request_id":${i},"trade_index":null,"id":"${OID}","action":"release","payload":null}}`;
      const ev = await cliWrap({ transport: 'nip44', msgJson: json, trade: cliKeys(i), identity, mostro: mostroPk });
      events.push(ev);
      if (i % 4 === 0) events.push({ ...ev }); // replay
      if (i % 5 === 0) events.push({ ...ev, sig: ev.sig.replace(/^./, (c) => (c === '0' ? '1' : '0')) }); // forged
    }
    events.push(await cliWrap({ transport: 'nip44', msgJson: `{"order":{"version":2,"action":"release"}}`, trade: cliKeys(20), identity, mostro: mostroPk }));

    const single = new Intake({ transport: 'nip44', mostroKey: mostroSk, pow: 0, tradeIndex: new MemoryTradeIndexStore() });
    const expected: string[] = [];
    for (const e of events) expected.push(outcome(await single.process(e)));

    const store = new MemoryTradeIndexStore();
    parallel = new ParallelIntake({ transport: 'nip44', mostroKey: mostroSk, pow: 0, tradeIndex: store, threads: 2 });
    // Gate all at once (concurrently in the workers), admit in order.
    const gated = events.map((e) => parallel!.gate(e));
    const got: string[] = [];
    for (const g of gated) got.push(outcome(await parallel.admit(await g)));
    expect(got).toEqual(expected);
    expect(got).toContain('drop:replay');
    expect(got).toContain('drop:bad-signature');
    expect(got).toContain('drop:shape');
    expect(store.users.get(pubOf(identity))).toBe(3); // first contact registered index 3 (the first new-order)
    expect(parallel.stats().accepted).toBe(single.stats().accepted);
  });

  it('drops what cannot even be sent to a worker', async () => {
    const p = new ParallelIntake({ transport: 'nip44', mostroKey: mostroSk, pow: 0, tradeIndex: new MemoryTradeIndexStore(), threads: 1 });
    try {
      expect(outcome(await p.process({ id: 'ab', fn: () => 1 }))).toBe('drop:malformed-event');
      expect(outcome(await p.process(null))).toBe('drop:malformed-event');
    } finally {
      await p.close();
    }
  });
});
