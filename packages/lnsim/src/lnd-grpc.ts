/**
 * One simulated node exposed as LND's gRPC API (Lightning, Invoices, Router services), with TLS and a macaroon
 * check, loaded from the protos the `lightning` package ships — so the real client is exercised byte for byte.
 * For development and tests only: no real money moves.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import invoices from 'invoices';
import { htlcExpiryHeight } from './htlc-expiry.js';
import { SimError, type SimInvoice, type SimPayment } from './model.js';
import type { SimNetwork } from './network.js';

const require = createRequire(import.meta.url);

export interface LndCredentials {
  /** host:port (use `localhost`, which the certificate names). */
  socket: string;
  /** Base64 of the TLS certificate PEM, as `lightning` takes it. */
  cert: string;
  /** Hex macaroon. */
  macaroon: string;
}

export interface SimLndServer {
  credentials: LndCredentials;
  port: number;
  close(): Promise<void>;
}

/** A self-signed ECDSA P-256 certificate for localhost/127.0.0.1, like LND's (kept in `dir` across restarts). */
/** LND-style self-signed TLS in `dir`, for localhost plus `extraHosts` (DNS names, e.g. a Compose service name). */
export function ensureTlsCertificate(dir: string, extraHosts: string[] = []): { cert: Buffer; key: Buffer } {
  fs.mkdirSync(dir, { recursive: true });
  const certPath = path.join(dir, 'tls.cert');
  const keyPath = path.join(dir, 'tls.key');
  if (!fs.existsSync(certPath) || !fs.existsSync(keyPath)) {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', keyPath, '-out', certPath, '-days', '3650', '-subj', '/O=lnd/CN=simlnd',
      '-addext', `subjectAltName=${['DNS:localhost', 'IP:127.0.0.1', ...extraHosts.map((h) => `DNS:${h}`)].join(',')}`,
    ], { stdio: 'pipe' });
  }
  return { cert: fs.readFileSync(certPath), key: fs.readFileSync(keyPath) };
}

function loadLndProtos() {
  const dir = path.join(path.dirname(require.resolve('lightning/package.json')), 'grpc', 'protos');
  const def = protoLoader.loadSync(
    ['lightning.proto', 'invoices.proto', 'router.proto'].map((f) => path.join(dir, f)),
    { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true, includeDirs: [dir] },
  );
  const pkg = grpc.loadPackageDefinition(def) as unknown as Record<string, Record<string, { service: grpc.ServiceDefinition }>>;
  return { lightning: pkg.lnrpc!.Lightning!.service, invoices: pkg.invoicesrpc!.Invoices!.service, router: pkg.routerrpc!.Router!.service };
}

const hex = (b: Buffer | Uint8Array | string | undefined) => (b ? Buffer.from(b as Uint8Array).toString('hex') : '');
const buf = (h: string | undefined) => (h ? Buffer.from(h, 'hex') : Buffer.alloc(0));

function invoiceMsg(inv: SimInvoice, height: number): Record<string, unknown> {
  const htlcs =
    inv.state === 'OPEN' || (inv.state === 'CANCELED' && inv.amountPaidMsat === 0)
      ? []
      : [
          {
            chan_id: '1',
            htlc_index: '0',
            amt_msat: String(inv.amountPaidMsat),
            accept_height: inv.acceptHeight ?? height,
            accept_time: String(inv.createdAt),
            resolve_time: inv.state === 'ACCEPTED' ? '0' : String(inv.settledAt ?? inv.createdAt),
            expiry_height: htlcExpiryHeight(inv, height),
            state: inv.state === 'SETTLED' ? 'SETTLED' : inv.state === 'CANCELED' ? 'CANCELED' : 'ACCEPTED',
            custom_records: {},
            mpp_total_amt_msat: String(inv.amountPaidMsat),
            amp: null,
          },
        ];
  // LND reports the accepted HTLCs' amount as paid while a hold invoice is held, too.
  const paid = inv.state === 'SETTLED' || inv.state === 'ACCEPTED' ? inv.amountPaidMsat : 0;
  return {
    memo: inv.memo,
    r_preimage: inv.state === 'SETTLED' || !inv.hold ? buf(inv.preimage) : Buffer.alloc(0),
    r_hash: buf(inv.hash),
    value: String(inv.valueSats),
    value_msat: String(inv.valueSats * 1000),
    settled: inv.state === 'SETTLED',
    creation_date: String(inv.createdAt),
    settle_date: String(inv.settledAt ?? 0),
    payment_request: inv.request,
    description_hash: Buffer.alloc(0),
    expiry: String(inv.expirySecs),
    fallback_addr: '',
    cltv_expiry: String(inv.cltvDelta),
    route_hints: [],
    private: false,
    add_index: String(inv.addIndex),
    settle_index: String(inv.settleIndex),
    amt_paid: String(paid),
    amt_paid_sat: String(Math.floor(paid / 1000)),
    amt_paid_msat: String(paid),
    state: inv.state,
    htlcs,
    features: {},
    is_keysend: false,
    payment_addr: buf(inv.paymentAddr),
    is_amp: false,
  };
}

