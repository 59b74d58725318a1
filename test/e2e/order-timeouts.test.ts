/**
 * Everything that happens to a trade by the clock — waiting-state timeouts (15 min), pending expiry (24 h), the
 * escrow CLTV guard (20 h), payout retries (every 60 s) — through the real stack, with Temporal skipping time: each
 * test runs in well under a second of wall time per simulated hour.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestDaemon, fiatSentTrade, holdInvoiceOf, lockedSellTrade, openOrder, orderOf, waitFor as waitUntil } from '../helpers/daemon.js';

let d: TestDaemon;
beforeAll(async () => {
  d = await TestDaemon.start();
});
afterAll(async () => {
  await d?.close();
});

const holdOf = (request: string) => [...d.net.invoices.values()].find((i) => i.request === request)!;

describe('waiting timeouts (expiration_seconds = 900)', () => {
  it('a buyer who never sends the invoice loses the take: the order is offered again, the maker re-announced', async () => {
    const seller = d.trader('seller-t1');
    const buyer = d.trader('buyer-t1');
    const id = await openOrder(seller, 1, { kind: 'sell', amount: 3_000, fiatAmount: 3, fiatCode: 'USD' });
    await buyer.send(1, { action: 'take-sell', id });
    await buyer.next(1, 'add-invoice');
    await seller.next(1, 'waiting-buyer-invoice');
    await d.env.sleep('14 minutes');
    expect((await d.order(id))?.status).toBe('waiting-buyer-invoice');
    await d.env.sleep('1 minute');
    const again = await seller.next(1);
    expect(again).toMatchObject({ action: 'new-order', request_id: null });
    expect(orderOf(again)).toMatchObject({ status: 'pending', amount: 3_000 });
    expect(await buyer.next(1)).toMatchObject({ action: 'canceled', request_id: null });
    expect((await d.orderEvent(id))?.s).toEqual(['pending']);
    expect(await d.order(id)).toMatchObject({ buyerPubkey: null, takenAt: 0 });
  });

  it('a seller who never pays the escrow: the order is canceled for both and the hold invoice with it', async () => {
    const seller = d.trader('seller-t2');
    const buyer = d.trader('buyer-t2');
    const id = await openOrder(seller, 1, { kind: 'sell', amount: 3_000, fiatAmount: 3, fiatCode: 'USD' });
    const inv = d.net.createInvoice({ node: 'buyer', valueSats: 2_991, expirySecs: 7200 });
    await buyer.send(1, { action: 'take-sell', id, payload: { payment_request: [null, inv.request, null] } });
    const pay = await seller.next(1, 'pay-invoice');
    await buyer.next(1, 'waiting-seller-to-pay');
    await d.env.sleep('15 minutes');
    expect(await seller.next(1)).toMatchObject({ action: 'canceled' });
    expect(await buyer.next(1)).toMatchObject({ action: 'canceled' });
    expect((await d.orderEvent(id))?.s).toEqual(['canceled']);
    expect(holdOf(holdInvoiceOf(pay)).state).toBe('CANCELED');
  });
});

describe('pending expiry', () => {
  it('an untaken order expires after expiration_hours (24 h) and leaves the book', async () => {
    const seller = d.trader('seller-t3');
    const id = await openOrder(seller, 1, { kind: 'sell', amount: 3_000, fiatAmount: 3, fiatCode: 'USD' });
    await d.env.sleep('23 hours');
    expect((await d.order(id))?.status).toBe('pending');
    await d.env.sleep('1 hour');
    await d.waitForStatus(id, 'expired');
    expect((await d.orderEvent(id))?.s).toEqual(['canceled']);
    const taker = d.trader('late-taker');
    await taker.send(1, { action: 'take-sell', id });
    expect(await taker.next(1)).toMatchObject({ action: 'cant-do' });
  });
});

describe('escrow CLTV guard', () => {
  it('an active trade nobody moves is canceled before LND would expire the hold invoice; the seller is refunded', async () => {
    const seller = d.trader('seller-t4');
    const buyer = d.trader('buyer-t4');
    const { id, holdRequest, holdPayment } = await lockedSellTrade(d, seller, buyer, 3_000);
    await d.env.sleep('19 hours');
    expect((await d.order(id))?.status).toBe('active');
    await d.env.sleep('1 hour');
    expect(await seller.next(1, 'canceled')).toMatchObject({ id });
    expect(await buyer.next(1, 'canceled')).toMatchObject({ id });
    expect(holdOf(holdRequest).state).toBe('CANCELED');
    expect(d.net.payments.get(holdPayment.hash)!.status).toBe('FAILED');
  });
});

describe('escrow canceled by LND', () => {
  it('ends an active trade: both parties are told, the order is canceled', async () => {
    const seller = d.trader('seller-t8');
    const buyer = d.trader('buyer-t8');
    const { id, holdPayment } = await lockedSellTrade(d, seller, buyer, 4_000);
    d.net.cancelInvoice(holdPayment.hash); // what LND does when the HTLC is about to expire, or an operator's lncli cancel
    expect(await seller.next(1, 'hold-invoice-payment-canceled')).toMatchObject({ id });
    expect(await buyer.next(1, 'hold-invoice-payment-canceled')).toMatchObject({ id });
    await d.waitForStatus(id, 'canceled');
    expect((await d.orderEvent(id))?.s).toEqual(['canceled']);
  });
});

describe('escrow CLTV guard after fiat-sent', () => {
  it('opens a dispute for the buyer (record, kind-38386 event, both told); the seller can still release', async () => {
    const seller = d.trader('seller-t7');
    const buyer = d.trader('buyer-t7');
    const { id, invoice: inv } = await fiatSentTrade(d, seller, buyer, 4_000);
    await d.env.sleep('20 hours');
    const byYou = await buyer.next(1, 'dispute-initiated-by-you');
    const disputeId = (byYou.payload as { dispute: [string, null] }).dispute[0];
    expect(await seller.next(1, 'dispute-initiated-by-peer')).toMatchObject({ payload: { dispute: [disputeId, null] } });
    expect(await d.db.prisma.dispute.findUniqueOrThrow({ where: { orderId: id } })).toMatchObject({ id: disputeId, status: 'initiated', orderPreviousStatus: 'fiat-sent' });
    expect(await d.db.prisma.order.findUniqueOrThrow({ where: { id } })).toMatchObject({ status: 'dispute', buyerDispute: true });
    const got: Array<{ tags: string[][] }> = [];
    const sub = d.clientPool.subscribe({ filters: () => [{ kinds: [38386], '#d': [disputeId] }], onEvent: (ev) => void got.push(ev as never) });
    await new Promise((r) => setTimeout(r, 300));
    sub.close();
    expect(Object.fromEntries(got[0]!.tags.map(([k, ...v]) => [k, v]))).toMatchObject({ s: ['initiated'], initiator: ['buyer'], z: ['dispute'] });
    // The escrow was not canceled; the seller confirming the fiat ends it the normal way.
    await seller.send(1, { action: 'release', id, tradeIndex: null });
    await buyer.next(1, 'purchase-completed');
    expect(d.net.payments.get(inv.hash)).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
    expect((await d.db.prisma.dispute.findUniqueOrThrow({ where: { id: disputeId } })).status).toBe('settled');
    const after: Array<{ created_at: number; tags: string[][] }> = [];
    const sub2 = d.clientPool.subscribe({ filters: () => [{ kinds: [38386], '#d': [disputeId] }], onEvent: (ev) => void after.push(ev as never) });
    await new Promise((r) => setTimeout(r, 300));
    sub2.close();
    expect(after).toHaveLength(1); // the relay replaced the initiated revision
    expect(after[0]!.tags).toContainEqual(['s', 'settled']);
  });
});

describe('payout failures', () => {
  it('retries every payment_retries_interval, then asks for a new invoice, pays that one, once', async () => {
    const seller = d.trader('seller-t5');
    const buyer = d.trader('buyer-t5');
    const { id, invoice: bad } = await fiatSentTrade(d, seller, buyer, 8_000);
    for (const a of ['waiting-seller-to-pay', 'hold-invoice-payment-accepted', 'fiat-sent-ok']) await buyer.next(1, a);

    d.net.failNextPayment();
    const rid = await seller.send(1, { action: 'release', id, tradeIndex: null });
    await buyer.next(1, 'released');
    expect(await buyer.next(1)).toMatchObject({
      action: 'payment-failed',
      request_id: rid,
      payload: { payment_failed: { payment_attempts: 2, payment_retries_interval: 60 } },
    });
    expect((await d.order(id))?.status).toBe('settled-hold-invoice');

    d.net.failNextPayment();
    await d.env.sleep('1 minute');
    await waitFor(() => d.net.payments.get(bad.hash)?.attempts === 2);
    d.net.failNextPayment();
    await d.env.sleep('1 minute');
    const ask = await buyer.next(1);
    // The last attempt was a retry, which the reference runs without the release's request id.
    expect(ask).toMatchObject({ action: 'add-invoice', request_id: null });
    expect(orderOf(ask)).toMatchObject({ status: 'settled-hold-invoice', amount: 7_976 });
    expect(d.net.payments.get(bad.hash)).toMatchObject({ attempts: 3, status: 'FAILED' });
    // Nothing more is tried with the old invoice, and support staff find the trade as needing attention.
    await d.env.sleep('10 minutes');
    expect(d.net.payments.get(bad.hash)!.attempts).toBe(3);
    const stuck: string[] = [];
    for await (const w of d.env.client.workflow.list({ query: 'MostroOrderStatus = "settled-hold-invoice" AND MostroNeedsAttention = true' })) {
      stuck.push(w.workflowId);
    }
    expect(stuck).toContain(`order-${id}`);

    const good = d.net.createInvoice({ node: 'buyer', valueSats: 7_976, expirySecs: 7200 });
    const rid2 = await buyer.send(1, { action: 'add-invoice', id, tradeIndex: null, payload: { payment_request: [null, good.request, null] } });
    expect(await buyer.next(1)).toMatchObject({ action: 'invoice-updated', request_id: rid2 });
    expect(await buyer.next(1)).toMatchObject({ action: 'purchase-completed' });
    expect(d.net.payments.get(good.hash)).toMatchObject({ status: 'SUCCEEDED', attempts: 1, valueSats: 7_976 });
    await d.waitForStatus(id, 'success');
    const described = await d.env.client.workflow.getHandle(`order-${id}`).describe();
    expect(described.searchAttributes.MostroNeedsAttention).toEqual([false]);
  });
});

/** A sell trade released with the buyer's payout held in flight by LND, and the daemon knowing it (its hash recorded). */
async function payoutHeldInFlight(tag: string) {
  const seller = d.trader(`seller-${tag}`);
  const buyer = d.trader(`buyer-${tag}`);
  const { id, invoice: a } = await fiatSentTrade(d, seller, buyer, 8_000);
  for (const m of ['waiting-seller-to-pay', 'hold-invoice-payment-accepted', 'fiat-sent-ok']) await buyer.next(1, m);
  d.net.holdNextPayment();
  await seller.send(1, { action: 'release', id, tradeIndex: null });
  await buyer.next(1, 'released');
  await waitFor(() => d.net.payments.get(a.hash)?.status === 'IN_FLIGHT');
  // The daemon has heard from LND that the payout is under way before it reads the buyer's next message.
  await waitUntil('the payout in flight', async () => (await d.order(id))?.payoutPaymentHash === a.hash);
  return { seller, buyer, id, a };
}

