/**
 * Lightning activities over the `lightning` client (LND gRPC).
 *
 * Hold-invoice preimages are derived, never stored or returned: preimage = HMAC-SHA256(daemon secret,
 * "mostro-hold-invoice:" + key). `createHoldInvoice` returns only the hash and request; `settleHoldInvoice` recomputes
 * the preimage from the same key. Nothing secret enters workflow history, logs or the database.
 *
 * `payInvoice` is the double-pay guard. The payment is recorded under its purpose before it is dispatched; a retry
 * (after a crash, a timeout, a worker restart) finds the record and reuses its invoice, asks LND whether that hash
 * was already paid or is in flight, and only sends when it was neither. A hash that succeeded is never sent again.
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { ApplicationFailure, Context } from '@temporalio/activity';
import * as ln from 'lightning';
import type { Db } from '../db/database.js';
import {
  checkBolt11,
  DEFAULT_INVOICE_RULES,
  validatePaymentRequest,
  type InvoiceCheck,
  type InvoiceRuleSettings,
} from '../lightning/invoice-validation.js';
import { isLnurlLike, resolveLnurlInvoice, type LnurlOptions } from '../lightning/lnurl.js';
import { metrics } from '../metrics.js';

export interface LightningSettings {
  /** Hold invoice expiry (`[lightning] hold_invoice_expiration_window`, seconds). */
  holdInvoiceExpirySecs: number;
  /** Hold invoice final CLTV delta (`[lightning] hold_invoice_cltv_delta`, blocks). */
  holdInvoiceCltvDelta: number;
  /** Plain invoice expiry (`[lightning] invoice_expiration_window`, seconds). */
  invoiceExpirySecs: number;
  /** Routing fee limit as a fraction of the amount (`[mostro] max_routing_fee`, e.g. 0.001). */
  maxRoutingFeeRatio: number;
  /** How long `payInvoice` waits for a final state before answering `in-flight`. */
  paymentWaitMs: number;
}

export interface LightningDeps {
  lnd: ln.AuthenticatedLnd;
  db: Db;
  /** 32+ bytes; preimages are derived from it. Losing it makes unsettled hold invoices unsettleable. */
  preimageSecret: Uint8Array;
  settings: LightningSettings;
  /** Buyer/payout invoice rules (`min_payment_amount`, `invoice_expiration_window`, max final CLTV). */
  invoiceRules?: InvoiceRuleSettings;
  /** LNURL / Lightning Address resolution (SSRF guard stays on unless a test allows private hosts). */
  lnurl?: LnurlOptions;
  now?: () => number;
}

export interface PayInput {
  /** Idempotency key: one purpose is paid at most once. */
  purpose: string;
  /** BOLT11, Lightning address or LNURL. */
  request: string;
  amountSats: number;
  /** Skip the `min_payment_amount` floor (payments that are not buyer payouts). */
  noMinimum?: boolean;
}

export type PaymentOutcome =
  | { status: 'succeeded'; hash: string; feeSats: number }
  | { status: 'failed'; hash: string; reason: string }
  | { status: 'in-flight'; hash: string };

/** `lightning` errors are `[code, message, details]` arrays; 5xx and connection trouble are worth retrying. */
export function lndError(err: unknown, operation: string): ApplicationFailure {
  metrics.lndErrors.inc({ operation });
  if (Array.isArray(err) && typeof err[0] === 'number') {
    const [code, message] = err as [number, string];
    const retryable = code >= 500 || code === 429;
    // Only code and message travel on: details may echo request fields.
    const text = `${operation}: LND ${code} ${message}`;
    return retryable
      ? ApplicationFailure.retryable(text, 'LndUnavailable')
      : ApplicationFailure.nonRetryable(text, 'LndRejected');
  }
  return ApplicationFailure.retryable(`${operation}: ${(err as Error)?.message ?? String(err)}`, 'LndUnavailable');
}

const detailsOf = (err: unknown): string => (Array.isArray(err) ? JSON.stringify(err[2] ?? '') : '');
const messageOf = (err: unknown): string => (Array.isArray(err) ? String(err[1]) : String((err as Error)?.message ?? err));

/** Genesis block hashes as `getWalletInfo` reports chains. */
const NETWORKS: Record<string, string> = {
  '6fe28c0ab6f1b372c1a6a246ae63f74f931e8365e15a089c68d6190000000000': 'mainnet',
  '43497fd7f826957108f4a30fd9cec3aeba79972084e90ead01ea330900000000': 'testnet',
  '06226e46111a0b59caaf126043eb5bbf28c34f3a5e332a1fc7b2b73cf188910f': 'regtest',
  f61eee3b63a380a477a063af32b2bbc97c9ff9f01f2c4225e973988108000000: 'signet',
};

