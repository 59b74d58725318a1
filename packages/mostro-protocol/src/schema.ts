/**
 * zod schemas and types of the Mostro wire protocol (mostro-core 0.14). Types mirror the JSON exactly (snake_case
 * keys, externally tagged enums), so a value of these types serializes one way only (see `serialize.ts`).
 *
 * Acceptance follows serde's derived deserializers, because the reference daemon re-serializes what it parsed and
 * checks signatures against that: missing `Option` fields are `None`; unknown fields are ignored except in
 * `SmallOrder` (`deny_unknown_fields`); integers must be written as integers; tuples must have every element;
 * an externally tagged enum is an object with exactly one key.
 */
import { z } from 'zod';
import { JsonFloat } from './json.js';

// ---------------------------------------------------------------------------------------------------------------
// Enumerations

export const ACTIONS = [
  'new-order',
  'take-sell',
  'take-buy',
  'pay-invoice',
  'pay-bond-invoice',
  'fiat-sent',
  'fiat-sent-ok',
  'release',
  'released',
  'cancel',
  'canceled',
  'cooperative-cancel-initiated-by-you',
  'cooperative-cancel-initiated-by-peer',
  'dispute-initiated-by-you',
  'dispute-initiated-by-peer',
  'cooperative-cancel-accepted',
  'buyer-invoice-accepted',
  'bond-invoice-accepted',
  'purchase-completed',
  'bond-payout-completed',
  'bond-slashed',
  'hold-invoice-payment-accepted',
  'hold-invoice-payment-settled',
  'hold-invoice-payment-canceled',
  'waiting-seller-to-pay',
  'waiting-buyer-invoice',
  'add-invoice',
  'add-bond-invoice',
  'buyer-took-order',
  'rate',
  'rate-user',
  'rate-received',
  'cant-do',
  'dispute',
  'admin-cancel',
  'admin-canceled',
  'admin-settle',
  'admin-settled',
  'admin-add-solver',
  'admin-take-dispute',
  'admin-took-dispute',
  'payment-failed',
  'invoice-updated',
  'send-dm',
  'trade-pubkey',
  'restore-session',
  'last-trade-index',
  'orders',
  'add-cashu-escrow',
  'cashu-escrow-locked',
  'cashu-pm-signature',
] as const;
export type Action = (typeof ACTIONS)[number];
export const ActionSchema = z.enum(ACTIONS, { error: (iss) => `unknown action ${JSON.stringify(iss.input)}` });

export const ORDER_STATUSES = [
  'active',
  'canceled',
  'canceled-by-admin',
  'settled-by-admin',
  'completed-by-admin',
  'dispute',
  'expired',
  'fiat-sent',
  'settled-hold-invoice',
  'pending',
  'success',
  'waiting-buyer-invoice',
  'waiting-payment',
  'waiting-taker-bond',
  'cooperatively-canceled',
  'in-progress',
  'waiting-maker-bond',
] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/**
 * Statuses an order never leaves. Upstream writes this list without hyphens in SQL (so admin-canceled and
 * cooperatively-canceled orders stay "active" there); the real status strings are used here.
 */
export const TERMINAL_ORDER_STATUSES = [
  'expired',
  'success',
  'canceled',
  'canceled-by-admin',
  'completed-by-admin',
  'settled-by-admin',
  'cooperatively-canceled',
] as const satisfies readonly OrderStatus[];
export const OrderStatusSchema = z.enum(ORDER_STATUSES, { error: (iss) => `unknown order status ${JSON.stringify(iss.input)}` });

export const DISPUTE_STATUSES = ['initiated', 'in-progress', 'seller-refunded', 'settled', 'released'] as const;
export type DisputeStatus = (typeof DISPUTE_STATUSES)[number];
export const DisputeStatusSchema = z.enum(DISPUTE_STATUSES);

export const ORDER_KINDS = ['buy', 'sell'] as const;
export type OrderKind = (typeof ORDER_KINDS)[number];
export const OrderKindSchema = z.enum(ORDER_KINDS);

