/**
 * Canonical serialization: byte for byte what serde_json prints for mostro-core's types — compact, fields in
 * declaration order, `Option`s printed as `null` unless the field skips when absent. The reference daemon verifies
 * signatures against this re-serialization, so a client must sign exactly these bytes.
 */
import { jsonFloat, jsonString } from './json.js';
import type {
  BondPayoutRequest,
  Message,
  MessageKind,
  Payload,
  Peer,
  RestoreSessionInfo,
  SmallOrder,
  SolverDisputeInfo,
  UserInfo,
} from './schema.js';
import { unwrapKind } from './kind.js';

const str = jsonString;
const int = (n: number | bigint): string => {
  if (typeof n === 'number' && !Number.isInteger(n)) throw new TypeError(`expected an integer, got ${n}`);
  return String(n);
};
const nullable = <T>(v: T | null | undefined, f: (x: T) => string): string => (v === null || v === undefined ? 'null' : f(v));

/** Builds `{"a":…,"b":…}` from ordered entries; `undefined` values are skipped (serde `skip_serializing_if`). */
function obj(entries: [string, string | undefined][]): string {
  let out = '{';
  let first = true;
  for (const [k, v] of entries) {
    if (v === undefined) continue;
    out += (first ? '' : ',') + str(k) + ':' + v;
    first = false;
  }
  return out + '}';
}

const skipIfAbsent = <T>(v: T | null | undefined, f: (x: T) => string): string | undefined =>
  v === null || v === undefined ? undefined : f(v);

export function serializeUserInfo(u: UserInfo): string {
  return obj([
    ['rating', jsonFloat(u.rating)],
    ['reviews', int(u.reviews)],
    ['operating_days', int(u.operating_days)],
  ]);
}

export function serializePeer(p: Peer): string {
  return obj([
    ['pubkey', str(p.pubkey)],
    ['reputation', nullable(p.reputation, serializeUserInfo)],
  ]);
}

export function serializeSmallOrder(o: SmallOrder): string {
  return obj([
    ['id', skipIfAbsent(o.id, str)],
    ['kind', nullable(o.kind, str)],
    ['status', nullable(o.status, str)],
    ['amount', int(o.amount)],
    ['fiat_code', str(o.fiat_code)],
    ['min_amount', nullable(o.min_amount, int)],
    ['max_amount', nullable(o.max_amount, int)],
    ['fiat_amount', int(o.fiat_amount)],
    ['payment_method', str(o.payment_method)],
    ['premium', int(o.premium)],
    ['buyer_trade_pubkey', skipIfAbsent(o.buyer_trade_pubkey, str)],
    ['seller_trade_pubkey', skipIfAbsent(o.seller_trade_pubkey, str)],
    ['buyer_invoice', skipIfAbsent(o.buyer_invoice, str)],
    ['created_at', nullable(o.created_at, int)],
    ['expires_at', nullable(o.expires_at, int)],
  ]);
}

export function serializeSolverDisputeInfo(d: SolverDisputeInfo): string {
  return obj([
    ['id', str(d.id)],
    ['kind', str(d.kind)],
    ['status', str(d.status)],
    ['hash', nullable(d.hash, str)],
    ['preimage', nullable(d.preimage, str)],
    ['order_previous_status', str(d.order_previous_status)],
    ['initiator_pubkey', str(d.initiator_pubkey)],
    ['buyer_pubkey', nullable(d.buyer_pubkey, str)],
    ['seller_pubkey', nullable(d.seller_pubkey, str)],
    ['initiator_full_privacy', String(d.initiator_full_privacy)],
    ['counterpart_full_privacy', String(d.counterpart_full_privacy)],
    ['initiator_info', nullable(d.initiator_info, serializeUserInfo)],
    ['counterpart_info', nullable(d.counterpart_info, serializeUserInfo)],
    ['premium', int(d.premium)],
    ['payment_method', str(d.payment_method)],
    ['amount', int(d.amount)],
    ['fiat_amount', int(d.fiat_amount)],
    ['fee', int(d.fee)],
    ['routing_fee', int(d.routing_fee)],
    ['buyer_invoice', nullable(d.buyer_invoice, str)],
    ['invoice_held_at', int(d.invoice_held_at)],
    ['taken_at', int(d.taken_at)],
    ['created_at', int(d.created_at)],
  ]);
}

