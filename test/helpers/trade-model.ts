/**
 * A model of the world around one order, for the property-based tests of the money paths: LND's hold invoices and
 * payments (with LND's own rules — a hash in flight or paid is not paid again, an ACCEPTED HTLC expires at its CLTV),
 * the parties' inboxes, the database and relay as plain records, and a clock. It implements the order driver's ports
 * (src/workflows/order/driver.ts), so the tests run the very code the order workflow runs, without Temporal.
 *
 * LND is deliberately naive about payouts: it pays whatever it is asked to, like a real node. Whether a second invoice
 * is paid while the first may still succeed is the daemon's business, and the model records every such dispatch as a
 * violation.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { ActivityFailure, ApplicationFailure, RetryState } from '@temporalio/common';
import type { OrderPorts, ChildOrderInput } from '../../src/workflows/order/context.js';
import type { BondPayout } from '../../src/domain/bond.js';
import type { HoldInvoiceUpdate } from '../../src/workflows/shared/hold-invoice.js';

export type HoldState = 'OPEN' | 'ACCEPTED' | 'SETTLED' | 'CANCELED';
export type PaymentStatus = 'IN_FLIGHT' | 'SUCCEEDED' | 'FAILED';
export type PayOutcome = 'succeed' | 'fail' | 'hold';

export interface ModelHold {
  key: string;
  hash: string;
  amountSats: number;
  state: HoldState;
  /** The payer whose HTLC locked it. */
  acceptedAt: number | null;
  /** Every state it went through, in order (the invariants read "settled at most once", "never both"). */
  history: HoldState[];
}

export interface ModelPayment {
  hash: string;
  obligation: string;
  status: PaymentStatus;
  dispatches: number;
  /** The daemon has been told the current failure (a later call sends again, as the activity does). */
  failureReported: boolean;
}

export interface SentMessage {
  to: string;
  wrapper: string;
  action: string;
  json: string;
}

const hex = (s: string) => bytesToHex(sha256(utf8ToBytes(s)));

/** What a payment purpose owes (the activity's rule): `payout:<order>:<n>` owes `payout:<order>`. */
const obligationOf = (purpose: string) => purpose.replace(/:\d+$/, '');

export function activityFailure(type: string, message: string, nonRetryable = true): ActivityFailure {
  return new ActivityFailure('activity failed', 'model', undefined, RetryState.NON_RETRYABLE_FAILURE, 'model', ApplicationFailure.create({ message, type, nonRetryable }));
}

export interface WorldOptions {
  /** The daemon's key: the admin's identity. */
  admin: string;
  /** Identities of solvers and their category (1 read-only, 2 read-write). */
  solvers: Record<string, number>;
  /** Blocks a hold invoice's HTLC stays locked (LND cancels an ACCEPTED invoice this many × 10 min after accepting it). */
  cltvDelta: number;
  startAt: number;
}

export class World {
  now: number;
  readonly holds = new Map<string, ModelHold>();
  readonly payments = new Map<string, ModelPayment>();
  private readonly purposeHash = new Map<string, string>();
  /** What the next dispatched payments do (then: succeed). */
  readonly nextPayments: PayOutcome[] = [];
  /** LND's reports not yet delivered to the workflow (the invoice watcher is asynchronous). */
  readonly reports: HoldInvoiceUpdate[] = [];
  readonly sent: SentMessage[] = [];
  /** Per debt (`payout:<order>`, …): how many messages had been sent when a payment of it last failed. */
  readonly failedAt = new Map<string, number>();
  readonly bondPayouts: BondPayout[] = [];
  readonly children: ChildOrderInput[] = [];
  readonly violations: string[] = [];
  readonly errors: string[] = [];
  readonly disputes = new Map<string, { id: string; open: boolean; createdAt: number }>();
  private ids = 0;
  private events = 0;

  constructor(readonly o: WorldOptions) {
    this.now = o.startAt;
  }

  violation(what: string): void {
    this.violations.push(what);
  }

  // ---- LND, from the payers' side ------------------------------------------------------------------------------

  /** A payer locks an HTLC to the hold invoice: OPEN → ACCEPTED, and LND reports it. */
  payHold(hash: string): boolean {
    const h = this.holds.get(hash);
    if (!h || h.state !== 'OPEN') return false;
    this.move(h, 'ACCEPTED');
    h.acceptedAt = this.now;
    this.reports.push({ hash, state: 'accepted', amountSats: h.amountSats });
    return true;
  }

