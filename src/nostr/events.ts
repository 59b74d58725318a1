/**
 * The addressable events the daemon publishes, tag for tag as the reference builds them (MostroP2P/mostro
 * `src/nip33.rs`): NIP-69 orders (38383), ratings (38384), the info event (38385) and disputes (38386). Builders are
 * pure: they return unsigned templates; signing and publishing live in the egress.
 */
import type { OrderKind, OrderStatus } from '@mostro/protocol';

export const KIND_ORDER = 38383;
export const KIND_RATING = 38384;
export const KIND_INFO = 38385;
export const KIND_DISPUTE = 38386;

export interface EventTemplate {
  kind: number;
  created_at: number;
  tags: string[][];
  content: string;
}

const DAY = 86_400;

/** An f64 as Rust's `Display` prints it: no exponent, whole numbers without a decimal point. */
export function rustF64Display(x: number): string {
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : x < 0 ? '-inf' : 'NaN';
  if (Number.isInteger(x)) return BigInt(x).toString();
  const s = String(x);
  if (!/e/i.test(s)) return s;
  // Expand the exponent form JavaScript uses for very small or large numbers.
  const [mant, expStr] = s.toLowerCase().split('e') as [string, string];
  const exp = Number(expStr);
  const neg = mant.startsWith('-');
  const digits = mant.replace('-', '').replace('.', '');
  const point = mant.replace('-', '').indexOf('.') === -1 ? mant.replace('-', '').length : mant.replace('-', '').indexOf('.');
  const pos = point + exp;
  let out: string;
  if (pos <= 0) out = '0.' + '0'.repeat(-pos) + digits;
  else if (pos >= digits.length) out = digits + '0'.repeat(pos - digits.length);
  else out = digits.slice(0, pos) + '.' + digits.slice(pos);
  return (neg ? '-' : '') + out;
}

/** `["y","mostro"]`, plus the instance name (trimmed) when there is one. */
export function platformTag(instanceName?: string | null): string[] {
  const name = instanceName?.trim();
  return name ? ['y', 'mostro', name] : ['y', 'mostro'];
}

export interface OrderEventInput {
  id: string;
  kind: OrderKind;
  /** The daemon-side status; the published `s` bucket is derived from it. */
  status: OrderStatus;
  amount: number;
  fiat_code: string;
  min_amount: number | null;
  max_amount: number | null;
  fiat_amount: number;
  payment_method: string;
  premium: number;
  expires_at: number;
}

export interface Reputation {
  totalRating: number;
  totalReviews: number;
  /** When the user first appeared (unix seconds); 0 for unknown or full-privacy makers. */
  userCreatedAt: number;
}

export interface OrderEventContext {
  now: number;
  /** `[expiration] order_days` (or `max_expiration_days`): lifetime of non-pending revisions. */
  orderDays: number;
  relays: string[];
  mostroPubkey: string;
  /** LND networks, joined by ','; `unknown` when LND status is not available. */
  networks: string[] | null;
  instanceName?: string | null;
  /** The maker's reputation, published while the order is pending. */
  reputation?: Reputation | null;
  /** A created_at strictly after the previous revision's (relays keep the newest). */
  createdAt?: number;
}

/** NIP-69's four buckets: which status is published for a daemon status, or null when no event is published. */
export function publishedStatus(kind: OrderKind, status: OrderStatus): OrderStatus | null {
  switch (status) {
    case 'waiting-buyer-invoice':
      return kind === 'sell' ? 'in-progress' : null;
    case 'waiting-payment':
      return kind === 'buy' ? 'in-progress' : null;
    case 'canceled':
    case 'canceled-by-admin':
    case 'cooperatively-canceled':
    case 'expired':
      return 'canceled';
    case 'success':
    case 'completed-by-admin':
    case 'pending':
      return status;
    case 'waiting-taker-bond':
      return 'pending';
    default:
      return null;
  }
}

/** The `rating` tag value: serde_json's `json!` with sorted keys. */
export function ratingTagValue(r: Reputation, now: number): string {
  const days = r.userCreatedAt !== 0 ? Math.floor((now - r.userCreatedAt) / DAY) : 0;
  const total = Number.isInteger(r.totalRating) ? `${r.totalRating}.0` : String(r.totalRating);
  return `["rating",{"days":${days},"total_rating":${total},"total_reviews":${r.totalReviews}}]`;
}

