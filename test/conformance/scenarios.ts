/**
 * The conformance scenarios: scripted traders (this project's client), the same script against each daemon. Every
 * step waits for the reply it needs, so that both transcripts are made in the same order; what a party received
 * beyond what the script waited for is in the transcript too (collected at the end).
 */
import type { Payload } from '@mostro/protocol';
import { holdInvoiceIn, type Transcript, type World } from '../helpers/conformance.js';

export interface Scenario {
  name: string;
  run(t: Transcript, w: World): Promise<void>;
}

const SATS = 20_000;
const sellOrder = (o: Partial<Record<string, unknown>> = {}) => ({
  order: { kind: 'sell', status: 'pending', amount: SATS, fiat_code: 'USD', fiat_amount: 10, payment_method: 'bank transfer', premium: 0, created_at: 0, ...o },
});
const buyOrder = (o: Partial<Record<string, unknown>> = {}) => sellOrder({ kind: 'buy', ...o });

function invoice(w: World, sats: number): string {
  return w.net.createInvoice({ node: 'buyer', valueSats: sats, memo: 'conformance payout', expirySecs: 7200 }).request;
}

/** The maker's new order; its id. */
async function make(t: Transcript, role: string, payload: unknown): Promise<string> {
  await t.send(role, 1, { action: 'new-order', payload: payload as Payload });
  const r = await t.next(role, 1, 'new-order');
  return r.id!;
}

/** The seller's escrow, paid from its wallet once the daemon asks for it; both told the trade is active. */
async function payEscrow(t: Transcript, w: World, seller: { role: string; index: number }, buyer: { role: string; index: number }): Promise<void> {
  for (;;) {
    const m = await t.next(seller.role, seller.index, 'pay-invoice');
    if (m.payload && 'payment_request' in m.payload) {
      w.net.pay('seller', holdInvoiceIn(m));
      break;
    }
  }
  await t.next(buyer.role, buyer.index, 'hold-invoice-payment-accepted');
  await t.next(seller.role, seller.index, 'buyer-took-order');
}

/** Fiat sent, release, payout, ratings. */
async function finish(t: Transcript, seller: { role: string; index: number }, buyer: { role: string; index: number }, id: string, releasePayload?: Payload): Promise<void> {
  await t.send(buyer.role, buyer.index, { action: 'fiat-sent', id });
  await t.next(buyer.role, buyer.index, 'fiat-sent-ok');
  await t.next(seller.role, seller.index, 'fiat-sent-ok');
  await t.send(seller.role, seller.index, { action: 'release', id, payload: releasePayload ?? null });
  await t.next(seller.role, seller.index, 'hold-invoice-payment-settled');
  await t.next(buyer.role, buyer.index, 'purchase-completed');
  await t.send(buyer.role, buyer.index, { action: 'rate-user', id, payload: { rating_user: 5 } as Payload });
  await t.next(buyer.role, buyer.index, 'rate-received');
  await t.send(seller.role, seller.index, { action: 'rate-user', id, payload: { rating_user: 4 } as Payload });
  await t.next(seller.role, seller.index, 'rate-received');
}

type Side = { role: string; index: number };
const SELLER: Side = { role: 'seller', index: 1 };
const BUYER: Side = { role: 'buyer', index: 1 };

/** A sell order taken by the buyer with its invoice given when asked, the escrow paid: an active trade. */
async function activeSell(t: Transcript, w: World): Promise<string> {
  const id = await make(t, 'seller', sellOrder());
  await t.send('buyer', 1, { action: 'take-sell', id });
  await t.next('buyer', 1, 'add-invoice');
  await t.send('buyer', 1, { action: 'add-invoice', id, payload: { payment_request: [null, invoice(w, SATS), null] } as Payload });
  await payEscrow(t, w, SELLER, BUYER);
  return id;
}

/** The buyer disputes an active trade after fiat-sent; the admin (the daemon's key) takes it. */
async function disputeTaken(t: Transcript, w: World): Promise<string> {
  const id = await activeSell(t, w);
  await t.send('buyer', 1, { action: 'fiat-sent', id });
  await t.next('buyer', 1, 'fiat-sent-ok');
  await t.next('seller', 1, 'fiat-sent-ok');
  await t.send('buyer', 1, { action: 'dispute', id });
  const opened = await t.next('buyer', 1, 'dispute-initiated-by-you');
  await t.next('seller', 1, 'dispute-initiated-by-peer');
  const disputeId = (opened.payload as { dispute: [string, unknown] }).dispute[0];
  await t.send('admin', 1, { action: 'admin-take-dispute', id: disputeId });
  await t.next('admin', 1, 'admin-took-dispute');
  await t.next('buyer', 1, 'admin-took-dispute');
  await t.next('seller', 1, 'admin-took-dispute');
  return id;
}

/** A taken dispute resolved by the admin with `action`: its answer, and what the party it favours hears. */
function disputeResolved(name: string, action: 'admin-settle' | 'admin-cancel', answer: string, told: { role: string; action: string }): Scenario {
  return {
    name,
    async run(t, w) {
      const id = await disputeTaken(t, w);
      await t.send('admin', 1, { action, id });
      await t.next('admin', 1, answer);
      await t.next(told.role, 1, told.action);
    },
  };
}

