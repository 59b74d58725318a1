/**
 * Payments: `payInvoice` pays each debt at most once, `trackPayment` follows a payment to its end.
 *
 * `payInvoice` is the double-pay guard. The payment is recorded under its purpose before it is dispatched; a retry
 * (after a crash, a timeout, a worker restart) finds the record and reuses its invoice, asks LND whether that hash
 * was already paid or is in flight, and only sends when it was neither. A hash that succeeded is never sent again.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import * as ln from 'lightning';
import type { Db } from '../db/database.js';
import { checkBolt11, type InvoiceRuleSettings } from '../lightning/invoice-validation.js';
import { isLnurlLike, resolveLnurlInvoice, type LnurlOptions } from '../lightning/lnurl.js';
import { metrics } from '../metrics.js';
import { lndError, type LightningContext } from './lightning-deps.js';

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

/**
 * The most a payment may cost in routing fees (the reference's `fee_limit_sat`, §20.1): `max_routing_fee` of the
 * amount, but for small payments (≤ 1,000 sats) at least 10 sats (or 1 %) — a ratio of a small amount is less than
 * one hop's base fee on real nodes, and such payouts would fail for want of any route.
 */
export function routingFeeLimit(amountSats: number, ratio: number): number {
  if (amountSats <= 1000) return Math.max(Math.floor(amountSats * 0.01), 10);
  return Math.floor(amountSats * ratio);
}

/** How long a recheck of a payment already known in flight waits for LND to finish it before answering `in-flight`. */
const RECHECK_WAIT_MS = 500;

/** An activity's cancellable sleep (outside an activity, in tools and tests, a plain timer). */
function sleeper(): (ms: number) => Promise<void> {
  try {
    const ctx = Context.current();
    return (ms) => ctx.sleep(ms);
  } catch {
    return (ms) => new Promise((r) => setTimeout(r, ms));
  }
}

/**
 * For calls made once a payment may exist (its state queries, its dispatch): whatever LND answers, the payment's
 * state is unknown, so the activity is retried rather than reporting a failure that might be false.
 */
function retryableLndError(err: unknown, operation: string): ApplicationFailure {
  const e = lndError(err, operation);
  return e.nonRetryable ? ApplicationFailure.retryable(e.message, 'LndUnavailable') : e;
}

const detailsOf = (err: unknown): string => (Array.isArray(err) ? JSON.stringify(err[2] ?? '') : '');
const messageOf = (err: unknown): string => (Array.isArray(err) ? String(err[1]) : String((err as Error)?.message ?? err));