  /** LND cancels a hold invoice by itself (its CLTV ran out, or it expired unpaid), and reports it. */
  lndCancels(hash: string): boolean {
    const h = this.holds.get(hash);
    if (!h || (h.state !== 'OPEN' && h.state !== 'ACCEPTED')) return false;
    this.move(h, 'CANCELED');
    this.reports.push({ hash, state: 'canceled', amountSats: h.amountSats });
    return true;
  }

  /** Time passes; ACCEPTED HTLCs whose CLTV runs out are canceled back to their payers, as LND does. */
  advance(secs: number): void {
    this.now += secs;
    for (const h of this.holds.values()) {
      if (h.state === 'ACCEPTED' && h.acceptedAt !== null && this.now >= h.acceptedAt + this.o.cltvDelta * 600) this.lndCancels(h.hash);
    }
  }

  /** Payments held in flight complete. */
  resolveHeld(outcome: 'succeed' | 'fail'): void {
    for (const p of this.payments.values()) {
      if (p.status !== 'IN_FLIGHT') continue;
      this.finish(p, outcome === 'succeed' ? 'SUCCEEDED' : 'FAILED');
    }
  }

  private finish(p: ModelPayment, status: 'SUCCEEDED' | 'FAILED'): void {
    p.status = status;
    p.failureReported = false;
    if (status === 'SUCCEEDED') {
      const paid = [...this.payments.values()].filter((q) => q.obligation === p.obligation && q.status === 'SUCCEEDED');
      if (paid.length > 1) this.violation(`${p.obligation} paid ${paid.length} times`);
    }
  }

  private move(h: ModelHold, state: HoldState): void {
    h.state = state;
    h.history.push(state);
  }

  holdOfKey(key: string): ModelHold | undefined {
    return this.holds.get(hex(`hold:${key}`));
  }

  // ---- the ports -----------------------------------------------------------------------------------------------

  ports(): OrderPorts {
    const event = () => ({ eventId: hex(`event:${++this.events}`), createdAt: this.now + this.events });
    return {
      db: {
        projectOrder: async () => {
          return true;
        },
        pendingOrderExists: async () => {
          return false;
        },
        async adoptHoldInvoice() {},
        recordDispute: async (d) => {
          if (!this.disputes.has(d.orderId)) this.disputes.set(d.orderId, { id: d.id, open: true, createdAt: d.createdAt });
        },
        closeDispute: async (i) => {
          const d = this.disputes.get(i.orderId);
          if (!d) return null;
          d.open = false;
          return { id: d.id, createdAt: d.createdAt };
        },
        userReputation: async () => {
          return { rating: 0, reviews: 0, operating_days: 0 };
        },
        disputeContext: async (i) => {
          const category = this.o.solvers[i.identity];
          const who = i.identity === this.o.admin ? { role: 'admin' as const } : category !== undefined ? { role: 'solver' as const, category } : { role: 'none' as const };
          return { who, buyer: null, seller: null };
        },
        applyRating: async () => {
          return { totalReviews: 1, totalRating: 2.5, lastRating: 5, maxRate: 5, minRate: 5, days: 0 };
        },
        takeDispute: async () => {
          return true;
        },
      },
      decision: {
        commitDecision: async (input) => {
          let published: { eventId: string; createdAt: number } | null = null;
          for (const s of input.steps) {
            if (s.type === 'publish') published = event();
            else for (const r of s.replies) this.record(r.to, r.messageJson);
          }
          return { published };
        },
      },
      nostr: {
        sendReplies: async (input) => {
          for (const r of input.replies) this.record(r.to, r.messageJson);
        },
        publishOrderEvent: async () => {
          return event();
        },
        publishDisputeEvent: async () => {
          return event();
        },
        publishRatingEvent: async () => {
          return { eventId: event().eventId };
        },
      },
      ln: {
        validateInvoice: async (i) => {
          return i.request.startsWith('ok:') ? { valid: true as const, kind: 'lnurl' as const } : { valid: false as const, rule: 'wrong_amount' as const, reason: 'invalid_invoice' as const };
        },
        createHoldInvoice: async (i) => {
          const hash = hex(`hold:${i.key}`);
          if (!this.holds.has(hash)) this.holds.set(hash, { key: i.key, hash, amountSats: i.amountSats, state: 'OPEN', acceptedAt: null, history: ['OPEN'] });
          return { hash, request: `lnhold:${hash}` };
        },
        settleHoldInvoice: async (i) => {
          const h = this.holdOfKey(i.key);
          if (h?.state === 'SETTLED') return { hash: h.hash };
          if (h?.state === 'CANCELED') throw activityFailure('InvoiceCanceled', 'settleHoldInvoice: the invoice is canceled');
          if (!h || h.state !== 'ACCEPTED') throw activityFailure('LndRejected', `settleHoldInvoice: invoice is ${h?.state ?? 'unknown'}`);
          this.move(h, 'SETTLED');
          return { hash: h.hash };
        },
        cancelHoldInvoice: async (i) => {
          const h = this.holds.get(i.hash);
          if (!h || h.state === 'CANCELED') return;
          if (h.state === 'SETTLED') throw activityFailure('InvoiceSettled', 'cancelHoldInvoice: the invoice is already settled');
          this.move(h, 'CANCELED');
        },
      },
      lnPay: {
        payInvoice: async (i) => {
          return this.pay(i.purpose, i.request);
        },
      },
      price: {
        getMarketPrice: async () => {
          return { ok: true, price: 100_000, updatedAt: this.now, sources: ['model'] };
        },
      },
      startBondPayout: async (payout) => {
        if (this.bondPayouts.some((p) => p.bondId === payout.bondId)) this.violation(`bond ${payout.bondId} payout started twice`);
        this.bondPayouts.push(payout);
      },
      startChildOrder: async (child) => {
        this.children.push(child);
      },
      upsertSearchAttributes: () => undefined,
      patched: () => true,
      uuid4: () => {
        const h = hex(`uuid:${++this.ids}`);
        return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
      },
      now: () => this.now * 1000,
      interruptible: (fn) => fn(),
      interrupt: () => undefined,
      log: {
        info: () => undefined,
        warn: () => undefined,
        error: (msg, attrs) => void this.errors.push(`${msg} ${JSON.stringify(attrs ?? {})}`),
      },
    };
  }

