/**
 * `npm run demo [-- --data-dir DIR]`: a complete sell trade between two scripted traders against the running
 * daemon (`npm start`), over its relay, printing every message exchanged. The simulated Lightning network's wallets
 * play the money side: the buyer's wallet makes the payout invoice, the seller's wallet pays the escrow.
 * Finds the daemon through <data dir>/daemon.json, or --pubkey, --relay and --lnsim (control URL).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { nip19 } from 'nostr-tools';
import { MostroTrader, type Reply } from '../src/client/trader.js';
import { DAEMON_INFO_FILE, type DaemonInfo } from '../src/daemon/index.js';
import { RelayPool } from '../src/nostr/relay-pool.js';
import type { Action, Payload } from '@mostro/protocol';

const { values } = parseArgs({
  options: {
    'data-dir': { type: 'string', default: '.data' },
    // A daemon started some other way (worker and ingress processes, `npm run lnsim -- serve`): say where it is.
    pubkey: { type: 'string' },
    relay: { type: 'string', multiple: true },
    lnsim: { type: 'string' },
    sats: { type: 'string', default: '20000' },
    timeout: { type: 'string', default: '60' },
  },
});

function daemonInfo(): { pubkey: string; npub: string; relays: string[]; lnsim: string } {
  if (values.pubkey && values.relay && values.lnsim) {
    return { pubkey: values.pubkey, npub: nip19.npubEncode(values.pubkey), relays: values.relay, lnsim: values.lnsim };
  }
  const infoFile = path.join(path.resolve(values['data-dir']), DAEMON_INFO_FILE);
  if (!fs.existsSync(infoFile)) {
    console.error(`demo: no running daemon found (${infoFile} is missing). Start one first: npm start`);
    process.exit(2);
  }
  const info = JSON.parse(fs.readFileSync(infoFile, 'utf8')) as DaemonInfo;
  if (info.lightning.mode !== 'simulated' || !info.lightning.lnsimControl) {
    console.error('demo: the daemon runs against a real LND node; the demo only plays trades on the simulated network');
    process.exit(2);
  }
  return { pubkey: info.pubkey, npub: info.npub, relays: info.relays, lnsim: info.lightning.lnsimControl };
}
const info = daemonInfo();
const lnsim = info.lnsim;
const sats = Number(values.sats);
const timeoutMs = Number(values.timeout) * 1000;

async function wallet<T>(route: string, body: unknown): Promise<T> {
  const res = await fetch(`${lnsim}${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`lnsim ${route}: ${await res.text()}`);
  return (await res.json()) as T;
}

const short = (s: string) => (s.length > 60 ? `${s.slice(0, 57)}...` : s);
const show = (who: string, dir: '->' | '<-', action: string, detail = '') => console.log(`${who.padEnd(7)} ${dir} ${action.padEnd(30)} ${detail}`);

async function main(): Promise<void> {
  const pool = new RelayPool(info.relays, { backoffMinMs: 100, backoffMaxMs: 1000 });
  const seller = new MostroTrader('seller', pool, info.pubkey);
  const buyer = new MostroTrader('buyer', pool, info.pubkey);
  seller.listen(1);
  buyer.listen(1);
  const send = async (t: MostroTrader, action: Action, f: { id?: string; payload?: Payload | null } = {}) => {
    await t.send(1, { action, ...f });
    show(t.name, '->', action, f.id ? `order ${f.id}` : '');
  };
  // Every reply is printed in arrival order; `expect` reads up to the one the trade waits for. With anti-abuse bonds
  // on, a `pay-bond-invoice` on the way is paid from the trader's wallet (the maker's on new-order, the taker's on take).
  const expect = async (t: MostroTrader, action: string, payloadKey?: string): Promise<Reply> => {
    for (;;) {
      const r = await t.next(1, undefined, timeoutMs);
      show(t.name, '<-', r.action, short(r.json));
      if (r.action === action && (!payloadKey || (r.payload !== null && payloadKey in r.payload))) return r;
      if (r.action === 'cant-do') throw new Error(`the daemon refused: ${r.json}`);
      if (r.action === 'pay-bond-invoice') {
        const bond = (r.payload as { payment_request: [unknown, string, unknown] }).payment_request[1];
        void wallet('/pay', { request: bond, from: t.name }).catch((err: unknown) => console.error(`demo: the ${t.name}'s bond payment failed: ${String(err)}`));
        console.log(`        (${t.name}'s wallet locks the anti-abuse bond)`);
      }
    }
  };
  try {
    console.log(`Mostro ${info.npub} on ${info.relays.join(', ')}: a sell order for ${sats} sats\n`);
    await send(seller, 'new-order', {
      payload: {
        order: {
          kind: 'sell',
          status: 'pending',
          amount: sats,
          fiat_code: 'USD',
          min_amount: null,
          max_amount: null,
          fiat_amount: Math.max(1, Math.round(sats / 1000)),
          payment_method: 'bank transfer',
          premium: 0,
          created_at: 0,
          expires_at: null,
        },
      } as Payload,
    });
    const created = await expect(seller, 'new-order');
    const id = created.id!;

    await send(buyer, 'take-sell', { id });
    const askInvoice = await expect(buyer, 'add-invoice');
    const net = (askInvoice.payload as { order: { amount: number } }).order.amount;
    // Comfortably longer than the daemon's minimum remaining lifetime for payout invoices (an hour by default).
    const invoice = await wallet<{ request: string }>('/invoice', { sats: net, node: 'buyer', memo: `payout ${id}`, expiry_secs: 7200 });
    console.log(`        (buyer's wallet made an invoice for ${net} sats)`);
    await send(buyer, 'add-invoice', { id, payload: { payment_request: [null, invoice.request, null] } as Payload });
    await expect(buyer, 'waiting-seller-to-pay');

    // The first pay-invoice introduces the buyer (its reputation); the second carries the hold invoice.
    const pay = await expect(seller, 'pay-invoice', 'payment_request');
    const hold = (pay.payload as { payment_request: [unknown, string, unknown] }).payment_request[1];
    void wallet('/pay', { request: hold, from: 'seller' }).catch((err: unknown) => console.error(`demo: the seller's payment failed: ${String(err)}`));
    console.log("        (seller's wallet pays the escrow hold invoice)");
    await expect(seller, 'buyer-took-order');
    await expect(buyer, 'hold-invoice-payment-accepted');

    await send(buyer, 'fiat-sent', { id });
    await expect(buyer, 'fiat-sent-ok');
    await expect(seller, 'fiat-sent-ok');

    await send(seller, 'release', { id });
    await expect(seller, 'hold-invoice-payment-settled');
    await expect(buyer, 'purchase-completed');
    await expect(buyer, 'rate');
    await expect(seller, 'rate');
    console.log(`\nTrade ${id} completed: the buyer's wallet was paid ${net} sats.`);
  } finally {
    seller.close();
    buyer.close();
    pool.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`demo: ${(err as Error).message}`);
    process.exit(1);
  },
);