describe('a new invoice while the payout is in flight (issue 14: the buyer was paid twice)', () => {
  it('is refused while the first payout may still succeed; the buyer is paid once, by the first invoice', async () => {
    const { buyer, id, a } = await payoutHeldInFlight('t9');

    const b = d.net.createInvoice({ node: 'buyer', valueSats: 7_976, expirySecs: 7200 });
    const rid = await buyer.send(1, { action: 'add-invoice', id, tradeIndex: null, payload: { payment_request: [null, b.request, null] } });
    expect(await buyer.next(1)).toMatchObject({ action: 'cant-do', request_id: rid, payload: { cant_do: 'not_allowed_by_status' } });

    // The trade's payment tracker wakes it as soon as LND knows: no recheck interval passes.
    d.net.releaseHeld();
    expect(await buyer.next(1)).toMatchObject({ action: 'purchase-completed' });
    await d.waitForStatus(id, 'success');
    expect(d.net.payments.get(a.hash)).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
    expect(d.net.payments.has(b.hash)).toBe(false);
  });

  it('is accepted once LND has said the first payout failed, and only the new invoice is paid', async () => {
    const { buyer, id, a } = await payoutHeldInFlight('t10');
    d.net.releaseHeld('FAILURE_REASON_NO_ROUTE');
    await buyer.next(1, 'payment-failed');

    const b = d.net.createInvoice({ node: 'buyer', valueSats: 7_976, expirySecs: 7200 });
    const rid = await buyer.send(1, { action: 'add-invoice', id, tradeIndex: null, payload: { payment_request: [null, b.request, null] } });
    expect(await buyer.next(1)).toMatchObject({ action: 'invoice-updated', request_id: rid });
    expect(await buyer.next(1)).toMatchObject({ action: 'purchase-completed' });
    expect(d.net.payments.get(b.hash)).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
    expect(d.net.payments.get(a.hash)?.status).toBe('FAILED');
  });
});