function paymentMsg(p: SimPayment, destination: string): Record<string, unknown> {
  const ns = String(BigInt(p.createdAt) * 1_000_000_000n);
  const msat = String(p.valueSats * 1000);
  const succeeded = p.status === 'SUCCEEDED';
  return {
    payment_hash: p.hash,
    value: String(p.valueSats),
    creation_date: String(p.createdAt),
    fee: '0',
    payment_preimage: succeeded ? p.preimage : '0'.repeat(64),
    value_sat: String(p.valueSats),
    value_msat: msat,
    payment_request: p.request,
    status: p.status,
    fee_sat: '0',
    fee_msat: '0',
    creation_time_ns: ns,
    // One HTLC attempt along a one-hop route: in flight while held, succeeded with the preimage once settled.
    htlcs:
      p.status === 'FAILED'
        ? []
        : [
            {
              attempt_id: '1',
              status: p.status,
              route: {
                total_time_lock: 0,
                total_fees: '0',
                total_amt: String(p.valueSats),
                hops: [
                  {
                    chan_id: '1',
                    chan_capacity: '10000000',
                    amt_to_forward: String(p.valueSats),
                    fee: '0',
                    expiry: 0,
                    amt_to_forward_msat: msat,
                    fee_msat: '0',
                    pub_key: destination,
                    tlv_payload: true,
                    custom_records: {},
                  },
                ],
                total_fees_msat: '0',
                total_amt_msat: msat,
              },
              attempt_time_ns: ns,
              resolve_time_ns: succeeded ? ns : '0',
              failure: null,
              preimage: succeeded ? buf(p.preimage) : Buffer.alloc(0),
            },
          ],
    payment_index: String(p.index),
    failure_reason: p.failureReason ?? 'FAILURE_REASON_NONE',
  };
}

const GRPC_CODE: Record<SimError['code'], grpc.status> = {
  NOT_FOUND: grpc.status.NOT_FOUND,
  ALREADY_EXISTS: grpc.status.ALREADY_EXISTS,
  FAILED_PRECONDITION: grpc.status.FAILED_PRECONDITION,
  INVALID_ARGUMENT: grpc.status.INVALID_ARGUMENT,
};

