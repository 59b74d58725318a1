/**
 * Routing through Temporal: a new-order from a mostro-cli-style client starts an order workflow whose id derives from
 * the event (so a redelivery starts nothing new), order actions become signals carrying the exact message, and an
 * action for an unknown order is answered `cant-do not_found` — over a real relay and the embedded Temporal server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import type { Worker } from '@temporalio/worker';
import { Intake, MemoryTradeIndexStore } from '../../src/ingress/intake.js';
import { NostrIngress } from '../../src/ingress/nostr.js';
import { orderIdForEvent, orderRoutes } from '../../src/ingress/router.js';
import { TemporalOrderGateway } from '../../src/ingress/temporal-gateway.js';
import { NostrEgress } from '../../src/nostr/egress.js';
import { startLocalRelay, type LocalRelay } from '../../src/nostr/local-relay.js';
import { RelayPool } from '../../src/nostr/relay-pool.js';
import { parseArrayElements, type NostrEvent } from '@mostro/protocol';
import { orderWorkflowId, type NewOrderInput } from '../../src/workflows/order/contract.js';
import { createTemporalTestEnv, pathOf, uid, type TemporalTestEnv } from '../helpers/temporal.js';
import { cliKeys, cliUnwrap, cliWrap, pubOf } from '../helpers/mostro-cli.js';
import { type InboundMessage } from '../../src/domain/messages.js';

let env: TemporalTestEnv;
let worker: Worker;
let running: Promise<void>;
let relay: LocalRelay;
let pool: RelayPool;
let client: RelayPool;
let ingress: NostrIngress;
let gateway: TemporalOrderGateway;
const taskQueue = uid('orders');
const mostroSk = generateSecretKey();
const mostroPk = getPublicKey(mostroSk);

beforeAll(async () => {
  env = await createTemporalTestEnv();
  worker = await env.worker({ taskQueue, workflowsPath: pathOf(new URL('./workflows/order-standin.ts', import.meta.url).href) });
  running = worker.run();
  relay = await startLocalRelay();
  pool = new RelayPool([relay.url]);
  client = new RelayPool([relay.url]);
  gateway = new TemporalOrderGateway(env.plainClient, taskQueue);
  const store = new MemoryTradeIndexStore();
  ingress = new NostrIngress({
    pool,
    intake: new Intake({ transport: 'nip44', mostroKey: mostroSk, pow: 0, tradeIndex: store }),
    egress: new NostrEgress({ pool, mostroKey: mostroSk, transport: 'nip44' }),
    transport: 'nip44',
    mostroPubkey: mostroPk,
    handlers: orderRoutes(gateway),
  });
  await ingress.start();
  await Promise.all([pool.ready(), client.ready()]);
  await new Promise((r) => setTimeout(r, 50));
});

afterAll(async () => {
  ingress?.stop();
  pool?.close();
  client?.close();
  await relay?.close();
  worker?.shutdown();
  await running;
  await env?.teardown();
});

type Received = { input: NewOrderInput; messages: InboundMessage[] };
const received = (orderId: string) => env.plainClient.workflow.getHandle(orderWorkflowId(orderId)).query<Received>('received');

async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      const v = await fn();
      if (ok(v)) return v;
    } catch (err) {
      if (Date.now() > end) throw err;
    }
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const NEW_ORDER =
  '{"order":{"version":2,"request_id":15285610729373585371,"trade_index":1,"action":"new-order","payload":{"order":{"kind":"sell","status":"pending","amount":0,"fiat_code":"VES","min_amount":null,"max_amount":null,"fiat_amount":100,"payment_method":"face to face","premium":1,"created_at":0,"expires_at":null}}}}';

describe('routing to order workflows', () => {
  it('starts one workflow per new-order event and signals it with order actions', async () => {
    const identity = cliKeys(0);
    const trade = cliKeys(1);
    const ev = await cliWrap({ transport: 'nip44', msgJson: NEW_ORDER, trade, identity, mostro: mostroPk });
    await client.publish(ev);
    const orderId = orderIdForEvent(ev.id);
    const r = await eventually(() => received(orderId), () => true);
    expect(r.input.orderId).toBe(orderId);
    expect(r.input.message).toMatchObject({ eventId: ev.id, action: 'new-order', messageJson: NEW_ORDER, sender: pubOf(trade), identity: pubOf(identity), transport: 'nip44' });

    // The same event delivered again (a second relay, or the reconnect catch-up) starts nothing new.
    expect(await gateway.startOrder(orderId, r.input.message)).toBe(false);
    const runs = await env.plainClient.workflow.count(`WorkflowId = '${orderWorkflowId(orderId)}'`);
    expect(runs.count).toBe(1);

    const fiatSent = `{"order":{"version":2,"request_id":9,"trade_index":null,"id":"${orderId}","action":"fiat-sent","payload":null}}`;
    await client.publish(await cliWrap({ transport: 'nip44', msgJson: fiatSent, trade: cliKeys(2), identity, mostro: mostroPk }));
    const after = await eventually(() => received(orderId), (v) => v.messages.length === 1);
    expect(after.messages[0]).toMatchObject({ action: 'fiat-sent', messageJson: fiatSent, sender: pubOf(cliKeys(2)) });
    // Support staff read the trade in the Web UI: the signal is named after the action.
    const history = await env.plainClient.workflow.getHandle(orderWorkflowId(orderId)).fetchHistory();
    const signals = (history.events ?? []).flatMap((e) => (e.workflowExecutionSignaledEventAttributes ? [e.workflowExecutionSignaledEventAttributes.signalName] : []));
    expect(signals).toEqual(['fiat-sent']);
  });

  it('answers an action for an unknown order with cant-do not_found', async () => {
    const trade = cliKeys(3);
    const unknown = '00000000-0000-4000-8000-000000000000';
    const msgJson = `{"order":{"version":2,"request_id":77,"trade_index":null,"id":"${unknown}","action":"release","payload":null}}`;
    const reply = new Promise<NostrEvent>((resolve) => {
      const sub = client.subscribe({
        filters: () => [{ kinds: [14], authors: [mostroPk], '#p': [pubOf(trade)], limit: 0 }],
        onEvent: (e) => {
          sub.close();
          resolve(e as NostrEvent);
        },
      });
    });
    await new Promise((r) => setTimeout(r, 50));
    await client.publish(await cliWrap({ transport: 'nip44', msgJson, trade, identity: cliKeys(0), mostro: mostroPk }));
    const got = await cliUnwrap(await reply, trade, 'nip44');
    expect(parseArrayElements(got.tupleJson).raw[0]).toBe(
      `{"cant-do":{"version":2,"request_id":77,"trade_index":null,"id":"${unknown}","action":"cant-do","payload":{"cant_do":"not_found"}}}`,
    );
  });

  it('derives a valid, stable UUID from an event id', () => {
    const a = orderIdForEvent('ab'.repeat(32));
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(orderIdForEvent('ab'.repeat(32))).toBe(a);
    expect(orderIdForEvent('cd'.repeat(32))).not.toBe(a);
  });
});