describe('a payout held in flight', () => {
  it('does not hold up the trade: messages are answered meanwhile, and it completes the moment LND does', async () => {
    const { buyer, id, a } = await payoutHeldInFlight('t11');
    try {
      // The payment tracker follows it beside the trade (once the step that recorded the hash has committed); the
      // trade itself is idle, reading messages.
      const pending = async () => ((await d.env.client.workflow.getHandle(`order-${id}`).describe()).raw.pendingActivities ?? []).map((p) => p.activityType?.name);
      await expect.poll(pending, { timeout: 30_000 }).toEqual(['trackPayment']);
      const rid = await buyer.send(1, { action: 'fiat-sent', id, tradeIndex: null });
      expect(await buyer.next(1)).toMatchObject({ action: 'cant-do', request_id: rid });
    } finally {
      // A tracker left running would keep the test server from skipping time for the tests after this one.
      d.net.releaseHeld();
    }
    expect(await buyer.next(1)).toMatchObject({ action: 'purchase-completed' });
    await d.waitForStatus(id, 'success');
    expect(d.net.payments.get(a.hash)).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
    // Nothing keeps following a payment that is over.
    await waitUntil('the tracker gone', async () => ((await d.env.client.workflow.getHandle(`order-${id}`).describe()).raw.pendingActivities ?? []).length === 0);
  });
});