function serializeRestoreSessionInfo(r: RestoreSessionInfo): string {
  const orders = r.orders.map((o) =>
    obj([
      ['order_id', str(o.order_id)],
      ['trade_index', int(o.trade_index)],
      ['status', str(o.status)],
    ]),
  );
  const disputes = r.disputes.map((d) =>
    obj([
      ['dispute_id', str(d.dispute_id)],
      ['order_id', str(d.order_id)],
      ['trade_index', int(d.trade_index)],
      ['status', str(d.status)],
      ['initiator', nullable(d.initiator, str)],
      ['solver_pubkey', nullable(d.solver_pubkey, str)],
    ]),
  );
  return obj([
    ['orders', `[${orders.join(',')}]`],
    ['disputes', `[${disputes.join(',')}]`],
  ]);
}

function serializeBondPayoutRequest(b: BondPayoutRequest): string {
  return obj([
    ['order', serializeSmallOrder(b.order)],
    ['slashed_at', int(b.slashed_at)],
  ]);
}

const arr = <T>(xs: T[], f: (x: T) => string) => `[${xs.map(f).join(',')}]`;

export function serializePayload(p: Payload): string {
  const key = Object.keys(p)[0] as keyof Payload;
  const tag = (body: string) => `{${str(key)}:${body}}`;
  const v = (p as Record<string, unknown>)[key];
  switch (key as string) {
    case 'order':
      return tag(serializeSmallOrder(v as SmallOrder));
    case 'payment_request': {
      const [order, invoice, amount] = v as [SmallOrder | null, string, number | null];
      return tag(`[${nullable(order, serializeSmallOrder)},${str(invoice)},${nullable(amount, int)}]`);
    }
    case 'text_message':
      return tag(str(v as string));
    case 'peer':
      return tag(serializePeer(v as Peer));
    case 'rating_user':
    case 'amount':
      return tag(int(v as number));
    case 'dispute': {
      const [id, info] = v as [string, SolverDisputeInfo | null];
      return tag(`[${str(id)},${nullable(info, serializeSolverDisputeInfo)}]`);
    }
    case 'cant_do':
      return tag(nullable(v as string | null, str));
    case 'next_trade': {
      const [pubkey, index] = v as [string, number];
      return tag(`[${str(pubkey)},${int(index)}]`);
    }
    case 'payment_failed': {
      const f = v as { payment_attempts: number; payment_retries_interval: number };
      return tag(
        obj([
          ['payment_attempts', int(f.payment_attempts)],
          ['payment_retries_interval', int(f.payment_retries_interval)],
        ]),
      );
    }
    case 'restore_data':
      return tag(serializeRestoreSessionInfo(v as RestoreSessionInfo));
    case 'ids':
      return tag(arr(v as string[], str));
    case 'orders':
      return tag(arr(v as SmallOrder[], serializeSmallOrder));
    case 'bond_resolution': {
      const b = v as { slash_seller: boolean; slash_buyer: boolean };
      return tag(
        obj([
          ['slash_seller', String(b.slash_seller)],
          ['slash_buyer', String(b.slash_buyer)],
        ]),
      );
    }
    case 'bond_payout_request':
      return tag(serializeBondPayoutRequest(v as BondPayoutRequest));
    case 'cashu_lock_proof': {
      const c = v as { token: string; mint_url: string; buyer_pubkey: string; seller_pubkey: string; mostro_pubkey: string; fee_token?: string };
      return tag(
        obj([
          ['token', str(c.token)],
          ['mint_url', str(c.mint_url)],
          ['buyer_pubkey', str(c.buyer_pubkey)],
          ['seller_pubkey', str(c.seller_pubkey)],
          ['mostro_pubkey', str(c.mostro_pubkey)],
          ['fee_token', skipIfAbsent(c.fee_token, str)],
        ]),
      );
    }
    case 'cashu_signatures':
      return tag(
        arr(v as { secret: string; signature: string }[], (s) =>
          obj([
            ['secret', str(s.secret)],
            ['signature', str(s.signature)],
          ]),
        ),
      );
    default:
      throw new TypeError(`unknown payload variant ${String(key)}`);
  }
}

export function serializeMessageKind(k: MessageKind): string {
  return obj([
    ['version', int(k.version)],
    ['request_id', nullable(k.request_id, int)],
    ['trade_index', nullable(k.trade_index, int)],
    ['id', skipIfAbsent(k.id, str)],
    ['action', str(k.action)],
    ['payload', nullable(k.payload, serializePayload)],
  ]);
}

/** The canonical JSON of a message: what mostro-core's `Message::as_json` prints. */
export function serializeMessage(msg: Message): string {
  const { wrapper, kind } = unwrapKind(msg);
  return `{${str(wrapper)}:${serializeMessageKind(kind)}}`;
}
