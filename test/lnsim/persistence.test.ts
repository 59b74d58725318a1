/**
 * The simulated network keeps its whole state in its directory, as an LND node keeps its database: closed (or killed)
 * and started again on the same directory, it reports through LND's API exactly what it reported before — every
 * invoice in every state, every payment in every status, the block height, the next-payment control flag — and goes
 * on from there: an accepted hold invoice can still be settled or canceled, a payment in flight still completes, CLTV
 * expiry still cancels. A record torn by a crash mid-write is dropped with a warning; the rest loads.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ln from 'lightning';
import { afterAll, describe, expect, it } from 'vitest';
import { startLnsim, type Lnsim, FileJournal, SimNetwork } from '@mostro/lnsim';
import type { Logger } from '../../src/log.js';
import { spawnTs } from '../../support/process.js';

const tmpDir = (name: string) => fs.mkdtempSync(path.join(os.tmpdir(), `lnsim-${name}-`));
const sha = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

/** A logger that keeps what it is told (the warnings are part of the behaviour under test). */
function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const keep = (msg: string) => void lines.push(msg);
  return { lines, debug: keep, info: keep, warn: keep, error: keep };
}

const running: Lnsim[] = [];
afterAll(async () => {
  await Promise.allSettled(running.map((s) => s.close()));
});
async function open(dir: string, o: { wallets?: string[]; log?: Logger } = {}): Promise<{ sim: Lnsim; lnd: ln.AuthenticatedLnd }> {
  const sim = await startLnsim({ dir, wallets: o.wallets, log: o.log ?? recordingLogger() });
  running.push(sim);
  return { sim, lnd: ln.authenticatedLndGrpc(sim.credentials).lnd };
}
async function close(sim: Lnsim): Promise<void> {
  await sim.close();
  running.splice(running.indexOf(sim), 1);
}

async function control(sim: Lnsim, route: string): Promise<unknown> {
  const res = await fetch(`${sim.controlUrl}${route}`);
  return { status: res.status, body: await res.json() };
}

/** Everything the daemon's LND client and a wallet user can read about these invoices and payments. */
async function report(sim: Lnsim, lnd: ln.AuthenticatedLnd, hashes: { invoices: string[]; payments: string[]; daemonPayments: string[] }) {
  const info = await ln.getWalletInfo({ lnd });
  const state = (await control(sim, '/state')) as { body: Record<string, unknown> };
  return {
    height: info.current_block_height,
    pubkey: info.public_key,
    listedInvoices: (await ln.getInvoices({ lnd })).invoices,
    invoices: await Promise.all(hashes.invoices.map((id) => ln.getInvoice({ lnd, id }))),
    listedPayments: (await ln.getPayments({ lnd })).payments,
    payments: await Promise.all(hashes.daemonPayments.map((id) => ln.getPayment({ lnd, id }))),
    wallets: {
      state: state.body,
      invoices: await Promise.all([...hashes.invoices, ...hashes.payments].map((h) => control(sim, `/invoices/${h}`))),
      payments: await Promise.all(hashes.payments.map((h) => control(sim, `/payments/${h}`))),
    },
  };
}

