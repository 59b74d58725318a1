/**
 * The simulator's control surface: a small JSON API on 127.0.0.1 that lets a person or a test act as the wallets
 * around the daemon's node — create an invoice (a buyer's payout invoice), pay one (a seller paying the escrow),
 * make the next payment fail or hang, mine blocks — and read back every invoice and payment.
 *
 *   GET  /state                     height, nodes, counts
 *   GET  /invoices/<hash>           one invoice          GET /payments/<hash>   one payment (with `attempts`)
 *   POST /invoice            {sats, node?, memo?, expiry_secs?}         → {request, hash}
 *   POST /pay                {request, from?, amount_sats?}             → the payment (status, attempts)
 *   POST /fail-next-payment  {reason?}        POST /hold-next-payment {}        POST /release-held {reason?}
 *   POST /mine               {blocks?}                                  → {height}
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import invoices from 'invoices';
import { z } from 'zod';
import { SimError, type FailureReason, type SimInvoice, type SimPayment } from './model.js';
import type { SimNetwork } from './network.js';

const FAILURE_REASONS = [
  'FAILURE_REASON_TIMEOUT',
  'FAILURE_REASON_NO_ROUTE',
  'FAILURE_REASON_ERROR',
  'FAILURE_REASON_INCORRECT_PAYMENT_DETAILS',
  'FAILURE_REASON_INSUFFICIENT_BALANCE',
] as const satisfies readonly FailureReason[];

const sats = z.number().int().nonnegative().max(21e14);
const bodies = {
  invoice: z.strictObject({ sats, node: z.string().min(1).default('buyer'), memo: z.string().max(639).optional(), expiry_secs: z.number().int().positive().optional() }),
  pay: z.strictObject({ request: z.string().min(1), from: z.string().min(1).default('seller'), amount_sats: sats.optional() }),
  fail: z.strictObject({ reason: z.enum(FAILURE_REASONS).optional() }),
  empty: z.strictObject({}),
  mine: z.strictObject({ blocks: z.number().int().positive().max(100_000).default(1) }),
};

export interface ControlServer {
  url: string;
  close(): Promise<void>;
}

const invoiceView = (i: SimInvoice) => ({
  hash: i.hash,
  node: i.node,
  request: i.request,
  hold: i.hold,
  state: i.state,
  value_sats: i.valueSats,
  amount_paid_sats: Math.floor(i.amountPaidMsat / 1000),
  memo: i.memo,
  cltv_delta: i.cltvDelta,
  created_at: i.createdAt,
  expires_at: i.createdAt + i.expirySecs,
});
const paymentView = (p: SimPayment) => ({
  hash: p.hash,
  from: p.from,
  status: p.status,
  value_sats: p.valueSats,
  fee_sats: p.feeSats,
  failure_reason: p.failureReason ?? null,
  attempts: p.attempts,
});

export async function startControlServer(net: SimNetwork, opts: { port?: number; host?: string } = {}): Promise<ControlServer> {
  const send = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(`${JSON.stringify(body)}\n`);
  };
  const route = (method: string, path: string, body: unknown): [number, unknown] => {
    const parse = <T extends z.ZodType>(schema: T): z.infer<T> => schema.parse(body ?? {});
    if (method === 'GET' && path === '/state') {
      return [200, { network: net.network, height: net.height, nodes: [...net.nodes.values()].map((n) => ({ alias: n.alias, pubkey: n.pubkey })), invoices: net.invoices.size, payments: net.payments.size }];
    }
    const byHash = /^\/(invoices|payments)\/([0-9a-f]{64})$/.exec(path);
    if (method === 'GET' && byHash) {
      const found = byHash[1] === 'invoices' ? net.invoices.get(byHash[2]!) : net.payments.get(byHash[2]!);
      if (!found) return [404, { error: `no ${byHash[1]!.slice(0, -1)} with that hash` }];
      return [200, byHash[1] === 'invoices' ? invoiceView(found as SimInvoice) : paymentView(found as SimPayment)];
    }
    if (method !== 'POST') return [404, { error: `no route ${method} ${path}` }];
    switch (path) {
      case '/invoice': {
        const b = parse(bodies.invoice);
        const inv = net.createInvoice({ node: b.node, valueSats: b.sats, memo: b.memo, expirySecs: b.expiry_secs });
        return [200, { request: inv.request, hash: inv.hash }];
      }
      case '/pay': {
        const b = parse(bodies.pay);
        try {
          invoices.parsePaymentRequest({ request: b.request });
        } catch {
          return [400, { error: 'request: not a BOLT11 invoice' }];
        }
        return [200, paymentView(net.pay(b.from, b.request, { amountSats: b.amount_sats }))];
      }
      case '/fail-next-payment':
        net.failNextPayment(parse(bodies.fail).reason);
        return [200, { ok: true }];
      case '/hold-next-payment':
        parse(bodies.empty);
        net.holdNextPayment();
        return [200, { ok: true }];
      case '/release-held':
        net.releaseHeld(parse(bodies.fail).reason);
        return [200, { ok: true }];
      case '/mine':
        return [200, { height: net.mine(parse(bodies.mine).blocks) }];
      default:
        return [404, { error: `no route ${method} ${path}` }];
    }
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        const text = Buffer.concat(chunks).toString('utf8');
        const body: unknown = text.trim() ? JSON.parse(text) : undefined;
        const [status, out] = route(req.method ?? 'GET', new URL(req.url ?? '/', 'http://x').pathname, body);
        // A change is answered only once it is on disk (when the network keeps a journal).
        net.durable().then(
          () => send(res, status, out),
          (err: unknown) => send(res, 500, { error: (err as Error).message }),
        );
      } catch (err) {
        if (err instanceof z.ZodError) {
          return send(res, 400, { error: err.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ') });
        }
        if (err instanceof SyntaxError) return send(res, 400, { error: 'body is not JSON' });
        if (err instanceof SimError) return send(res, 409, { error: err.message, code: err.code });
        send(res, 500, { error: (err as Error).message });
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  const host = !opts.host || opts.host === '0.0.0.0' ? '127.0.0.1' : opts.host;
  return { url: `http://${host}:${port}`, close: () => new Promise<void>((r) => server.close(() => r())) };
}