export function createPaymentActivities(c: LightningContext) {
  const { lnd, db, settings, now, rules, network } = c;

  async function track(hash: string, waitMs: number): Promise<PaymentOutcome> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      let p: ln.GetPaymentResult;
      try {
        p = await ln.getPayment({ lnd, id: hash });
      } catch (err) {
        throw retryableLndError(err, 'getPayment');
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
      throw retryableLndError(err, 'getPayment');
    }
  }

  // The `min_payment_amount` floor protects buyers' payouts; the daemon's own small payments (the dev fee) skip it.
  const payableRequest = (input: PayInput) =>
    payableRequestFor(db, input, { network, now: now(), rules: input.noMinimum ? { ...rules, minPaymentAmount: 0 } : rules, lnurl: c.lnurl });

  return {
    /**
     * Pays `request` for `purpose`, at most once, and never while another payment of the same obligation may still
     * succeed. Returns the final state, or `in-flight` when the payment is still under way after `paymentWaitMs`
     * (call again to keep tracking: it will not send again; a payment already known in flight is only looked up,
     * so that a recheck never holds up the trade's messages). Only failures before anything was recorded for the
     * obligation are non-retryable (an unresolvable address, an invoice LND cannot decode, an invoice already being
     * paid for another debt); every later failure is retryable, because the payment's state is then unknown.
     */
    async payInvoice(input: PayInput): Promise<PaymentOutcome> {
      const obligation = obligationOf(input.purpose);
      for (let round = 1; ; round++) {
        const r = await payRound(input, obligation);
        if (r !== 'again') return r;
        // Another attempt of this activity, or of an earlier payment of the debt, moved the record meanwhile.
        if (round >= 10) throw ApplicationFailure.retryable(`payInvoice: the payment record of ${input.purpose} kept changing`, 'PaymentContended');
      }
    },

    /**
     * Waits until LND knows the outcome of the payment to `hash` (hours, if the payee holds it), heartbeating; the
     * order workflow runs it beside the trade and, when it returns, asks `payInvoice` for the outcome of record. It
     * decides nothing itself: a payment LND does not know (yet) is waited for like one in flight. Canceled (its sleep
     * throws) when the trade stops following the payment.
     */
    async trackPayment(input: { hash: string }): Promise<{ status: 'succeeded' | 'failed' }> {
      const sleep = sleeper();
      for (let i = 0; ; i++) {
        const known = await existingPayment(input.hash);
        if (known !== 'none' && known.status !== 'in-flight') return { status: known.status };
        // Every 250 ms at first (most payments end within seconds), then every 2 s.
        await sleep(i < 40 ? 250 : 2000);
      }
    },
  };

  /** One pass over the record and LND: an outcome, or 'again' when the record changed under it. */
  async function payRound(input: PayInput, obligation: string): Promise<PaymentOutcome | 'again'> {
    let row = await db.payment.findUnique({ where: { purpose: input.purpose } });
    if (!row) {
      // 1. Record the intent before anything leaves. A retry that brings another invoice for the same purpose (a
      //    Lightning address hands out fresh ones) finds this row and keeps its invoice: one purpose, one hash.
      const request = await payableRequest(input);
      let hash: string;
      try {
        hash = (await ln.decodePaymentRequest({ lnd, request })).id;
      } catch (err) {
        throw lndError(err, 'payInvoice: decode');
      }
      const t = BigInt(now());
      await db.payment.createMany({
        data: [{ purpose: input.purpose, obligation, paymentHash: hash, request, amountSats: BigInt(input.amountSats), status: 'pending', createdAt: t, updatedAt: t }],
        skipDuplicates: true,
      });
      row = await db.payment.findUnique({ where: { purpose: input.purpose } });
      // Not recorded: a payment of this debt (or to this invoice) is live. Nothing of ours was recorded or sent.
      if (!row) return resolveBlocker(obligation, hash, input.purpose);
    }
    if (row.status === 'succeeded') return { status: 'succeeded', hash: row.paymentHash, feeSats: Number(row.feeSats) };
    // 2. Ask LND before sending: a dispatch from an earlier attempt may be in flight or already done — or failed,
    //    which is this attempt's outcome when the record says it was sent and not heard back from.
    const known = await existingPayment(row.paymentHash);
    if (known !== 'none' && (known.status !== 'failed' || row.status === 'in-flight')) {
      const outcome = known.status === 'in-flight' ? await track(row.paymentHash, row.status === 'in-flight' ? Math.min(RECHECK_WAIT_MS, settings.paymentWaitMs) : settings.paymentWaitMs) : known;
      return (await record(row, outcome)) ? outcome : 'again';
    }
    // 3. Nothing of it is live in LND: claim the dispatch (the database refuses the claim while another payment of
    //    the debt is live), send, and follow the payment to a final state.
    const claimed = await claimDispatch(row);
    if (claimed === 'changed') return 'again';
    if (claimed === 'blocked') return resolveBlocker(obligation, row.paymentHash, input.purpose);
    const outcome = await dispatch(claimed, input.purpose);
    if (!(await record(claimed, outcome))) return 'again';
    metrics.payouts.inc({ purpose: input.purpose.split(':')[0] ?? 'other', outcome: outcome.status });
    return outcome;
  }

  type PaymentRow = NonNullable<Awaited<ReturnType<Db['payment']['findUnique']>>>;

  /** Writes LND's answer onto the row it was read for; false when the row changed since (the caller starts over). */
  async function record(row: PaymentRow, outcome: PaymentOutcome): Promise<boolean> {
    const r = await db.payment.updateMany({
      where: { purpose: row.purpose, version: row.version },
      data: {
        status: outcome.status,
        failureReason: outcome.status === 'failed' ? outcome.reason : null,
        feeSats: outcome.status === 'succeeded' ? BigInt(outcome.feeSats) : undefined,
        updatedAt: BigInt(now()),
        version: { increment: 1 },
      },
    });
    return r.count === 1;
  }

  /** Marks the row in flight before anything is sent: compare-and-set, refused while another payment of the debt is live. */
  async function claimDispatch(row: PaymentRow): Promise<PaymentRow | 'changed' | 'blocked'> {
    const updatedAt = BigInt(now());
    try {
      const r = await db.payment.updateMany({
        where: { purpose: row.purpose, version: row.version },
        data: { status: 'in-flight', failureReason: null, dispatches: { increment: 1 }, updatedAt, version: { increment: 1 } },
      });
      if (r.count === 0) return 'changed';
    } catch (err) {
      if (isUniqueViolation(err)) return 'blocked';
      throw err;
    }
    return { ...row, status: 'in-flight', failureReason: null, dispatches: row.dispatches + 1, updatedAt, version: row.version + 1 };
  }

  async function dispatch(row: PaymentRow, purpose: string): Promise<PaymentOutcome> {
    const hash = row.paymentHash;
    let tokens: number | undefined;
    try {
      tokens = (await ln.decodePaymentRequest({ lnd, request: row.request })).tokens;
    } catch (err) {
      // Decoded before it was recorded: a failure now is LND being unavailable, and the row is claimed.
      throw retryableLndError(err, 'payInvoice: decode');
    }
    const maxFee = routingFeeLimit(Number(row.amountSats), settings.maxRoutingFeeRatio);
    const sent = await new Promise<PaymentOutcome | 'dispatched' | { refused: string }>((resolve) => {
      const sub = ln.subscribeToPayViaRequest({ lnd, request: row.request, max_fee: maxFee, tokens: tokens ? undefined : Number(row.amountSats) });
      const timer = setTimeout(() => resolve('dispatched'), settings.paymentWaitMs);
      const done = (o: PaymentOutcome | 'dispatched' | { refused: string }) => {
        clearTimeout(timer);
        sub.removeAllListeners();
        resolve(o);
      };
      sub.on('confirmed', (c: { fee: number }) => done({ status: 'succeeded', hash, feeSats: c.fee }));
      sub.on('failed', (f: Record<string, unknown>) => done({ status: 'failed', hash, reason: failureReason(f) }));
      sub.on('error', (err: unknown) => {
        // LND refusing the payment outright (4xx) is different from losing the connection: only LND's own record,
        // read below, decides which — a lost connection may have delivered the request.
        const refused = Array.isArray(err) && typeof err[0] === 'number' && err[0] < 500;
        done(refused ? { refused: `${err[0]} ${String(err[1])}` } : 'dispatched');
      });
    });
    if (sent !== 'dispatched' && !('refused' in sent)) return sent;
    const known = await existingPayment(hash);
    if (known !== 'none') return known.status === 'in-flight' ? track(hash, 0) : known;
    // LND has no payment to this hash: refused outright, it never started; else it may still arrive — check again later.
    if (sent !== 'dispatched') return { status: 'failed', hash, reason: `refused by LND (${sent.refused})` };
    activityLog('warn', 'payment sent but unknown to LND so far; checked again later', { purpose });
    return { status: 'in-flight', hash };
  }

  /**
   * Another payment is live for this obligation (or to this invoice): find out from LND what became of it. Its success
   * is this debt's success; while it may still succeed, nothing new is sent; once LND says it failed (or it was
   * never dispatched), it is marked failed and the caller starts over.
   */
  async function resolveBlocker(obligation: string, hash: string, purpose: string): Promise<PaymentOutcome | 'again'> {
    const blocker = await db.payment.findFirst({ where: { status: { not: 'failed' }, OR: [{ obligation }, { paymentHash: hash }] } });
    if (!blocker || blocker.purpose === purpose) return 'again';
    if (blocker.obligation !== obligation) {
      throw ApplicationFailure.nonRetryable(`payInvoice: the invoice of ${purpose} is being paid for another purpose`, 'InvoiceInUse');
    }
    if (blocker.status === 'succeeded') return { status: 'succeeded', hash: blocker.paymentHash, feeSats: Number(blocker.feeSats) };
    const known = await existingPayment(blocker.paymentHash);
    if (known === 'none') {
      // Claimed rows are sent right after the claim: one LND has never heard of long after is a dispatch that died.
      const neverSent = blocker.status === 'pending' || now() - Number(blocker.updatedAt) > STALE_DISPATCH_SECS;
      if (!neverSent) return { status: 'in-flight', hash: blocker.paymentHash };
      await record(blocker, { status: 'failed', hash: blocker.paymentHash, reason: 'never reached LND' });
      return 'again';
    }
    if (!(await record(blocker, known))) return 'again';
    return known.status === 'failed' ? 'again' : known;
  }
}

/** A claimed payment LND still does not know after this long was never sent (its sender died between claim and send). */
const STALE_DISPATCH_SECS = 600;

/** What a payment purpose owes: `payout:<order>:<n>` (the buyer's n-th invoice) owes `payout:<order>`. */
export function obligationOf(purpose: string): string {
  return purpose.replace(/:\d+$/, '');
}

function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: unknown; meta?: { driverAdapterError?: { cause?: { originalCode?: unknown } } } };
  return e?.code === 'P2002' || e?.meta?.driverAdapterError?.cause?.originalCode === '23505';
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

function activityLog(level: 'info' | 'warn', message: string, attrs: Record<string, unknown>): void {
  try {
    Context.current().log[level](message, attrs);
  } catch {
    // called outside an activity (tests, tools)
  }
}

function failureReason(f: unknown): string {
  if (!f || typeof f !== 'object') return 'unknown';
  const flags = Object.entries(f as Record<string, unknown>).filter(([k, v]) => k.startsWith('is_') && v === true);
  return flags.length ? flags.map(([k]) => k.slice(3)).join(',') : 'unknown';
}