describe('the simulated network across restarts', () => {
  const dir = tmpDir('restart');
  let sim: Lnsim;
  let lnd: ln.AuthenticatedLnd;
  const made = {} as Record<'open' | 'accepted' | 'toCancel' | 'settled' | 'canceled' | 'expiring', { id: string; secret: Buffer; request: string }> &
    Record<'plainOpen' | 'plainPaid' | 'paidOut' | 'failed' | 'retried' | 'inFlight', { id: string; request: string }>;
  let hashes: { invoices: string[]; payments: string[]; daemonPayments: string[] };
  let before: Awaited<ReturnType<typeof report>>;

  const hold = async (tokens: number, cltv_delta = 144) => {
    const secret = crypto.randomBytes(32);
    const id = sha(secret);
    const { request } = await ln.createHodlInvoice({ lnd, id, tokens, cltv_delta, description: `escrow ${tokens}` });
    return { id, secret, request };
  };
  const walletInvoice = (sats: number) => {
    const inv = sim.net.createInvoice({ node: 'buyer', valueSats: sats, memo: `payout ${sats}` });
    return { id: inv.hash, request: inv.request };
  };

  it('reports the same invoices, payments, height and wallets after a restart', async () => {
    ({ sim, lnd } = await open(dir, { wallets: ['carol'] }));
    const net = sim.net;
    // Hold invoices in every state; the seller's payments to them in flight, succeeded or failed.
    made.open = await hold(1_000);
    made.accepted = await hold(2_000);
    net.pay('seller', made.accepted.request);
    made.toCancel = await hold(2_500);
    net.pay('seller', made.toCancel.request);
    made.settled = await hold(3_000);
    net.pay('seller', made.settled.request);
    await ln.settleHodlInvoice({ lnd, secret: made.settled.secret.toString('hex') });
    made.canceled = await hold(4_000);
    net.pay('seller', made.canceled.request);
    await ln.cancelHodlInvoice({ lnd, id: made.canceled.id });
    made.expiring = await hold(4_500, 40);
    net.pay('seller', made.expiring.request);
    // Plain invoices of the node: one open, one paid by a wallet.
    const plainOpen = await ln.createInvoice({ lnd, tokens: 500, description: 'open' });
    made.plainOpen = { id: plainOpen.id, request: plainOpen.request };
    const plainPaid = await ln.createInvoice({ lnd, tokens: 600, description: 'paid' });
    made.plainPaid = { id: plainPaid.id, request: plainPaid.request };
    net.pay('buyer', plainPaid.request);
    // The node's own payments: succeeded, failed, failed then retried, held in flight.
    made.paidOut = walletInvoice(7_000);
    await ln.pay({ lnd, request: made.paidOut.request });
    made.failed = walletInvoice(7_100);
    net.failNextPayment('FAILURE_REASON_NO_ROUTE');
    await expect(ln.pay({ lnd, request: made.failed.request })).rejects.toBeDefined();
    made.retried = walletInvoice(7_200);
    net.failNextPayment('FAILURE_REASON_TIMEOUT');
    await expect(ln.pay({ lnd, request: made.retried.request })).rejects.toBeDefined();
    await ln.pay({ lnd, request: made.retried.request });
    made.inFlight = walletInvoice(7_300);
    net.holdNextPayment();
    net.pay('mostro', made.inFlight.request);
    // A wallet created by --wallet, the chain moved on, and a failure armed for the next payment.
    const carol = net.createInvoice({ node: 'carol', valueSats: 900 });
    net.mine(10);
    net.failNextPayment('FAILURE_REASON_INSUFFICIENT_BALANCE');

    expect(net.payments.get(made.accepted.id)!.status).toBe('IN_FLIGHT');
    expect(net.payments.get(made.inFlight.id)!.status).toBe('IN_FLIGHT');
    expect(net.payments.get(made.retried.id)!.attempts).toBe(2);
    const holds = [made.open, made.accepted, made.toCancel, made.settled, made.canceled, made.expiring];
    hashes = {
      invoices: [...holds, made.plainOpen, made.plainPaid].map((i) => i.id),
      payments: [...holds.slice(1), made.plainPaid, made.paidOut, made.failed, made.retried, made.inFlight].map((i) => i.id).concat(carol.hash),
      daemonPayments: [made.paidOut, made.failed, made.retried, made.inFlight].map((i) => i.id),
    };
    before = await report(sim, lnd, hashes);
    expect(before.invoices.map((i) => [i.is_confirmed, i.is_held ?? false, i.is_canceled ?? false])).toEqual([
      [false, false, false],
      [false, true, false],
      [false, true, false],
      [true, false, false],
      [false, false, true],
      [false, true, false],
      [false, false, false],
      [true, false, false],
    ]);
    expect(before.payments.map((p) => [p.is_confirmed, p.is_failed, p.is_pending])).toEqual([
      [true, false, false],
      [false, true, false],
      [true, false, false],
      [false, false, true],
    ]);

    await close(sim);
    ({ sim, lnd } = await open(dir)); // no --wallet this time: carol comes back from the directory
    expect(await report(sim, lnd, hashes)).toEqual(before);
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    for (const f of fs.readdirSync(dir).filter((f) => f.endsWith('.json') || f.endsWith('.jsonl') || f.endsWith('.macaroon'))) {
      expect(fs.statSync(path.join(dir, f)).mode & 0o777, f).toBe(0o600);
    }
  }, 60_000);

  it('goes on from there: an accepted hold invoice is settled or canceled, a payment in flight completes, CLTV expiry cancels', async () => {
    // The invoice watcher's re-subscription: the first message is the current state, ACCEPTED with the HTLC held.
    const sub = ln.subscribeToInvoice({ lnd, id: made.accepted.id });
    const updates: ln.SubscribeToInvoiceInvoiceUpdatedEvent[] = [];
    sub.on('invoice_updated', (i: ln.SubscribeToInvoiceInvoiceUpdatedEvent) => void updates.push(i));
    await expect.poll(() => updates.length, { timeout: 10_000 }).toBeGreaterThan(0);
    expect(updates[0]).toMatchObject({ is_held: true, received: 2_000 });
    await ln.settleHodlInvoice({ lnd, secret: made.accepted.secret.toString('hex') });
    await expect.poll(() => updates.at(-1)?.is_confirmed, { timeout: 10_000 }).toBe(true);
    sub.removeAllListeners();
    expect(await control(sim, `/payments/${made.accepted.id}`)).toMatchObject({ body: { status: 'SUCCEEDED', attempts: 1 } });

    await ln.cancelHodlInvoice({ lnd, id: made.toCancel.id });
    expect(await control(sim, `/payments/${made.toCancel.id}`)).toMatchObject({ body: { status: 'FAILED', attempts: 1 } });

    // LND resumes tracking the payment it had in flight: TrackPaymentV2 follows it to its end.
    expect((await ln.getPayment({ lnd, id: made.inFlight.id })).is_pending).toBe(true);
    const track = ln.subscribeToPastPayment({ lnd, id: made.inFlight.id });
    const confirmed = new Promise<{ secret: string }>((resolve, reject) => {
      track.once('confirmed', resolve);
      track.once('error', reject);
    });
    sim.net.releaseHeld(); // before or after the stream starts: its first message is the current status

    expect((await confirmed).secret).toBe(sim.net.invoices.get(made.inFlight.id)!.preimage);
    expect(sim.net.payments.get(made.inFlight.id)).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });

    // The failure armed before the restart hits the next payment.
    const next = walletInvoice(100);
    await expect(ln.pay({ lnd, request: next.request })).rejects.toBeDefined();
    expect(sim.net.payments.get(next.id)).toMatchObject({ status: 'FAILED', failureReason: 'FAILURE_REASON_INSUFFICIENT_BALANCE' });

    // Accepted 10 blocks before the restart with a CLTV delta of 40: the HTLC expires at the 43rd block and LND gives
    // it back 12 blocks before, at the 31st; not before.
    expect((await ln.getWalletInfo({ lnd })).current_block_height).toBe(before.height);
    sim.net.mine(20);
    expect((await ln.getInvoice({ lnd, id: made.expiring.id })).is_held).toBe(true);
    sim.net.mine(1);
    expect((await ln.getInvoice({ lnd, id: made.expiring.id })).is_canceled).toBe(true);

    // …and all of this is kept too.
    const after = await report(sim, lnd, hashes);
    await close(sim);
    ({ sim, lnd } = await open(dir));
    expect(await report(sim, lnd, hashes)).toEqual(after);
    expect(after.height).toBe(before.height + 21);
  }, 60_000);

  it('refuses a second simulator on a directory in use', async () => {
    await expect(startLnsim({ dir, log: recordingLogger() })).rejects.toThrow(/in use by another simulated Lightning network/);
    // The running one was not disturbed.
    expect((await ln.getWalletInfo({ lnd })).current_block_height).toBe(before.height + 21);
  });
});