export const CANT_DO_REASONS = [
  'invalid_signature',
  'invalid_trade_index',
  'invalid_amount',
  'invalid_invoice',
  'invalid_payment_request',
  'invalid_peer',
  'invalid_rating',
  'invalid_text_message',
  'invalid_order_kind',
  'invalid_order_status',
  'invalid_pubkey',
  'invalid_parameters',
  'invalid_payload',
  'order_already_canceled',
  'cant_create_user',
  'is_not_your_order',
  'not_allowed_by_status',
  'out_of_range_fiat_amount',
  'out_of_range_sats_amount',
  'price_too_stale',
  'is_not_your_dispute',
  'dispute_taken_by_admin',
  'not_authorized',
  'dispute_creation_error',
  'not_found',
  'invalid_dispute_status',
  'invalid_action',
  'pending_order_exists',
  'invalid_fiat_currency',
  'too_many_requests',
  'invalid_cashu_token',
  'cashu_mint_unavailable',
  'invalid_mint_url',
  'cashu_escrow_not_locked',
  'cashu_signature_missing',
] as const;
export type CantDoReason = (typeof CANT_DO_REASONS)[number];
export const CantDoReasonSchema = z.enum(CANT_DO_REASONS, { error: (iss) => `unknown cant-do reason ${JSON.stringify(iss.input)}` });

/** The six outer keys of a message; the daemon dispatches on `action` only. */
export const MESSAGE_WRAPPERS = ['order', 'dispute', 'cant-do', 'rate', 'dm', 'restore'] as const;
export type MessageWrapper = (typeof MESSAGE_WRAPPERS)[number];

// ---------------------------------------------------------------------------------------------------------------
// Scalars

const i64 = z.number().int();
const u8 = z.number().int().min(0).max(255);
const u32 = z.number().int().min(0).max(0xffffffff);
const u64 = z.number().int().min(0);
/** f64 fields accept integers and floats alike (serde does). */
const f64 = z.union([z.number(), z.instanceof(JsonFloat).transform((f) => f.value)]);

const U64_MAX = (1n << 64n) - 1n;
/** `request_id`: a u64, kept exact as a bigint. */
export const RequestIdSchema = z
  .union([z.bigint(), z.number().int()])
  .transform((v) => BigInt(v))
  .refine((v) => v >= 0n && v <= U64_MAX, 'request_id must be an unsigned 64-bit integer');