export function createLightningActivities(deps: LightningDeps) {
  const { lnd, db, settings } = deps;
  const now = deps.now ?? (() => Math.floor(Date.now() / 1000));
  const preimageFor = (key: string) => hmac(sha256, deps.preimageSecret, utf8ToBytes(`mostro-hold-invoice:${key}`));

  const rules = deps.invoiceRules ?? DEFAULT_INVOICE_RULES;
  let nodeNetwork: string | undefined;
  async function network(): Promise<string> {
    if (nodeNetwork === undefined) {
      try {
        const info = await ln.getWalletInfo({ lnd });
        nodeNetwork = info.chains.map((c) => NETWORKS[c] ?? 'unknown').join(',');
      } catch (err) {
        throw lndError(err, 'getNodeInfo');
      }
    }
    return nodeNetwork;
  }

  async function track(hash: string, waitMs: number): Promise<PaymentOutcome> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      let p: ln.GetPaymentResult;
      try {
        p = await ln.getPayment({ lnd, id: hash });
      } catch (err) {
        throw lndError(err, 'getPayment');
      }
      if (p.is_confirmed) return { status: 'succeeded', hash, feeSats: p.payment?.fee ?? 0 };
      if (p.is_failed) return { status: 'failed', hash, reason: failureReason(p.failed) };
      if (Date.now() >= deadline) return { status: 'in-flight', hash };
      await new Promise((r) => setTimeout(r, Math.min(250, Math.max(0, deadline - Date.now()))));
    }
  }

  /** What LND knows of a payment to `hash`: a final or pending state, or nothing. */
  async function existingPayment(hash: string): Promise<PaymentOutcome | 'none'> {
    try {
      const p = await ln.getPayment({ lnd, id: hash });
      if (p.is_confirmed) return { status: 'succeeded', hash, feeSats: p.payment?.fee ?? 0 };
      if (p.is_failed) return { status: 'failed', hash, reason: failureReason(p.failed) };
      return { status: 'in-flight', hash };
    } catch (err) {
      if (Array.isArray(err) && (err[0] === 404 || /not.?found|isn't initiated/i.test(messageOf(err) + detailsOf(err)))) {
        return 'none';
      }
      throw lndError(err, 'getPayment');
    }
  }

  async function record(purpose: string, outcome: PaymentOutcome): Promise<void> {
    await db.payment.update({
      where: { purpose },
      data: {
        status: outcome.status,
        failureReason: outcome.status === 'failed' ? outcome.reason : null,
        feeSats: outcome.status === 'succeeded' ? BigInt(outcome.feeSats) : undefined,
        updatedAt: BigInt(now()),
        version: { increment: 1 },
      },
    });
  }

  // The `min_payment_amount` floor protects buyers' payouts; the daemon's own small payments (the dev fee) skip it.
  const payableRequest = (input: PayInput) =>
    payableRequestFor(db, input, { network, now: now(), rules: input.noMinimum ? { ...rules, minPaymentAmount: 0 } : rules, lnurl: deps.lnurl });

  return {
    async getNodeInfo(): Promise<{
      pubkey: string;
      alias: string;
      network: string;
      blockHeight: number;
      version: string;
      uris: string[];
    }> {
      try {
        const info = await ln.getWalletInfo({ lnd });
        return {
          pubkey: info.public_key,
          alias: info.alias,
          network: info.chains.map((c) => NETWORKS[c] ?? 'unknown').join(','),
          blockHeight: info.current_block_height,
          version: info.version,
          uris: info.uris ?? [],
        };
      } catch (err) {
        throw lndError(err, 'getNodeInfo');
      }
    },

    /**
     * A hold invoice whose preimage is derived from `key` (idempotent: a retry returns the same invoice). The owning
     * workflow (the calling workflow unless given) is recorded first, so the invoice watcher signals it when the
     * invoice is paid (ACCEPTED) or canceled.
     */
    async createHoldInvoice(input: {
      key: string;
      amountSats: number;
      memo: string;
      workflowId?: string;
    }): Promise<{ hash: string; request: string }> {
      const id = bytesToHex(sha256(preimageFor(input.key)));
      const workflowId = input.workflowId ?? callingWorkflowId();
      if (workflowId) {
        const t = BigInt(now());
        await db.holdInvoice.createMany({
          data: [{ paymentHash: id, key: input.key, workflowId, amountSats: BigInt(input.amountSats), createdAt: t, updatedAt: t }],
          skipDuplicates: true,
        });
      }
      try {
        const inv = await ln.createHodlInvoice({
          lnd,
          id,
          tokens: input.amountSats,
          description: input.memo,
          expires_at: new Date((now() + settings.holdInvoiceExpirySecs) * 1000).toISOString(),
          cltv_delta: settings.holdInvoiceCltvDelta,
        });
        return { hash: id, request: inv.request };
      } catch (err) {
        // Created by an earlier attempt: hand out that invoice again.
        try {
          const existing = await ln.getInvoice({ lnd, id });
          if (existing.request) return { hash: id, request: existing.request };
        } catch {
          // fall through to the original error
        }
        throw lndError(err, 'createHoldInvoice');
      }
    },

    /** Settles the hold invoice of `key` (idempotent: already settled is fine). */
    async settleHoldInvoice(input: { key: string }): Promise<{ hash: string }> {
      const preimage = preimageFor(input.key);
      const hash = bytesToHex(sha256(preimage));
      try {
        await ln.settleHodlInvoice({ lnd, secret: bytesToHex(preimage) });
      } catch (err) {
        const inv = await ln.getInvoice({ lnd, id: hash }).catch(() => undefined);
        if (inv?.is_confirmed) return { hash };
        throw lndError(err, 'settleHoldInvoice');
      }
      return { hash };
    },

    /** Cancels a hold invoice (idempotent: already canceled is fine; a settled one cannot be canceled). */
    async cancelHoldInvoice(input: { hash: string }): Promise<void> {
      try {
        await ln.cancelHodlInvoice({ lnd, id: input.hash });
      } catch (err) {
        const inv = await ln.getInvoice({ lnd, id: input.hash }).catch(() => undefined);
        if (inv?.is_canceled) return;
        if (inv?.is_confirmed) throw ApplicationFailure.nonRetryable('cancelHoldInvoice: the invoice is already settled', 'InvoiceSettled');
        throw lndError(err, 'cancelHoldInvoice');
      }
    },

    async lookupInvoice(input: { hash: string }): Promise<{
      state: 'open' | 'held' | 'settled' | 'canceled';
      amountSats: number;
      receivedSats: number;
      request: string;
    }> {
      try {
        const inv = await ln.getInvoice({ lnd, id: input.hash });
        const state = inv.is_confirmed ? 'settled' : inv.is_canceled ? 'canceled' : inv.is_held ? 'held' : 'open';
        return { state, amountSats: inv.tokens, receivedSats: inv.received, request: inv.request ?? '' };
      } catch (err) {
        throw lndError(err, 'lookupInvoice');
      }
    },

    async createInvoice(input: { amountSats: number; memo: string }): Promise<{ hash: string; request: string }> {
      try {
        const inv = await ln.createInvoice({
          lnd,
          tokens: input.amountSats,
          description: input.memo,
          expires_at: new Date((now() + settings.invoiceExpirySecs) * 1000).toISOString(),
        });
        return { hash: inv.id, request: inv.request };
      } catch (err) {
        throw lndError(err, 'createInvoice');
      }
    },

    async decodeInvoice(input: { request: string }): Promise<{
      hash: string;
      destination: string;
      amountSats: number;
      description: string;
      expiresAt: string;
      cltvDelta: number;
    }> {
      try {
        const d = await ln.decodePaymentRequest({ lnd, request: input.request });
        return {
          hash: d.id,
          destination: d.destination,
          amountSats: d.tokens,
          description: d.description ?? '',
          expiresAt: d.expires_at,
          cltvDelta: d.cltv_delta ?? 0,
        };
      } catch (err) {
        throw lndError(err, 'decodeInvoice');
      }
    },

    /**
     * Pays `request` for `purpose`, at most once. Returns the final state, or `in-flight` when the payment is still
     * under way after `paymentWaitMs` (call again to keep tracking: it will not send again).
     */
    /**
     * The reference's invoice rules for a request a user sent (buyer invoice, bond payout invoice). Returns which
     * rule failed rather than throwing: the caller answers `cant-do invalid_invoice` and stores nothing.
     */
    async validateInvoice(input: { request: string; amountSats?: number; feeSats?: number }): Promise<InvoiceCheck> {
      return validatePaymentRequest(
        input.request,
        { amountSats: input.amountSats, feeSats: input.feeSats },
        { nodeNetwork: await network(), now: now(), rules, lnurl: deps.lnurl },
      );
    },

    async payInvoice(input: PayInput): Promise<PaymentOutcome> {
      const request = await payableRequest(input);
      const decoded = await (async () => {
        try {
          return await ln.decodePaymentRequest({ lnd, request });
        } catch (err) {
          throw lndError(err, 'payInvoice: decode');
        }
      })();
      // 1. Record the intent before anything leaves. A retry with another invoice for the same purpose (e.g. a fresh
      //    one from a Lightning address) keeps the first, so one purpose is one payment hash.
      const t = BigInt(now());
      await db.payment.createMany({
        data: [
          {
            purpose: input.purpose,
            paymentHash: decoded.id,
            request,
            amountSats: BigInt(input.amountSats),
            status: 'pending',
            createdAt: t,
            updatedAt: t,
          },
        ],
        skipDuplicates: true,
      });
      const row = await db.payment.findUniqueOrThrow({ where: { purpose: input.purpose } });
      const hash = row.paymentHash;
      if (row.status === 'succeeded') return { status: 'succeeded', hash, feeSats: Number(row.feeSats) };
      // 2. Ask LND before sending: a dispatch from an earlier attempt may be in flight or already done.
      const known = await existingPayment(hash);
      if (known !== 'none' && known.status !== 'failed') {
        const outcome = known.status === 'in-flight' ? await track(hash, settings.paymentWaitMs) : known;
        await record(input.purpose, outcome);
        return outcome;
      }
      // 3. Send (first time, or again after a failure), then follow it to a final state.
      await db.payment.update({
        where: { purpose: input.purpose },
        data: { status: 'in-flight', dispatches: { increment: 1 }, updatedAt: BigInt(now()), version: { increment: 1 } },
      });
      const maxFee = Math.floor(Number(row.amountSats) * settings.maxRoutingFeeRatio);
      const sent = await new Promise<PaymentOutcome | 'dispatched'>((resolve) => {
        const sub = ln.subscribeToPayViaRequest({ lnd, request: row.request, max_fee: maxFee, tokens: decoded.tokens ? undefined : Number(row.amountSats) });
        const timer = setTimeout(() => resolve('dispatched'), settings.paymentWaitMs);
        const done = (o: PaymentOutcome | 'dispatched') => {
          clearTimeout(timer);
          sub.removeAllListeners();
          resolve(o);
        };
        sub.on('confirmed', (c: { fee: number }) => done({ status: 'succeeded', hash, feeSats: c.fee }));
        sub.on('failed', (f: Record<string, unknown>) => done({ status: 'failed', hash, reason: failureReason(f) }));
        sub.on('error', (err: unknown) => {
          // A refusal (already paid or in flight) or a lost connection: LND's own record decides below.
          void err;
          done('dispatched');
        });
      });
      const outcome = sent === 'dispatched' ? await track(hash, 0) : sent;
      await record(input.purpose, outcome);
      metrics.payouts.inc({ purpose: input.purpose.split(':')[0] ?? 'other', outcome: outcome.status });
      return outcome;
    },
  };
}