async function waitFor(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('after the workflow has closed', () => {
  it('a finished order is still answered as the reference does, from the orders projection', async () => {
    const seller = d.trader('seller-t6');
    const id = await openOrder(seller, 1, { kind: 'sell', amount: 3_000, fiatAmount: 3, fiatCode: 'USD' });
    await seller.send(1, { action: 'cancel', id, tradeIndex: null });
    await seller.next(1, 'canceled');
    // The workflow lingers an hour for late messages, then closes.
    await d.env.sleep('61 minutes');
    const handle = d.env.client.workflow.getHandle(`order-${id}`);
    expect((await handle.result()) as unknown).toEqual({ orderId: id, status: 'canceled' });
    await seller.send(1, { action: 'cancel', id, tradeIndex: null });
    expect(await seller.next(1)).toMatchObject({ action: 'cant-do', id, payload: { cant_do: 'order_already_canceled' } });
    const late = d.trader('late-t6');
    await late.send(1, { action: 'take-sell', id });
    expect(await late.next(1)).toMatchObject({ action: 'cant-do', id, payload: { cant_do: 'invalid_order_status' } });
    await late.send(2, { action: 'take-sell', id: '00000000-0000-4000-8000-00000000abcd' });
    expect(await late.next(2)).toMatchObject({ action: 'cant-do', payload: { cant_do: 'not_found' } });
  });
});