  private record(to: string, json: string): void {
    const outer = JSON.parse(json) as Record<string, { action: string }>;
    const wrapper = Object.keys(outer)[0]!;
    this.sent.push({ to, wrapper, action: outer[wrapper]!.action, json });
  }

  /** LND's side of the payInvoice activity: one purpose keeps its first invoice; LND refuses a hash in flight or paid. */
  private pay(purpose: string, request: string): { status: 'succeeded'; hash: string; feeSats: number } | { status: 'failed'; hash: string; reason: string } | { status: 'in-flight'; hash: string } {
    const obligation = obligationOf(purpose);
    let hash = this.purposeHash.get(purpose);
    if (!hash) {
      // An invoice names its hash; a Lightning address hands out a fresh invoice per resolution.
      hash = request.startsWith('ok:') ? hex(`invoice:${request}`) : hex(`resolved:${purpose}`);
      this.purposeHash.set(purpose, hash);
    }
    const p = this.payments.get(hash);
    if (p?.status === 'SUCCEEDED') return { status: 'succeeded', hash, feeSats: 0 };
    if (p?.status === 'IN_FLIGHT') return { status: 'in-flight', hash };
    if (p?.status === 'FAILED' && !p.failureReported) {
      p.failureReported = true;
      this.failedAt.set(obligation, this.sent.length);
      return { status: 'failed', hash, reason: 'no_route' };
    }
    // A dispatch. Another payment of the same debt that may still succeed makes this one a possible second payout.
    const live = [...this.payments.values()].filter((q) => q.obligation === obligation && q.hash !== hash && q.status !== 'FAILED');
    if (live.length > 0) this.violation(`${purpose} dispatched while ${live.map((q) => `${q.hash.slice(0, 8)} is ${q.status}`).join(', ')}`);
    const payment = p ?? { hash, obligation, status: 'IN_FLIGHT' as PaymentStatus, dispatches: 0, failureReported: false };
    payment.status = 'IN_FLIGHT';
    payment.dispatches += 1;
    this.payments.set(hash, payment);
    const outcome = this.nextPayments.shift() ?? 'succeed';
    if (outcome === 'hold') return { status: 'in-flight', hash };
    if (outcome === 'fail') {
      this.finish(payment, 'FAILED');
      payment.failureReported = true;
      this.failedAt.set(obligation, this.sent.length);
      return { status: 'failed', hash, reason: 'no_route' };
    }
    this.finish(payment, 'SUCCEEDED');
    return { status: 'succeeded', hash, feeSats: 0 };
  }
}