export const SCENARIOS: Scenario[] = [
  {
    name: 'sell',
    async run(t, w) {
      const id = await make(t, 'seller', sellOrder());
      await t.send('buyer', 1, { action: 'take-sell', id });
      await t.next('buyer', 1, 'add-invoice');
      await t.send('buyer', 1, { action: 'add-invoice', id, payload: { payment_request: [null, invoice(w, SATS), null] } as Payload });
      await payEscrow(t, w, { role: 'seller', index: 1 }, { role: 'buyer', index: 1 });
      await finish(t, { role: 'seller', index: 1 }, { role: 'buyer', index: 1 }, id);
    },
  },
  {
    name: 'buy',
    async run(t, w) {
      const id = await make(t, 'buyer', buyOrder({ buyer_invoice: invoice(w, SATS) }));
      await t.send('seller', 1, { action: 'take-buy', id });
      await payEscrow(t, w, { role: 'seller', index: 1 }, { role: 'buyer', index: 1 });
      await finish(t, { role: 'seller', index: 1 }, { role: 'buyer', index: 1 }, id);
    },
  },
  {
    name: 'cancel pending by the maker',
    async run(t) {
      const id = await make(t, 'seller', sellOrder());
      await t.send('seller', 1, { action: 'cancel', id });
      await t.next('seller', 1, 'canceled');
    },
  },
  {
    name: 'market price with a premium',
    async run(t, w) {
      const id = await make(t, 'seller', sellOrder({ amount: 0, premium: 2 }));
      await t.send('buyer', 1, { action: 'take-sell', id });
      const ask = await t.next('buyer', 1, 'add-invoice');
      const sats = (ask.payload as { order: { amount: number } }).order.amount;
      await t.send('buyer', 1, { action: 'add-invoice', id, payload: { payment_request: [null, invoice(w, sats), null] } as Payload });
      await payEscrow(t, w, SELLER, BUYER);
      await finish(t, SELLER, BUYER, id);
    },
  },
  {
    name: 'range order with a child order',
    async run(t, w) {
      const id = await make(t, 'seller', sellOrder({ amount: 0, fiat_amount: 0, min_amount: 10, max_amount: 30 }));
      await t.send('buyer', 1, { action: 'take-sell', id, payload: { amount: 12 } as Payload });
      const ask = await t.next('buyer', 1, 'add-invoice');
      const sats = (ask.payload as { order: { amount: number } }).order.amount;
      await t.send('buyer', 1, { action: 'add-invoice', id, payload: { payment_request: [null, invoice(w, sats), null] } as Payload });
      await payEscrow(t, w, SELLER, BUYER);
      // The seller names its next trade key for the remainder, as clients do when releasing a range order (and
      // listens on it before, as the child order's message may come at once).
      t.party('seller').listen(2);
      await finish(t, SELLER, BUYER, id, { next_trade: [t.party('seller').tradePubkey(2), 2] } as Payload);
      // The remainder (30 − 12 = 18 left: a 10–18 order) goes on as a new order on that key.
      await t.next('seller', 2, 'new-order');
    },
  },
  {
    name: 'the taker cancels before paying',
    async run(t) {
      const id = await make(t, 'seller', sellOrder());
      await t.send('buyer', 1, { action: 'take-sell', id });
      await t.next('buyer', 1, 'add-invoice');
      await t.send('buyer', 1, { action: 'cancel', id });
      await t.next('buyer', 1, 'canceled');
    },
  },
  {
    name: 'the maker cancels after the take',
    async run(t) {
      const id = await make(t, 'seller', sellOrder());
      await t.send('buyer', 1, { action: 'take-sell', id });
      await t.next('buyer', 1, 'add-invoice');
      await t.send('seller', 1, { action: 'cancel', id });
      await t.next('seller', 1, 'canceled');
      await t.next('buyer', 1, 'canceled');
    },
  },
  {
    name: 'cooperative cancel of an active trade',
    async run(t, w) {
      const id = await activeSell(t, w);
      await t.send('seller', 1, { action: 'cancel', id });
      await t.next('seller', 1, 'cooperative-cancel-initiated-by-you');
      await t.next('buyer', 1, 'cooperative-cancel-initiated-by-peer');
      await t.send('buyer', 1, { action: 'cancel', id });
      await t.next('buyer', 1, 'cooperative-cancel-accepted');
      await t.next('seller', 1, 'cooperative-cancel-accepted');
    },
  },
  disputeResolved('dispute settled by the admin', 'admin-settle', 'admin-settled', { role: 'buyer', action: 'purchase-completed' }),
  disputeResolved('dispute canceled by the admin', 'admin-cancel', 'admin-canceled', { role: 'seller', action: 'admin-canceled' }),
  {
    name: 'bad input',
    async run(t) {
      // A take of an order that does not exist; a new order below the minimum; a release of nothing.
      await t.send('buyer', 1, { action: 'take-sell', id: '2b4e8c7a-9f0d-4e3b-8a1c-5d6e7f809a1b' });
      await t.next('buyer', 1, 'cant-do');
      await t.send('seller', 1, { action: 'new-order', payload: sellOrder({ amount: 10 }) as unknown as Payload });
      await t.next('seller', 1, 'cant-do');
      await t.send('seller', 2, { action: 'new-order', payload: sellOrder({ fiat_code: 'XXX', amount: 0 }) as unknown as Payload });
      await t.next('seller', 2, 'cant-do');
    },
  },
];
