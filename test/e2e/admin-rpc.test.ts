/**
 * mostrod's admin gRPC service (issue 17): a client generated from the reference's proto/admin.proto calls each RPC;
 * each acts exactly as the same action the admin sends over Nostr — taken disputes, settles that pay the buyer once,
 * cancels that return the escrow — and reports refusals as the reference does (`success: false` and the reason).
 */
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { nip19 } from 'nostr-tools';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdminRpc, type RunningAdminRpc } from '../../src/rpc/admin-service.js';
import { TestDaemon, disputedTrade } from '../helpers/daemon.js';

type Unary = (req: object, cb: (err: grpc.ServiceError | null, res: Record<string, unknown>) => void) => void;

let d: TestDaemon;
let rpc: RunningAdminRpc;
let client: grpc.Client & Record<string, Unary>;
beforeAll(async () => {
  d = await TestDaemon.start();
  rpc = await startAdminRpc({ host: '127.0.0.1', port: 0, ingress: d.ingress.nostr, client: d.env.client, db: d.db.prisma, version: '9.8.7', log: { info: () => {}, warn: () => {} } });
  const def = protoLoader.loadSync(path.resolve(import.meta.dirname, '../../proto/admin.proto'), { keepCase: true, defaults: true });
  const Service = (grpc.loadPackageDefinition(def) as unknown as { mostro: { admin: { v1: { AdminService: grpc.ServiceClientConstructor } } } }).mostro.admin.v1.AdminService;
  client = new Service(`127.0.0.1:${rpc.port}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & Record<string, Unary>;
});
afterAll(async () => {
  client?.close();
  await rpc?.close();
  await d?.close();
});

const call = (method: string, req: object) =>
  new Promise<Record<string, unknown>>((resolve, reject) => client[method]!.call(client, req, (err, res) => (err ? reject(err) : resolve(res))));

describe('mostro.admin.v1.AdminService', () => {
  it('GetVersion and ValidateDbPassword (accepted, as mostrod does since it dropped database encryption)', async () => {
    expect(await call('GetVersion', {})).toEqual({ version: '9.8.7' });
    expect(await call('ValidateDbPassword', { password: 'anything' })).toMatchObject({ success: true });
  });

  it('AddSolver appoints a solver; a malformed npub is refused with the reason', async () => {
    const solver = d.trader('rpc-solver');
    expect(await call('AddSolver', { solver_pubkey: `${nip19.npubEncode(solver.identity)}:read` })).toMatchObject({ success: true });
    expect(await d.db.prisma.user.findUniqueOrThrow({ where: { pubkey: solver.identity } })).toMatchObject({ isSolver: true, category: 1 });
    expect(await call('AddSolver', { solver_pubkey: 'npub1notakey' })).toEqual({
      success: false,
      error_message: 'Admin add solver failed: Sending cantDo message to user for InvalidTextMessage',
    });
  });

  it('TakeDispute then SettleOrder: the buyer is paid once; the rate invitation echoes the request id', async () => {
    const { id, invoice, seller, buyer, disputeId } = await disputedTrade(d, 'rpc1', 'buyer', 8_000);
    // Not taken by the admin yet: refused, nothing moves.
    expect(await call('SettleOrder', { order_id: id, request_id: '41' })).toEqual({
      success: false,
      error_message: 'Admin settle failed: Sending cantDo message to user for IsNotYourDispute',
    });
    expect(await call('TakeDispute', { dispute_id: disputeId })).toMatchObject({ success: true });
    for (const party of [buyer, seller]) {
      expect(await party.next(1, 'admin-took-dispute')).toMatchObject({ payload: { peer: { pubkey: d.mostroPubkey, reputation: null } } });
    }
    expect(await call('SettleOrder', { order_id: id, request_id: '42' })).toMatchObject({ success: true });
    await seller.next(1, 'admin-settled');
    await buyer.next(1, 'admin-settled');
    await buyer.next(1, 'purchase-completed');
    expect(await buyer.next(1, 'rate')).toMatchObject({ request_id: 42, id });
    await d.waitForStatus(id, 'success');
    expect(d.net.payments.get(invoice.hash)).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
    // Settling again is refused by status; the buyer is not paid twice.
    expect(await call('SettleOrder', { order_id: id })).toMatchObject({ success: false });
    expect(d.net.payments.get(invoice.hash)!.attempts).toBe(1);
  });

  it('CancelOrder after taking the dispute returns the escrow to the seller', async () => {
    const { id, seller, buyer, disputeId } = await disputedTrade(d, 'rpc2', 'seller', 6_000);
    expect(await call('TakeDispute', { dispute_id: disputeId, request_id: 'not-a-number' })).toMatchObject({ success: true });
    expect(await call('CancelOrder', { order_id: id })).toMatchObject({ success: true });
    await seller.next(1, 'admin-canceled');
    await buyer.next(1, 'admin-canceled');
    await d.waitForStatus(id, 'canceled-by-admin');
    const hold = (await d.order(id))!.hash as string;
    expect([...d.net.invoices.values()].find((i) => i.hash === hold)?.state).toBe('CANCELED');
  });

  it('an unknown order or dispute, and ids that are not UUIDs, are refused without an error status', async () => {
    expect(await call('CancelOrder', { order_id: '00000000-0000-4000-8000-000000000000' })).toEqual({
      success: false,
      error_message: 'Admin cancel failed: Sending cantDo message to user for NotFound',
    });
    expect(await call('TakeDispute', { dispute_id: '00000000-0000-4000-8000-000000000000' })).toMatchObject({ success: false });
    expect(await call('SettleOrder', { order_id: 'nope' })).toEqual({ success: false, error_message: 'Admin settle failed: order_id is not a UUID' });
  });

  it('with [rpc] auth_token: a mutating call without the bearer token is denied, with it allowed; GetVersion needs none', async () => {
    const guarded = await startAdminRpc({ host: '127.0.0.1', port: 0, ingress: d.ingress.nostr, client: d.env.client, db: d.db.prisma, version: '9.8.7', log: { info: () => {}, warn: () => {} }, authToken: 's3cret-token' });
    const Service = client.constructor as unknown as new (address: string, creds: grpc.ChannelCredentials) => grpc.Client & Record<string, (req: object, md: grpc.Metadata, cb: (err: grpc.ServiceError | null, res: Record<string, unknown>) => void) => void>;
    const c = new Service(`127.0.0.1:${guarded.port}`, grpc.credentials.createInsecure());
    const withToken = (token: string | null) => {
      const md = new grpc.Metadata();
      if (token !== null) md.set('authorization', `Bearer ${token}`);
      return md;
    };
    const callWith = (method: string, req: object, md: grpc.Metadata) =>
      new Promise<Record<string, unknown>>((resolve, reject) => c[method]!.call(c, req, md, (err, res) => (err ? reject(err) : resolve(res))));
    try {
      const solver = d.trader('rpc-token-solver');
      const req = { solver_pubkey: nip19.npubEncode(solver.identity) };
      for (const md of [withToken(null), withToken('wrong')]) {
        await expect(callWith('AddSolver', req, md)).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED, details: 'missing or invalid authorization bearer token' });
      }
      expect(await d.db.prisma.user.findUnique({ where: { pubkey: solver.identity } })).toBeNull();
      expect(await callWith('AddSolver', req, withToken('s3cret-token'))).toMatchObject({ success: true });
      expect(await callWith('GetVersion', {}, withToken(null))).toEqual({ version: '9.8.7' });
    } finally {
      c.close();
      await guarded.close();
    }
  });
});
