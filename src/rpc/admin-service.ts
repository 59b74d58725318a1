/**
 * mostrod's admin gRPC service (`mostro.admin.v1.AdminService`, proto/admin.proto), for the admin tools written
 * against it. Each call is the same action the admin would send over Nostr — signed by the daemon's own key — handled
 * by the same code: the ingress' handler, then, for an order, the order's workflow. As in the reference the answer is
 * `success` or `error_message` (the refusal's reason), never a gRPC error; there is no authentication, so it listens on
 * loopback unless `[rpc] listen_address` says otherwise.
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { Client } from '@temporalio/client';
import type { Db } from '../db/database.js';
import type { NostrIngress } from '../ingress/nostr.js';
import type { Logger } from '../log.js';
import { message, type Action, type Message } from '@mostro/protocol';
import { messageOutcomeQuery, orderWorkflowId } from '../workflows/order/contract.js';

const PROTO = fileURLToPath(new URL('../../proto/admin.proto', import.meta.url));

export interface AdminRpcOptions {
  host: string;
  port: number;
  ingress: Pick<NostrIngress, 'inject'>;
  client: Client;
  db: Db;
  version: string;
  log: Pick<Logger, 'info' | 'warn'>;
  /** How long to wait for an order's workflow to handle the action (default 60 s). */
  outcomeTimeoutMs?: number;
  /** `[rpc] auth_token`: the bearer token every mutating call must carry. */
  authToken?: string;
}

export interface RunningAdminRpc {
  /** The port it listens on (the one asked for, or the one given for 0). */
  port: number;
  close(): Promise<void>;
}

interface Outcome {
  success: boolean;
  error_message?: string;
}

/** mostro-core's `CantDoReason` as its Debug form prints it (`is_not_your_dispute` → `IsNotYourDispute`). */
const debugName = (reason: string) => reason.replace(/(^|_)([a-z])/g, (_m, _s: string, c: string) => c.toUpperCase());
const refused = (what: string, reason: string): Outcome => ({ success: false, error_message: `${what} failed: Sending cantDo message to user for ${debugName(reason)}` });

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
/** A UUID as the reference's `Uuid::parse_str` accepts it, in canonical form; null when it is not one. */
const uuidOf = (s: string): string | null => {
  if (!UUID.test(s)) return null;
  const h = s.replace(/-/g, '').toLowerCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};

/** The request id as the reference reads it: a decimal u64, else none (`CancelOrder`: else 1). */
function requestIdOf(text: string | undefined, fallback: bigint | null): bigint | null {
  if (text === undefined || text === null) return null;
  return /^\d{1,20}$/.test(text) && BigInt(text) < 2n ** 64n ? BigInt(text) : fallback;
}

