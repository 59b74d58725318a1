/**
 * The simulator as a person uses it: `npm run lnsim -- serve` in one terminal, wallet commands in another, and the
 * daemon's side through the real `lightning` client with the credentials `serve` wrote (tls.cert, admin.macaroon).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ln from 'lightning';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnTs, type Spawned } from '../../support/process.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lnsim-cli-'));
let serve: Spawned;
let lnd: ln.AuthenticatedLnd;
let control: string;

async function cli(...args: string[]): Promise<{ code: number | null; out: string }> {
  const p = spawnTs('packages/lnsim/src/cli.ts', [...args, '--dir', dir]);
  const code = await p.exited;
  return { code, out: p.output() };
}
const json = (out: string) => JSON.parse(out.slice(out.indexOf('{'))) as Record<string, unknown>;

beforeAll(async () => {
  serve = spawnTs('packages/lnsim/src/cli.ts', ['serve', '--dir', dir, '--grpc-port', '0', '--control-port', '0', '--lnurl-port', '0', '--wallet', 'carol']);
  await serve.line('ready', 30_000);
  control = await serve.line('control');
  lnd = ln.authenticatedLndGrpc({
    socket: await serve.line('lnd-grpc'),
    cert: fs.readFileSync(await serve.line('lnd-cert')).toString('base64'),
    macaroon: fs.readFileSync(await serve.line('lnd-macaroon')).toString('hex'),
  }).lnd;
}, 40_000);

afterAll(async () => {
  serve?.child.kill('SIGTERM');
  await serve?.exited;
});

describe('npm run lnsim', () => {
  it('serves the daemon node with the credentials it wrote, and names the wallets’ Lightning Addresses', async () => {
    const info = await ln.getWalletInfo({ lnd });
    expect(info.public_key).toBe(await serve.line('node-pubkey'));
    expect(await serve.line('address-carol')).toMatch(/^carol@127\.0\.0\.1:\d+$/);
    expect(json((await cli('state')).out)).toMatchObject({ network: 'regtest', nodes: expect.arrayContaining([expect.objectContaining({ alias: 'carol' })]) });
  });

  it('a seller pays the escrow hold invoice from the command line; the node sees it held', async () => {
    const preimage = crypto.randomBytes(32);
    const id = crypto.createHash('sha256').update(preimage).digest('hex');
    const hold = await ln.createHodlInvoice({ lnd, id, tokens: 21_000, cltv_delta: 144 });
    const paid = await cli('pay', hold.request);
    expect(paid.code).toBe(0);
    expect(json(paid.out)).toMatchObject({ hash: id, from: 'seller', status: 'IN_FLIGHT', attempts: 1 });
    expect(await ln.getInvoice({ lnd, id })).toMatchObject({ is_held: true, received: 21_000 });
    await ln.settleHodlInvoice({ lnd, secret: preimage.toString('hex') });
    expect(json((await cli('payment', id)).out)).toMatchObject({ status: 'SUCCEEDED' });
    expect(json((await cli('invoice-status', id)).out)).toMatchObject({ state: 'SETTLED', hold: true });
  });

  it('a buyer makes a payout invoice; an injected failure makes the daemon’s payment fail once', async () => {
    const made = json((await cli('invoice', '5000', '--memo', 'payout')).out) as { request: string; hash: string };
    expect((await cli('fail-next-payment', 'FAILURE_REASON_NO_ROUTE')).code).toBe(0);
    await expect(ln.pay({ lnd, request: made.request })).rejects.toBeDefined();
    expect(json((await cli('payment', made.hash)).out)).toMatchObject({ status: 'FAILED', failure_reason: 'FAILURE_REASON_NO_ROUTE', attempts: 1 });
    await ln.pay({ lnd, request: made.request });
    expect(json((await cli('payment', made.hash)).out)).toMatchObject({ status: 'SUCCEEDED', attempts: 2 });
  });

  it('mining past the CLTV horizon cancels an accepted hold invoice', async () => {
    const id = crypto.createHash('sha256').update(crypto.randomBytes(32)).digest('hex');
    const hold = await ln.createHodlInvoice({ lnd, id, tokens: 1_000, cltv_delta: 20 });
    await cli('pay', hold.request);
    const before = (await ln.getWalletInfo({ lnd })).current_block_height;
    expect(json((await cli('mine', '30')).out)).toEqual({ height: before + 30 });
    expect(await ln.getInvoice({ lnd, id })).toMatchObject({ is_canceled: true });
  });

  it('answers bad input with the field at fault', async () => {
    const bad = await cli('invoice', 'lots');
    expect(bad.code).toBe(2);
    expect(bad.out).toMatch(/amount must be a whole number, got 'lots'/);
    const res = await fetch(`${control}/invoice`, { method: 'POST', body: JSON.stringify({ sats: -1, colour: 'red' }) });
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as { error: string };
    expect(error).toMatch(/sats/);
    expect(error).toMatch(/colour/);
    const garbage = await cli('pay', 'lnbcrt1garbage');
    expect(garbage.code).toBe(2);
    expect(garbage.out).toMatch(/request: not a BOLT11 invoice/);
  });
});
