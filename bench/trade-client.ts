/**
 * The benchmarks' light Mostro client: one relay subscription for every reply from the daemon, routed to the party it
 * is for, and the complete sell trade both trade benchmarks drive (bench/trades.ts, bench/vs-mostrod.ts), each step
 * timed from the client's event published to the reply received.
 */
import { generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import type { SimNetwork } from '@mostro/lnsim';
import { message, unwrapKind, unwrapMessage, wrapMessage, type NostrEvent } from '@mostro/protocol';
import type { RelayPool } from '../src/nostr/relay-pool.js';

export interface Party {
  sk: Uint8Array;
  pk: string;
  inbox: { action: string; kind: Record<string, unknown> }[];
  wake?: () => void;
}

export interface TradeClientOptions {
  pool: RelayPool;
  mostroPubkey: string;
  net: SimNetwork;
  /** The daemon's fee (the buyer's invoice is for the amount less half of it). */
  fee: number;
  /** More context for a reply that never came (a daemon's output). */
  describe?: () => string;
}

export class TradeClient {
  readonly parties = new Map<string, Party>();
  /** Each step's latencies (ms) since the last `resetSteps()`. */
  steps: Record<string, number[]> = {};

  constructor(private readonly o: TradeClientOptions) {
    o.pool.subscribe({
      filters: () => [{ kinds: [14], authors: [o.mostroPubkey], limit: 0 }],
      onEvent: (ev) => {
        const to = (ev as NostrEvent).tags.find((t) => t[0] === 'p')?.[1];
        const p = to ? this.parties.get(to) : undefined;
        if (!p) return;
        const r = unwrapMessage(ev as NostrEvent, p.sk, 'nip44');
        if (!r.ok) return;
        const { kind } = unwrapKind(r.value.message);
        p.inbox.push({ action: kind.action, kind: kind as never });
        p.wake?.();
      },
    });
  }

  /** A new party in full privacy (its trade key is its identity). */
  party(): Party {
    const sk = generateSecretKey();
    const p: Party = { sk, pk: getPublicKey(sk), inbox: [] };
    this.parties.set(p.pk, p);
    return p;
  }

  async next(p: Party, action: string, timeoutMs = 120_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = p.inbox.findIndex((m) => m.action === action);
      if (i >= 0) return p.inbox.splice(i, 1)[0]!.kind;
      if (Date.now() > deadline) throw new Error(`no ${action} (inbox: ${p.inbox.map((m) => m.action).join(',')})${this.o.describe ? `\n${this.o.describe()}` : ''}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 1000);
        p.wake = () => {
          clearTimeout(t);
          r();
        };
      });
    }
  }

  async send(p: Party, f: Parameters<typeof message>[0]): Promise<void> {
    const r = await this.o.pool.publish(wrapMessage({ transport: 'nip44', message: message(f), tradeKey: p.sk, receiver: this.o.mostroPubkey }));
    if (r.accepted.length === 0) throw new Error('relay refused');
  }

  resetSteps(): void {
    this.steps = {};
  }

  private async timed(step: string, fn: () => Promise<unknown>): Promise<void> {
    const t0 = performance.now();
    await fn();
    (this.steps[step] ??= []).push(performance.now() - t0);
  }

  /** A sell order of `amount` sats (fiat `fiatAmount` USD). */
  static sellOrder(amount: number, fiatAmount: number) {
    return { order: { kind: 'sell' as const, status: 'pending' as const, amount, fiat_code: 'USD', fiat_amount: fiatAmount, payment_method: 'bank transfer', premium: 0, created_at: 0, expires_at: null } };
  }

  /** A complete sell trade: new-order, take-sell with the buyer's invoice, the escrow paid, fiat-sent, release, payout. */
  async trade(amount: number, fiatAmount: number): Promise<void> {
    const seller = this.party();
    const buyer = this.party();
    let id = '';
    await this.timed('new-order → new-order', async () => {
      await this.send(seller, { action: 'new-order', payload: TradeClient.sellOrder(amount, fiatAmount) });
      id = String((await this.next(seller, 'new-order')).id);
    });
    const inv = this.o.net.createInvoice({ node: 'buyer', valueSats: amount - Math.round((this.o.fee * amount) / 2), expirySecs: 7200 });
    await this.timed('take-sell → waiting-seller-to-pay', async () => {
      await this.send(buyer, { action: 'take-sell', id, payload: { payment_request: [null, inv.request, null] } });
      await this.next(buyer, 'waiting-seller-to-pay');
    });
    const hold = ((await this.next(seller, 'pay-invoice')).payload as { payment_request: [unknown, string] }).payment_request[1];
    await this.timed('seller pays → buyer-took-order', async () => {
      this.o.net.pay('seller', hold);
      await this.next(seller, 'buyer-took-order');
    });
    await this.next(buyer, 'hold-invoice-payment-accepted');
    await this.timed('fiat-sent → fiat-sent-ok', async () => {
      await this.send(buyer, { action: 'fiat-sent', id });
      await this.next(buyer, 'fiat-sent-ok');
    });
    await this.next(seller, 'fiat-sent-ok');
    const t0 = performance.now();
    await this.timed('release → hold-invoice-payment-settled', async () => {
      await this.send(seller, { action: 'release', id });
      await this.next(seller, 'hold-invoice-payment-settled');
    });
    await this.next(buyer, 'purchase-completed');
    (this.steps['release → purchase-completed (payout)'] ??= []).push(performance.now() - t0);
    this.parties.delete(seller.pk);
    this.parties.delete(buyer.pk);
  }
}