/**
 * Turns what the user gave into one BOLT11 for this payment. A purpose that already has a recorded payment keeps
 * its invoice (a Lightning address hands out a fresh invoice on every resolution, so re-resolving would change the
 * payment hash that guards against paying twice). A Lightning address / LNURL is resolved for exactly
 * `amountSats`, and the answer must pass the payout rules.
 */
async function payableRequestFor(
  db: Db,
  input: { purpose: string; request: string; amountSats: number },
  ctx: { network: () => Promise<string>; now: number; rules: InvoiceRuleSettings; lnurl?: LnurlOptions },
): Promise<string> {
  const existing = await db.payment.findUnique({ where: { purpose: input.purpose }, select: { request: true } });
  if (existing) return existing.request;
  if (!isLnurlLike(input.request.trim())) return input.request;
  let resolved: string;
  try {
    resolved = await resolveLnurlInvoice(input.request.trim(), input.amountSats, undefined, ctx.lnurl);
  } catch (err) {
    throw ApplicationFailure.nonRetryable(`payInvoice: ${(err as Error).message}`, 'PayoutUnresolvable');
  }
  const check = checkBolt11(resolved, { amountSats: input.amountSats }, { nodeNetwork: await ctx.network(), now: ctx.now, rules: ctx.rules });
  if (!check.valid) throw ApplicationFailure.nonRetryable(`payInvoice: resolved invoice fails rule ${check.rule}`, 'PayoutUnresolvable');
  return resolved;
}

function callingWorkflowId(): string | undefined {
  try {
    return Context.current().info.workflowExecution?.workflowId;
  } catch {
    return undefined; // called outside an activity (tests, tools)
  }
}

function failureReason(f: unknown): string {
  if (!f || typeof f !== 'object') return 'unknown';
  const flags = Object.entries(f as Record<string, unknown>).filter(([k, v]) => k.startsWith('is_') && v === true);
  return flags.length ? flags.map(([k]) => k.slice(3)).join(',') : 'unknown';
}

export type LightningActivities = ReturnType<typeof createLightningActivities>;