const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/** A UUID in any form the Rust `uuid` crate parses; normalized to lowercase hyphenated, as it prints. */
export function normalizeUuid(s: string): string | undefined {
  let t = s;
  if (/^urn:uuid:/i.test(t)) t = t.slice(9);
  else if (t.startsWith('{') && t.endsWith('}')) t = t.slice(1, -1);
  if (!UUID_RE.test(t)) return undefined;
  const hex = t.replace(/-/g, '').toLowerCase();
  if (t.includes('-') && t.length !== 36) return undefined;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export const UuidSchema = z.string().transform((s, ctx) => {
  const u = normalizeUuid(s);
  if (!u) {
    ctx.addIssue({ code: 'custom', message: 'invalid UUID' });
    return z.NEVER;
  }
  return u;
});

/** An `Option<T>` printed as `null` when absent: missing or null → null. */
const opt = <T extends z.ZodType>(t: T) =>
  t
    .nullable()
    .optional()
    .transform((v) => (v === undefined ? null : v));

/** An `Option<T>` with `skip_serializing_if`: missing or null → absent. */
const skip = <T extends z.ZodType>(t: T) =>
  t
    .nullable()
    .optional()
    .transform((v) => (v === null ? undefined : v));

/** A serde tuple: a JSON array of exactly these elements. */
function tuple<T extends [z.ZodType, ...z.ZodType[]]>(items: T) {
  return z.tuple(items);
}

// ---------------------------------------------------------------------------------------------------------------
// Helper types

export const UserInfoSchema = z.object({ rating: f64, reviews: i64, operating_days: u64 });
export type UserInfo = z.output<typeof UserInfoSchema>;

export const PeerSchema = z.object({ pubkey: z.string(), reputation: opt(UserInfoSchema) });
export type Peer = z.output<typeof PeerSchema>;

export const SmallOrderSchema = z.strictObject({
  id: skip(UuidSchema),
  kind: opt(OrderKindSchema),
  status: opt(OrderStatusSchema),
  amount: i64,
  fiat_code: z.string(),
  min_amount: opt(i64),
  max_amount: opt(i64),
  fiat_amount: i64,
  payment_method: z.string(),
  premium: i64,
  buyer_trade_pubkey: skip(z.string()),
  seller_trade_pubkey: skip(z.string()),
  buyer_invoice: skip(z.string()),
  created_at: opt(i64),
  expires_at: opt(i64),
});
export type SmallOrder = z.output<typeof SmallOrderSchema>;
/** A SmallOrder as written by code: `null`-printed options may be left out. */
export type SmallOrderInput = z.input<typeof SmallOrderSchema>;

export const SolverDisputeInfoSchema = z.object({
  id: UuidSchema,
  kind: z.string(),
  status: z.string(),
  hash: opt(z.string()),
  preimage: opt(z.string()),
  order_previous_status: z.string(),
  initiator_pubkey: z.string(),
  buyer_pubkey: opt(z.string()),
  seller_pubkey: opt(z.string()),
  initiator_full_privacy: z.boolean(),
  counterpart_full_privacy: z.boolean(),
  initiator_info: opt(UserInfoSchema),
  counterpart_info: opt(UserInfoSchema),
  premium: i64,
  payment_method: z.string(),
  amount: i64,
  fiat_amount: i64,
  fee: i64,
  routing_fee: i64,
  buyer_invoice: opt(z.string()),
  invoice_held_at: i64,
  taken_at: i64,
  created_at: i64,
});
export type SolverDisputeInfo = z.output<typeof SolverDisputeInfoSchema>;

export const PaymentFailedInfoSchema = z.object({ payment_attempts: u32, payment_retries_interval: u32 });
export type PaymentFailedInfo = z.output<typeof PaymentFailedInfoSchema>;

export const RestoredOrdersInfoSchema = z.object({ order_id: UuidSchema, trade_index: i64, status: z.string() });
export type RestoredOrdersInfo = z.output<typeof RestoredOrdersInfoSchema>;

export const RestoredDisputesInfoSchema = z.object({
  dispute_id: UuidSchema,
  order_id: UuidSchema,
  trade_index: i64,
  status: z.string(),
  initiator: opt(z.enum(['buyer', 'seller'])),
  solver_pubkey: opt(z.string()),
});
export type RestoredDisputesInfo = z.output<typeof RestoredDisputesInfoSchema>;

export const RestoreSessionInfoSchema = z.object({
  orders: z.array(RestoredOrdersInfoSchema),
  disputes: z.array(RestoredDisputesInfoSchema),
});
export type RestoreSessionInfo = z.output<typeof RestoreSessionInfoSchema>;

export const BondResolutionSchema = z.object({ slash_seller: z.boolean(), slash_buyer: z.boolean() });
export type BondResolution = z.output<typeof BondResolutionSchema>;

export const BondPayoutRequestSchema = z.object({ order: SmallOrderSchema, slashed_at: i64 });
export type BondPayoutRequest = z.output<typeof BondPayoutRequestSchema>;

export const CashuLockProofSchema = z.object({
  token: z.string(),
  mint_url: z.string(),
  buyer_pubkey: z.string(),
  seller_pubkey: z.string(),
  mostro_pubkey: z.string(),
  fee_token: skip(z.string()),
});
export type CashuLockProof = z.output<typeof CashuLockProofSchema>;

export const CashuProofSignatureSchema = z.object({ secret: z.string(), signature: z.string() });
export type CashuProofSignature = z.output<typeof CashuProofSignatureSchema>;

// ---------------------------------------------------------------------------------------------------------------
// Payload (externally tagged, snake_case)

export const PAYLOAD_VARIANTS = {
  order: SmallOrderSchema,
  payment_request: tuple([SmallOrderSchema.nullable(), z.string(), i64.nullable()]),
  text_message: z.string(),
  peer: PeerSchema,
  rating_user: u8,
  amount: i64,
  dispute: tuple([UuidSchema, SolverDisputeInfoSchema.nullable()]),
  cant_do: CantDoReasonSchema.nullable(),
  next_trade: tuple([z.string(), u32]),
  payment_failed: PaymentFailedInfoSchema,
  restore_data: RestoreSessionInfoSchema,
  ids: z.array(UuidSchema),
  orders: z.array(SmallOrderSchema),
  bond_resolution: BondResolutionSchema,
  bond_payout_request: BondPayoutRequestSchema,
  cashu_lock_proof: CashuLockProofSchema,
  cashu_signatures: z.array(CashuProofSignatureSchema),
} as const;

type Variants = typeof PAYLOAD_VARIANTS;
export type PayloadVariant = keyof Variants;
/** One key, one value: `{ order: SmallOrder } | { payment_request: [...] } | …` */
export type Payload = { [K in PayloadVariant]: { [P in K]: z.output<Variants[K]> } }[PayloadVariant];
export type PayloadInput = { [K in PayloadVariant]: { [P in K]: z.input<Variants[K]> } }[PayloadVariant];

/** Parses an externally tagged enum: an object with exactly one of the given keys. */
function externallyTagged<V extends Record<string, z.ZodType>>(variants: V, what: string) {
  return z.unknown().transform((value, ctx) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      ctx.addIssue({ code: 'custom', message: `${what} must be an object with a single key` });
      return z.NEVER;
    }
    const keys = Object.keys(value);
    if (keys.length !== 1) {
      ctx.addIssue({ code: 'custom', message: `${what} must have exactly one key, found ${keys.length}` });
      return z.NEVER;
    }
    const key = keys[0]!;
    const schema = Object.prototype.hasOwnProperty.call(variants, key) ? variants[key] : undefined;
    if (!schema) {
      ctx.addIssue({ code: 'custom', message: `unknown ${what} variant ${JSON.stringify(key)}`, path: [key] });
      return z.NEVER;
    }
    const r = schema.safeParse((value as Record<string, unknown>)[key]);
    if (!r.success) {
      for (const issue of r.error.issues) ctx.addIssue({ ...issue, path: [key, ...issue.path] } as never);
      return z.NEVER;
    }
    return { [key]: r.data } as { [K in keyof V]: { [P in K]: z.output<V[K]> } }[keyof V];
  });
}

export const PayloadSchema = externallyTagged(PAYLOAD_VARIANTS, 'payload') as unknown as z.ZodType<Payload, PayloadInput>;

// ---------------------------------------------------------------------------------------------------------------
// Message

export const MessageKindSchema = z.object({
  version: u8,
  request_id: opt(RequestIdSchema),
  trade_index: opt(i64),
  id: skip(UuidSchema),
  action: ActionSchema,
  payload: opt(PayloadSchema),
});
export type MessageKind = z.output<typeof MessageKindSchema>;
export type MessageKindInput = z.input<typeof MessageKindSchema>;

export type Message = { [W in MessageWrapper]: { [P in W]: MessageKind } }[MessageWrapper];
export type MessageInput = { [W in MessageWrapper]: { [P in W]: MessageKindInput } }[MessageWrapper];

export const MessageSchema = externallyTagged(
  Object.fromEntries(MESSAGE_WRAPPERS.map((w) => [w, MessageKindSchema])) as Record<MessageWrapper, typeof MessageKindSchema>,
  'message',
) as unknown as z.ZodType<Message, MessageInput>;

export { unwrapKind } from './kind.js';