/** The kind-38383 event for an order revision, or null when its status is not published. */
export function orderEvent(o: OrderEventInput, ctx: OrderEventContext): EventTemplate | null {
  const s = publishedStatus(o.kind, o.status);
  if (!s) return null;
  const openForTaking = o.status === 'pending' || o.status === 'waiting-taker-bond';
  const fa =
    openForTaking && o.min_amount !== null && o.max_amount !== null
      ? [String(o.min_amount), String(o.max_amount)]
      : [String(o.fiat_amount)];
  const expiration = s === 'pending' && o.expires_at > 0 ? o.expires_at : ctx.now + ctx.orderDays * DAY;
  const tags: string[][] = [
    ['k', o.kind],
    ['f', o.fiat_code],
    ['s', s],
    ['amt', String(o.amount)],
    ['fa', ...fa],
    ['pm', ...o.payment_method.split(',').filter((p) => p !== '')],
    ['premium', String(o.premium)],
    ['network', ctx.networks ? ctx.networks.join(',') : 'unknown'],
    ['layer', 'lightning'],
    ['expires_at', String(o.expires_at)],
    ['expiration', String(expiration)],
    platformTag(ctx.instanceName),
    ['z', 'order'],
  ];
  // Inserted by position, exactly as upstream does: rating at 7, then source at 8.
  if (openForTaking && ctx.reputation) tags.splice(7, 0, ['rating', ratingTagValue(ctx.reputation, ctx.now)]);
  if (openForTaking) {
    tags.splice(8, 0, ['source', `mostro:${o.id}?relays=${ctx.relays.join(',')}&mostro=${ctx.mostroPubkey}`]);
  }
  return { kind: KIND_ORDER, created_at: ctx.createdAt ?? ctx.now, tags: [['d', o.id], ...tags], content: '' };
}

export interface BondPolicy {
  enabled: boolean;
  amountPct: number;
  baseAmountSats: number;
  applyTo: 'take' | 'make' | 'both';
  slashOnWaitingTimeout: boolean;
  slashNodeSharePct: number;
  payoutClaimWindowDays: number;
}

export interface InfoEventInput {
  now: number;
  mostroPubkey: string;
  version: string;
  commitHash: string;
  maxOrderAmount: number;
  minPaymentAmount: number;
  expirationHours: number;
  expirationSeconds: number;
  fiatCurrenciesAccepted: string[];
  maxOrdersPerResponse: number;
  fee: number;
  pow: number;
  /** Already resolved: v2 `max(pow, pow_first_contact)`, v1 `pow`. */
  powFirstContact: number;
  protocolVersion: 1 | 2;
  holdInvoiceExpirationWindow: number;
  holdInvoiceCltvDelta: number;
  /** The real invoice window (upstream repeats the hold-invoice window here; see docs/protocol-choices.md). */
  invoiceExpirationWindow: number;
  lnd: { version: string; nodePubkey: string; commitHash: string; alias: string; chains: string[]; networks: string[]; uris: string[] };
  instanceName?: string | null;
  bond: BondPolicy | null;
}