describe('a crash mid-write', () => {
  it('drops a torn last record with a warning and loads everything before it', async () => {
    const dir = tmpDir('torn');
    const { sim } = await open(dir);
    const kept = [1, 2, 3].map((n) => sim.net.createInvoice({ node: 'buyer', valueSats: n * 1000 }).hash);
    sim.net.mine(5);
    await close(sim);
    // What a crash in the middle of write() leaves (power lost, disk full): the first part of a record, no end of line.
    const journal = path.join(dir, 'network.jsonl');
    const lost = JSON.stringify({ invoices: [{ hash: 'ab'.repeat(32), state: 'OPEN' }] });
    fs.appendFileSync(journal, lost.slice(0, 40));

    const log = recordingLogger();
    const { sim: again, lnd } = await open(dir, { log });
    expect(log.lines).toEqual([expect.stringMatching(/network\.jsonl ended in a torn record \(40 bytes without an end of line.*\): ignored it and loaded the \d+ records before it/)]);
    expect([...again.net.invoices.keys()]).toEqual(kept);
    expect((await ln.getWalletInfo({ lnd })).current_block_height).toBe(800_005);
    // The torn bytes are gone: what is written next is read back cleanly.
    const more = again.net.createInvoice({ node: 'buyer', valueSats: 4000 }).hash;
    await close(again);
    const quiet = recordingLogger();
    const { sim: third } = await open(dir, { log: quiet });
    expect(quiet.lines).toEqual([]);
    expect([...third.net.invoices.keys()]).toEqual([...kept, more]);
    await close(third);
  }, 30_000);

  it('refuses a journal damaged before its last record, naming the line', async () => {
    const dir = tmpDir('damaged');
    const { sim } = await open(dir);
    for (const n of [1, 2, 3]) sim.net.createInvoice({ node: 'buyer', valueSats: n * 1000 });
    await close(sim);
    const journal = path.join(dir, 'network.jsonl');
    const lines = fs.readFileSync(journal, 'utf8').split('\n');
    lines[2] = lines[2]!.slice(0, 30);
    fs.writeFileSync(journal, lines.join('\n'));
    await expect(startLnsim({ dir, log: recordingLogger() })).rejects.toThrow(/network\.jsonl line 3 is not a valid record/);
  });
});

