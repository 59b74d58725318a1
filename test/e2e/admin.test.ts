/**
 * Support tooling against a running daemon: `mostro admin stuck` finds a payout in retry, then one that failed every
 * attempt, and disputes left open; `show` reads a trade; `signal … retry-payout` repairs the payout once the cause is
 * fixed — the buyer is paid once, and the request is in the trade's history.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { nip19 } from 'nostr-tools';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAdmin } from '../../src/admin/cli.js';
import { findStuckTrades, type StuckTrade } from '../../src/admin/support.js';
import { TestDaemon, fiatSentTrade, lockedSellTrade } from '../helpers/daemon.js';

let d: TestDaemon;
let config: string;
beforeAll(async () => {
  d = await TestDaemon.start({ settings: { paymentAttempts: 2 } });
  config = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mostro-admin-')), 'settings.toml');
  fs.writeFileSync(config, `[temporal]\naddress = "${d.env.address}"\nnamespace = "${d.env.namespace}"\ntask_queue = "${d.taskQueue}"\n`);
});
afterAll(async () => {
  await d?.close();
});

async function admin(...args: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const code = await runAdmin([...args, '--config', config], (l) => lines.push(l));
  return { code, out: lines.join('\n') };
}

async function settledUnpaid(name: string, sats: number) {
  const seller = d.trader(`seller-${name}`);
  const buyer = d.trader(`buyer-${name}`);
  const trade = await fiatSentTrade(d, seller, buyer, sats);
  d.net.failNextPayment();
  await seller.send(1, { action: 'release', id: trade.id, tradeIndex: null });
  await buyer.next(1, 'payment-failed');
  return { ...trade, seller, buyer };
}

describe('mostro admin', () => {
  it('lists payouts in retry, then failed ones; show reads the trade; retry-payout pays the buyer once', async () => {
    const { id, invoice, buyer } = await settledUnpaid('a1', 6_000);
    const stuck1 = JSON.parse((await admin('stuck', '--json')).out) as StuckTrade[];
    expect(stuck1.filter((s) => s.orderId === id)).toEqual([
      expect.objectContaining({ problem: 'payout-pending', status: 'settled-hold-invoice', since: expect.stringMatching(/^\d{4}-/) }),
    ]);

    // The retry a minute later fails too: every attempt is spent, the buyer is asked for a new invoice.
    d.net.failNextPayment();
    await d.env.sleep('1 minute');
    await buyer.next(1, 'add-invoice');
    const human = await admin('stuck');
    expect(human.code).toBe(0);
    expect(human.out).toMatch(new RegExp(`^${id}  payout-failed .*settled-hold-invoice`, 'm'));
    expect(human.out).not.toMatch(new RegExp(`^${id}  payout-pending`, 'm'));

    const shown = await admin('show', id);
    expect(shown.out).toContain(`workflow: order-${id}`);
    expect(shown.out).toContain('status: settled-hold-invoice');
    expect(shown.out).toContain('payout: attempts 2 (failing)');
    expect(shown.out).toMatch(new RegExp(`^web-ui: /namespaces/${d.env.namespace}/workflows/order-${id}/[0-9a-f-]+/history$`, 'm'));

    // The operator fixed the route: a repair request pays the invoice the buyer already gave.
    expect(d.net.payments.get(invoice.hash)).toMatchObject({ status: 'FAILED', attempts: 2 });
    const sent = await admin('signal', id, 'retry-payout', '--reason', 'channel rebalanced', '--operator', 'alice');
    expect(sent).toEqual({ code: 0, out: `sent retry-payout to order ${id}` });
    expect(await buyer.next(1, 'purchase-completed')).toMatchObject({ action: 'purchase-completed' });
    await d.waitForStatus(id, 'success');
    expect(d.net.payments.get(invoice.hash)).toMatchObject({ status: 'SUCCEEDED', attempts: 3 });
    expect((await admin('stuck', '--json')).out).not.toContain(id);

    // The request and who sent it are part of the trade's history.
    const history = await d.env.client.workflow.getHandle(`order-${id}`).fetchHistory();
    const signal = history.events!.find((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'support');
    expect(Buffer.from(signal!.workflowExecutionSignaledEventAttributes!.input!.payloads![0]!.data!).toString()).toBe(
      '{"action":"retry-payout","operator":"alice","reason":"channel rebalanced"}',
    );

    // Asking again is refused with the reason, and changes nothing.
    expect(await admin('signal', id, 'retry-payout', '--reason', 'again')).toEqual({ code: 1, out: 'not sent: retry-payout does not apply to an order in status success' });
    expect(d.net.payments.get(invoice.hash)!.attempts).toBe(3);
  });

  it('finds disputes open longer than asked, by the time the trade entered the dispute', async () => {
    const seller = d.trader('seller-a2');
    const buyer = d.trader('buyer-a2');
    const { id } = await fiatSentTrade(d, seller, buyer, 5_000);
    await d.env.sleep('20 hours'); // the escrow guard opens a dispute for the buyer
    await buyer.next(1, 'dispute-initiated-by-you');
    await d.env.sleep('3 hours');
    const now = await d.env.currentTimeMs();
    const open = (hours: number) => findStuckTrades(d.env.plainClient, { disputeHours: hours, now }).then((l) => l.filter((s) => s.orderId === id));
    expect(await open(2)).toEqual([expect.objectContaining({ problem: 'dispute-open', status: 'dispute', detail: expect.stringMatching(/^dispute open for 3\.\d h$/) })]);
    expect(await open(4)).toEqual([]);
  });

  it('cancel-with-refund ends a trade with a locked escrow: the seller keeps the sats, both parties are told', async () => {
    const seller = d.trader('seller-a3');
    const buyer = d.trader('buyer-a3');
    const { id, holdRequest } = await lockedSellTrade(d, seller, buyer, 3_000);
    await d.waitForStatus(id, 'active');
    const sent = await admin('signal', id, 'cancel-with-refund', '--reason', 'buyer reported fraud, seller refunded per policy');
    expect(sent).toEqual({ code: 0, out: `sent cancel-with-refund to order ${id}` });
    for (const party of [seller, buyer]) {
      expect((await party.next(1, 'admin-canceled')).json).toBe(`{"order":{"version":2,"request_id":null,"trade_index":null,"id":"${id}","action":"admin-canceled","payload":null}}`);
    }
    await d.waitForStatus(id, 'canceled-by-admin');
    expect([...d.net.invoices.values()].find((i) => i.request === holdRequest)!.state).toBe('CANCELED');
    // Once over, it no longer applies.
    expect(await admin('signal', id, 'cancel-with-refund', '--reason', 'again')).toEqual({ code: 1, out: 'not sent: cancel-with-refund does not apply to an order in status canceled-by-admin' });
  });

  it('answers bad requests with what is wrong', async () => {
    await expect(admin('signal', 'nope', 'reboot', '--reason', 'x')).rejects.toThrow('unknown request "reboot" (one of retry-payout, retry-dev-fee, republish, cancel-with-refund)');
    await expect(admin('signal', 'nope', 'retry-payout')).rejects.toThrow('signal needs --reason');
    await expect(admin('show')).rejects.toThrow('show needs an order id');
    await expect(admin('stuck', '--dispute-hours', 'soon')).rejects.toThrow('--dispute-hours must be a non-negative number, got "soon"');
    await expect(admin('show', '00000000-0000-4000-8000-000000000000')).rejects.toThrow(/not found/i);
  });

  it('add-solver appoints a solver through the admin\'s Nostr message; a bad key is a usage error', async () => {
    const withKey = path.join(path.dirname(config), 'admin-key.toml');
    fs.writeFileSync(withKey, `${fs.readFileSync(config, 'utf8')}[nostr]\nnsec_privkey = "${d.workerConfig.mostroSecretHex}"\nrelays = ["${d.relay.url}"]\n[mostro]\ntransport = "${d.transport}"\n`);
    const solver = d.trader('cli-solver');
    const npub = nip19.npubEncode(solver.identity);
    const lines: string[] = [];
    expect(await runAdmin(['add-solver', `${npub}:read`, '--config', withKey], (l) => lines.push(l))).toBe(0);
    expect(lines).toEqual([`solver ${npub}:read appointed`]);
    expect(await d.db.prisma.user.findUniqueOrThrow({ where: { pubkey: solver.identity } })).toMatchObject({ isSolver: true, category: 1 });
    expect(await runAdmin(['add-solver', npub, '--config', withKey], () => {})).toBe(0);
    expect((await d.db.prisma.user.findUniqueOrThrow({ where: { pubkey: solver.identity } })).category).toBe(2);
    await expect(runAdmin(['add-solver', 'npub1notakey', '--config', withKey], () => {})).rejects.toThrow(/not a solver key/);
    // Without the daemon's key there is nothing to sign with (and none is created).
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'mostro-admin-nokey-'));
    await expect(runAdmin(['add-solver', npub, '--config', config, '--data-dir', empty], () => {})).rejects.toThrow(/no daemon key/);
    expect(fs.readdirSync(empty)).toEqual([]);
  });
});