export async function startAdminRpc(o: AdminRpcOptions): Promise<RunningAdminRpc> {
  const definition = protoLoader.loadSync(PROTO, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as { mostro: { admin: { v1: { AdminService: grpc.ServiceClientConstructor } } } };
  const timeoutMs = o.outcomeTimeoutMs ?? 60_000;

  /** What the order's workflow made of the message; null when it has not handled it within the timeout. */
  async function outcomeAt(orderId: string, eventId: string): Promise<string | null> {
    const handle = o.client.workflow.getHandle(orderWorkflowId(orderId));
    const deadline = Date.now() + timeoutMs;
    for (let wait = 50; Date.now() < deadline; wait = Math.min(wait * 2, 500)) {
      const r = await handle.query(messageOutcomeQuery, eventId);
      if (r !== null) return r;
      await new Promise((res) => setTimeout(res, wait));
    }
    return null;
  }

  /** Runs `msg` as the admin's; for an order action, waits for its workflow's decision. */
  async function act(what: string, msg: Message, orderId: string | null): Promise<Outcome> {
    const eventId = `rpc-${randomUUID()}`;
    const reason = await o.ingress.inject(msg, eventId);
    if (reason !== null) return refused(what, reason);
    if (orderId === null) return { success: true };
    const outcome = await outcomeAt(orderId, eventId);
    if (outcome === null) return { success: false, error_message: `${what} failed: the order's workflow did not handle it within ${timeoutMs / 1000} s` };
    return outcome === 'ok' ? { success: true } : refused(what, outcome);
  }

  const adminMessage = (action: Action, f: { id?: string; rid: bigint | null; payload?: Parameters<typeof message>[0]['payload'] }) =>
    message({ action, id: f.id, request_id: f.rid, trade_index: null, payload: f.payload ?? null });

  type Call<Req> = grpc.ServerUnaryCall<Req, unknown>;
  /** mostrod's check of a mutating call when `[rpc] auth_token` is set: `authorization: Bearer <token>`, compared in constant time. */
  const authorized = (call: Call<unknown>): boolean => {
    if (o.authToken === undefined) return true;
    const header = call.metadata.get('authorization')[0];
    const presented = typeof header === 'string' && header.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : null;
    if (presented === null) return false;
    const a = createHash('sha256').update(presented).digest();
    const b = createHash('sha256').update(o.authToken).digest();
    return timingSafeEqual(a, b);
  };
  const unary =
    <Req>(name: string, fn: (req: Req) => Promise<object>, mutating = true) =>
    (call: Call<Req>, done: grpc.sendUnaryData<unknown>) => {
      if (mutating && !authorized(call)) {
        o.log.warn(`${name} refused: missing or invalid bearer token`, { method: name });
        done({ code: grpc.status.PERMISSION_DENIED, details: 'missing or invalid authorization bearer token' });
        return;
      }
      fn(call.request).then(
        (res) => {
          o.log.info('admin rpc', { method: name, success: (res as Outcome).success ?? true });
          done(null, res);
        },
        (err: unknown) => {
          o.log.warn('admin rpc failed', { method: name, err: String(err) });
          done({ code: grpc.status.INTERNAL, details: String((err as Error)?.message ?? err) });
        },
      );
    };

  const orderAction = (action: 'admin-cancel' | 'admin-settle', what: string, fallbackRid: bigint | null) => async (req: { order_id: string; request_id?: string }) => {
    const id = uuidOf(req.order_id);
    if (id === null) return { success: false, error_message: `${what} failed: order_id is not a UUID` };
    return act(what, adminMessage(action, { id, rid: requestIdOf(req.request_id, fallbackRid) }), id);
  };

  const server = new grpc.Server();
  server.addService(pkg.mostro.admin.v1.AdminService.service, {
    CancelOrder: unary('CancelOrder', orderAction('admin-cancel', 'Admin cancel', 1n)),
    SettleOrder: unary('SettleOrder', orderAction('admin-settle', 'Admin settle', null)),
    AddSolver: unary('AddSolver', async (req: { solver_pubkey: string; request_id?: string }) =>
      act('Admin add solver', adminMessage('admin-add-solver', { rid: requestIdOf(req.request_id, null), payload: { text_message: req.solver_pubkey } }), null),
    ),
    TakeDispute: unary('TakeDispute', async (req: { dispute_id: string; request_id?: string }) => {
      const id = uuidOf(req.dispute_id);
      if (id === null) return { success: false, error_message: 'Admin take dispute failed: dispute_id is not a UUID' };
      const dispute = await o.db.dispute.findUnique({ where: { id }, select: { orderId: true } });
      return act('Admin take dispute', adminMessage('admin-take-dispute', { id, rid: requestIdOf(req.request_id, null) }), dispute?.orderId ?? null);
    }),
    // There is no database password here (nor, since mostrod 0.16, there): always accepted, as there.
    ValidateDbPassword: unary('ValidateDbPassword', async () => ({ success: true }), false),
    GetVersion: unary('GetVersion', async () => ({ version: o.version }), false),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${o.host.includes(':') ? `[${o.host}]` : o.host}:${o.port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2000).unref();
      }),
  };
}