describe('the journal', () => {
  it('stays proportional to the live state (compaction) and loads back equal', async () => {
    const dir = tmpDir('compact');
    const net = new SimNetwork('regtest');
    for (const n of ['mostro', 'buyer']) net.addNode(n);
    const journal = await FileJournal.open(net, dir, recordingLogger(), { compactFactor: 1, compactSlack: 100 });
    for (let i = 0; i < 500; i++) {
      const inv = net.createInvoice({ node: 'buyer', valueSats: 1000 + i });
      net.pay('mostro', inv.request); // a payment record, the invoice settled: three records per round
    }
    const lines = fs.readFileSync(path.join(dir, 'network.jsonl'), 'utf8').trimEnd().split('\n');
    // 1,500 entries written; compaction keeps at most factor × live (1,000 entries) + slack.
    const entries = lines.slice(1).map((l) => JSON.parse(l) as { invoices?: unknown[]; payments?: unknown[] });
    const count = entries.reduce((n, r) => n + (r.invoices?.length ?? 0) + (r.payments?.length ?? 0), 0);
    expect(count).toBeLessThanOrEqual(1000 + 100);
    expect(count).toBeGreaterThanOrEqual(1000);
    await journal.close();

    const reopened = new SimNetwork('regtest');
    const again = await FileJournal.open(reopened, dir, recordingLogger());
    expect([...reopened.invoices.values()]).toEqual([...net.invoices.values()]);
    expect([...reopened.payments.values()]).toEqual([...net.payments.values()]);
    await again.close();
  });
});

describe('npm run lnsim -- serve', () => {
  it('keeps an accepted hold invoice and the payment in flight across a kill -9', async () => {
    const dir = tmpDir('serve');
    const serve = () => spawnTs('packages/lnsim/src/cli.ts', ['serve', '--dir', dir, '--grpc-port', '0', '--control-port', '0', '--lnurl-port', '0']);
    const cli = async (...args: string[]) => {
      const p = spawnTs('packages/lnsim/src/cli.ts', [...args, '--dir', dir]);
      expect(await p.exited, p.output()).toBe(0);
      return JSON.parse(p.output().slice(p.output().indexOf('{'))) as Record<string, unknown>;
    };
    const credentials = async (p: ReturnType<typeof serve>) =>
      ln.authenticatedLndGrpc({
        socket: await p.line('lnd-grpc', 30_000),
        cert: fs.readFileSync(await p.line('lnd-cert')).toString('base64'),
        macaroon: fs.readFileSync(await p.line('lnd-macaroon')).toString('hex'),
      }).lnd;

    const first = serve();
    await first.line('ready', 30_000);
    await expect(startLnsim({ dir, log: recordingLogger() })).rejects.toThrow(new RegExp(`in use by another simulated Lightning network \\(pid ${first.child.pid}\\)`));
    const lnd = await credentials(first);
    const secret = crypto.randomBytes(32);
    const id = sha(secret);
    const hold = await ln.createHodlInvoice({ lnd, id, tokens: 21_000, cltv_delta: 144 });
    expect(await cli('pay', hold.request)).toMatchObject({ status: 'IN_FLIGHT' });
    first.child.kill('SIGKILL');
    await first.exited;

    const second = serve();
    await second.line('ready', 30_000);
    const lnd2 = await credentials(second);
    try {
      expect(await ln.getInvoice({ lnd: lnd2, id })).toMatchObject({ is_held: true, received: 21_000 });
      await ln.settleHodlInvoice({ lnd: lnd2, secret: secret.toString('hex') });
      expect(await cli('payment', id)).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
      expect(await cli('invoice-status', id)).toMatchObject({ state: 'SETTLED' });
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
  }, 90_000);
});

describe('the directory lock', () => {
  // The lock is src/dir-lock.ts's, held by the kernel (test/e2e/start-lock.test.ts kills its holder and restarts at
  // once, with the killed process kept a zombie): here, only that a simulator holds its directory while open.
  it('refuses a second simulator on an open directory and lets the next one in once it is closed', async () => {
    const dir = tmpDir('lock');
    const { sim } = await open(dir);
    await expect(open(dir)).rejects.toThrow(/in use by another simulated Lightning network/);
    await close(sim);
    const again = await open(dir);
    await close(again.sim);
  });
});