export async function startSimLnd(
  net: SimNetwork,
  opts: { node: string; tlsDir?: string; port?: number; macaroon?: string; version?: string; host?: string; tlsHosts?: string[] },
): Promise<SimLndServer> {
  const node = net.node(opts.node);
  // Without a directory of its own the certificate lives in a temporary one, removed on close (the credentials carry
  // the certificate itself, not its path).
  const ownTlsDir = opts.tlsDir === undefined ? fs.mkdtempSync(path.join(os.tmpdir(), 'lnsim-tls-')) : undefined;
  const tls = ensureTlsCertificate(opts.tlsDir ?? ownTlsDir!, opts.tlsHosts);
  const macaroon = opts.macaroon ?? crypto.randomBytes(32).toString('hex');
  const services = loadLndProtos();
  const server = new grpc.Server();

  const authorized = (call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>) =>
    call.metadata.get('macaroon')[0] === macaroon;
  const deny = { code: grpc.status.UNKNOWN, details: 'verification failed: signature mismatch after caveat verification' };
  const fail = (err: unknown) =>
    err instanceof SimError
      ? { code: GRPC_CODE[err.code], details: err.message }
      : { code: grpc.status.UNKNOWN, details: (err as Error).message };

  type Req = Record<string, unknown>;
  // Like LND, a change is acknowledged only once it is on disk (the network's journal, when it has one).
  const unary =
    (fn: (req: Req) => unknown) =>
    (call: grpc.ServerUnaryCall<Req, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      if (!authorized(call)) return cb(deny);
      let reply: unknown;
      try {
        reply = fn(call.request);
      } catch (err) {
        return cb(fail(err));
      }
      net.durable().then(
        () => cb(null, reply),
        (err: unknown) => cb(fail(err)),
      );
    };
  /** A stream's messages in order, each sent once the change it reports is durable. */
  const durableWriter = (call: grpc.ServerWritableStream<Req, unknown>) => {
    let chain = Promise.resolve();
    let broken = false;
    const then = (step: () => void) => {
      chain = chain
        .then(() => net.durable())
        .then(
          () => {
            if (!broken && !call.cancelled) step();
          },
          (err: unknown) => {
            if (!broken) call.emit('error', fail(err));
            broken = true;
          },
        );
    };
    return {
      write: (msg: unknown) => then(() => void call.write(msg)),
      end: () => then(() => call.end()),
    };
  };
  const stream =
    (fn: (req: Req, call: grpc.ServerWritableStream<Req, unknown>) => void) =>
    (call: grpc.ServerWritableStream<Req, unknown>) => {
      if (!authorized(call)) {
        call.emit('error', deny);
        return;
      }
      try {
        fn(call.request, call);
      } catch (err) {
        call.emit('error', fail(err));
      }
    };

  /**
   * Streams still open, and how each ends when the node stops — as LND ends them: an invoice subscription cleanly
   * (status OK, no error: `case <-s.quit: return nil`), a payment stream with "routerrpc server shutting down".
   */
  const open = new Map<grpc.ServerWritableStream<Req, unknown>, { kind: 'invoice' | 'payment'; stop: () => void }>();
  /** A stream that follows the network until `stop`: stopped when the client goes away or the stream ends. */
  const opened = (call: grpc.ServerWritableStream<Req, unknown>, kind: 'invoice' | 'payment', stop: () => void) => {
    open.set(call, { kind, stop });
    const done = () => {
      open.delete(call);
      stop();
    };
    call.on('cancelled', done);
    call.on('finish', done);
  };

  /** Streams a payment's updates until it is final. */
  const followPayment = (hash: string, call: grpc.ServerWritableStream<Req, unknown>) => {
    const out = durableWriter(call);
    const send = (p: SimPayment) => out.write(paymentMsg(p, net.invoices.get(p.hash) ? net.node(net.invoices.get(p.hash)!.node).pubkey : node.pubkey));
    const current = net.payments.get(hash);
    if (!current) {
      call.emit('error', { code: grpc.status.NOT_FOUND, details: 'payment isn\'t initiated' });
      return;
    }
    send(current);
    if (current.status !== 'IN_FLIGHT') return out.end();
    const onPayment = (p: SimPayment) => {
      if (p.hash !== hash) return;
      send(p);
      if (p.status !== 'IN_FLIGHT') {
        net.off('payment', onPayment);
        out.end();
      }
    };
    net.on('payment', onPayment);
    opened(call, 'payment', () => net.off('payment', onPayment));
  };

  server.addService(services.lightning, {
    GetInfo: unary(() => ({
      alias: node.alias,
      best_header_timestamp: String(Math.floor(Date.now() / 1000)),
      block_hash: '0'.repeat(64),
      block_height: net.height,
      chains: [{ chain: 'bitcoin', network: net.network === 'bitcoin' ? 'mainnet' : net.network }],
      color: '#3399ff',
      commit_hash: 'simulated',
      features: {},
      identity_pubkey: node.pubkey,
      num_active_channels: 1,
      num_inactive_channels: 0,
      num_peers: 1,
      num_pending_channels: 0,
      synced_to_chain: true,
      synced_to_graph: true,
      testnet: net.network === 'testnet',
      uris: [],
      version: opts.version ?? '0.18.0-beta commit=simulated',
    })),
    AddInvoice: unary((req) => {
      const inv = net.createInvoice({
        node: opts.node,
        valueSats: Number(req.value ?? 0) || Math.floor(Number(req.value_msat ?? 0) / 1000),
        memo: String(req.memo ?? ''),
        expirySecs: Number(req.expiry ?? 0) || 3600,
        cltvDelta: Number(req.cltv_expiry ?? 0) || 80,
      });
      return { r_hash: buf(inv.hash), payment_request: inv.request, add_index: String(inv.addIndex), payment_addr: buf(inv.paymentAddr) };
    }),
    LookupInvoice: unary((req) => {
      const hash = req.r_hash_str ? String(req.r_hash_str) : hex(req.r_hash as Buffer);
      const inv = net.invoices.get(hash);
      if (!inv || inv.node !== opts.node) throw new SimError('unable to locate invoice', 'NOT_FOUND');
      return invoiceMsg(inv, net.height);
    }),
    ListInvoices: unary(() => {
      const list = [...net.invoices.values()].filter((i) => i.node === opts.node).map((i) => invoiceMsg(i, net.height));
      return { invoices: list, last_index_offset: String(list.length), first_index_offset: '0' };
    }),
    DecodePayReq: unary((req) => {
      const p = invoices.parsePaymentRequest({ request: String(req.pay_req) });
      const createdAt = Math.floor(Date.parse(p.created_at) / 1000);
      return {
        destination: p.destination,
        payment_hash: p.id,
        num_satoshis: String(p.tokens ?? 0),
        timestamp: String(createdAt),
        expiry: String(Math.floor(Date.parse(p.expires_at) / 1000) - createdAt),
        description: p.description ?? '',
        description_hash: p.description_hash ?? '',
        fallback_addr: '',
        cltv_expiry: String(p.cltv_delta ?? 9),
        route_hints: [],
        payment_addr: buf(p.payment),
        num_msat: p.mtokens ?? String((p.tokens ?? 0) * 1000),
        features: {},
      };
    }),
    ListPayments: unary(() => {
      const mine = [...net.payments.values()].filter((p) => p.from === opts.node).sort((a, b) => a.index - b.index);
      return {
        payments: mine.map((p) => paymentMsg(p, node.pubkey)),
        first_index_offset: String(mine[0]?.index ?? 0),
        last_index_offset: String(mine.at(-1)?.index ?? 0),
        total_num_payments: String(mine.length),
      };
    }),
  });

  server.addService(services.invoices, {
    AddHoldInvoice: unary((req) => {
      const inv = net.createInvoice({
        node: opts.node,
        hash: hex(req.hash as Buffer),
        valueSats: Number(req.value ?? 0) || Math.floor(Number(req.value_msat ?? 0) / 1000),
        memo: String(req.memo ?? ''),
        expirySecs: Number(req.expiry ?? 0) || 3600,
        cltvDelta: Number(req.cltv_expiry ?? 0) || 80,
      });
      return { payment_request: inv.request, add_index: String(inv.addIndex), payment_addr: buf(inv.paymentAddr) };
    }),
    SettleInvoice: unary((req) => {
      net.settleInvoice(hex(req.preimage as Buffer));
      return {};
    }),
    CancelInvoice: unary((req) => {
      net.cancelInvoice(hex(req.payment_hash as Buffer));
      return {};
    }),
    SubscribeSingleInvoice: stream((req, call) => {
      const hash = hex(req.r_hash as Buffer);
      const inv = net.invoices.get(hash);
      if (!inv || inv.node !== opts.node) throw new SimError('unable to locate invoice', 'NOT_FOUND');
      const out = durableWriter(call);
      out.write(invoiceMsg(inv, net.height));
      const onInvoice = (i: SimInvoice) => {
        if (i.hash !== hash) return;
        out.write(invoiceMsg(i, net.height));
        if (i.state === 'SETTLED' || i.state === 'CANCELED') {
          net.off('invoice', onInvoice);
          out.end();
        }
      };
      if (inv.state === 'SETTLED' || inv.state === 'CANCELED') return out.end();
      net.on('invoice', onInvoice);
      opened(call, 'invoice', () => net.off('invoice', onInvoice));
    }),
  });

  server.addService(services.router, {
    SendPaymentV2: stream((req, call) => {
      const request = String(req.payment_request ?? '');
      if (!request) throw new SimError('payment request required', 'INVALID_ARGUMENT');
      const p = net.pay(opts.node, request, { amountSats: Number(req.amt ?? 0) || undefined });
      followPayment(p.hash, call);
    }),
    TrackPaymentV2: stream((req, call) => {
      followPayment(hex(req.payment_hash as Buffer), call);
    }),
  });

  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(
      `${opts.host ?? '127.0.0.1'}:${opts.port ?? 0}`,
      grpc.ServerCredentials.createSsl(null, [{ cert_chain: tls.cert, private_key: tls.key }], false),
      (err, p) => (err ? reject(err) : resolve(p)),
    ),
  );
  return {
    port,
    credentials: { socket: `localhost:${port}`, cert: tls.cert.toString('base64'), macaroon },
    close: async () => {
      for (const [call, { kind, stop }] of [...open]) {
        open.delete(call);
        stop();
        if (kind === 'invoice') call.end();
        else call.emit('error', { code: grpc.status.UNKNOWN, details: 'routerrpc server shutting down' });
      }
      await new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 1000).unref();
      });
      if (ownTlsDir) fs.rmSync(ownTlsDir, { recursive: true, force: true });
    },
  };
}