/** The kind-38385 info event (no expiration tag), from which clients learn the transport, PoW and limits. */
export function infoEvent(i: InfoEventInput): EventTemplate {
  const tags: string[][] = [
    ['d', i.mostroPubkey],
    ['mostro_version', i.version],
    ['mostro_commit_hash', i.commitHash],
    ['max_order_amount', String(i.maxOrderAmount)],
    ['min_order_amount', String(i.minPaymentAmount)],
    ['expiration_hours', String(i.expirationHours)],
    ['expiration_seconds', String(i.expirationSeconds)],
    ['fiat_currencies_accepted', i.fiatCurrenciesAccepted.join(',')],
    ['max_orders_per_response', String(i.maxOrdersPerResponse)],
    ['fee', rustF64Display(i.fee)],
    ['pow', String(i.pow)],
    ['pow_first_contact', String(i.powFirstContact)],
    ['protocol_version', String(i.protocolVersion)],
    ['hold_invoice_expiration_window', String(i.holdInvoiceExpirationWindow)],
    ['hold_invoice_cltv_delta', String(i.holdInvoiceCltvDelta)],
    ['invoice_expiration_window', String(i.invoiceExpirationWindow)],
    ['lnd_version', i.lnd.version],
    ['lnd_node_pubkey', i.lnd.nodePubkey],
    ['lnd_commit_hash', i.lnd.commitHash],
    ['lnd_node_alias', i.lnd.alias],
    ['lnd_chains', i.lnd.chains.join(',')],
    ['lnd_networks', i.lnd.networks.join(',')],
    ['lnd_uris', i.lnd.uris.join(',')],
    platformTag(i.instanceName),
    ['z', 'info'],
    ['bond_enabled', String(i.bond?.enabled ?? false)],
  ];
  if (i.bond?.enabled) {
    tags.push(
      ['bond_amount_pct', rustF64Display(i.bond.amountPct)],
      ['bond_base_amount_sats', String(i.bond.baseAmountSats)],
      ['bond_apply_to', i.bond.applyTo],
      ['bond_slash_on_waiting_timeout', String(i.bond.slashOnWaitingTimeout)],
      ['bond_slash_node_share_pct', rustF64Display(i.bond.slashNodeSharePct)],
      ['bond_payout_claim_window_days', String(i.bond.payoutClaimWindowDays)],
    );
  }
  return { kind: KIND_INFO, created_at: i.now, tags, content: '' };
}

export interface DisputeEventInput {
  disputeId: string;
  status: 'initiated' | 'in-progress' | 'settled' | 'seller-refunded';
  initiator: 'buyer' | 'seller' | 'unknown';
  /** When the dispute was opened (from the database), not the event time. */
  openedAt: number;
  now: number;
  disputeDays: number;
  instanceName?: string | null;
  /** Strictly after the previous revision's created_at. */
  createdAt?: number;
}

export function disputeEvent(d: DisputeEventInput): EventTemplate {
  return {
    kind: KIND_DISPUTE,
    created_at: d.createdAt ?? d.now,
    tags: [
      ['d', d.disputeId],
      ['expiration', String(d.now + d.disputeDays * DAY)],
      ['s', d.status],
      ['initiator', d.initiator],
      ['created_at', String(d.openedAt)],
      platformTag(d.instanceName),
      ['z', 'dispute'],
    ],
    content: '',
  };
}

export interface RatingEventInput {
  /** The `d` tag: the rated user's trade key (docs), or the rater's (upstream parity). */
  d: string;
  totalReviews: number;
  totalRating: number;
  lastRating: number;
  maxRate: number;
  minRate: number;
  /** Whole days since the rated user first appeared. */
  days: number;
  now: number;
  ratingDays: number;
  /** Add the `y` tag the protocol docs show (upstream omits it). */
  withPlatformTag?: boolean;
  instanceName?: string | null;
}

export function ratingEvent(r: RatingEventInput): EventTemplate {
  const tags: string[][] = [
    ['d', r.d],
    ['expiration', String(r.now + r.ratingDays * DAY)],
    ['total_reviews', String(r.totalReviews)],
    ['total_rating', rustF64Display(r.totalRating)],
    ['last_rating', String(r.lastRating)],
    ['max_rate', String(r.maxRate)],
    ['min_rate', String(r.minRate)],
    ['z', 'rating'],
    ['days', String(r.days)],
  ];
  if (r.withPlatformTag) tags.push(platformTag(r.instanceName));
  return { kind: KIND_RATING, created_at: r.now, tags, content: '' };
}

/**
 * Strictly increasing `created_at` per addressable event: two revisions in the same second would otherwise tie,
 * and relays would keep the one with the lower id instead of the newer one.
 */
export class MonotonicCreatedAt {
  private last = new Map<string, number>();

  next(key: string, now: number): number {
    const prev = this.last.get(key);
    const t = prev !== undefined && now <= prev ? prev + 1 : now;
    this.last.set(key, t);
    return t;
  }
}
