/**
 * A simulated Lightning network for development and tests (never for real money): the daemon's node plus any number
 * of wallets, real signed BOLT11 invoices, LND's invoice state machine (OPEN → ACCEPTED → SETTLED / CANCELED for hold
 * invoices; OPEN → SETTLED for plain ones), a block height for CLTV expiry, and payments that succeed, fail or stay
 * in flight on demand. Every payment is recorded by hash, so tests can assert "paid exactly once".
 *
 * With a journal attached (see journal.ts) every operation's changes are written as one record before anyone is
 * told about them (changes.ts), so the network survives a restart the way an LND node's database does.
 */
import { EventEmitter } from 'node:events';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, randomBytes } from '@noble/hashes/utils.js';
import invoices from 'invoices';
import { encodeBolt11 } from './bolt11.js';
import { ChangeRecorder, type Change, type NetworkJournal, type NetworkRecord } from './changes.js';
import { HOLD_EXPIRY_DELTA, htlcExpiryHeight } from './htlc-expiry.js';
import {
  SimError,
  type FailureReason,
  type NetworkName,
  type NextPaymentOutcome,
  type PaymentStatus,
  type SimInvoice,
  type SimNode,
  type SimPayment,
} from './model.js';

export class SimNetwork extends EventEmitter {
  readonly nodes = new Map<string, SimNode>();
  readonly invoices = new Map<string, SimInvoice>();
  readonly payments = new Map<string, SimPayment>();
  private blockHeight = 800_000;
  private addIndex = 0;
  private settleIndex = 0;
  private paymentCount = 0;
  private nextPaymentOutcome: NextPaymentOutcome | undefined;
  private held = new Set<string>();
  /** Nodes taken off the network by {@link SimNetwork.setOnline}. */
  private readonly offline = new Set<string>();
  private readonly changes = new ChangeRecorder(() => ({ height: this.blockHeight, nextPayment: this.nextPaymentOutcome, held: this.held }));

  constructor(readonly network: NetworkName = 'regtest') {
    super();
    // Every invoice subscription (one per open hold invoice, as LND's SubscribeSingleInvoice) listens here.
    this.setMaxListeners(0);
  }

  get height(): number {
    return this.blockHeight;
  }

  /** From now on every operation's changes go to `journal` (after {@link restore} has replayed what it held). */
  attachJournal(journal: NetworkJournal): void {
    this.changes.attach(journal);
  }

  /**
   * Resolves once every change made so far is durable: answers that reveal a change (gRPC replies, stream updates,
   * control API responses) wait for it, as LND answers only after its database commit.
   */
  durable(): Promise<void> {
    return this.changes.durable();
  }

  /** Applies a journal record (on start, before anything is served): no events, nothing written. */
  restore(record: NetworkRecord): void {
    for (const inv of record.invoices ?? []) {
      this.invoices.set(inv.hash, { ...inv });
      this.addIndex = Math.max(this.addIndex, inv.addIndex);
      this.settleIndex = Math.max(this.settleIndex, inv.settleIndex);
    }
    for (const pay of record.payments ?? []) {
      this.payments.set(pay.hash, { ...pay });
      this.paymentCount = Math.max(this.paymentCount, pay.index);
    }
    if (record.height !== undefined) this.blockHeight = record.height;
    if (record.nextPayment !== undefined) this.nextPaymentOutcome = record.nextPayment ?? undefined;
    if (record.held) this.held = new Set(record.held);
  }

  /** The whole state as records (a journal's compacted form), `chunk` invoices or payments per record. */
  *stateRecords(chunk = 1000): Generator<NetworkRecord> {
    yield { height: this.blockHeight, nextPayment: this.nextPaymentOutcome ?? null, held: [...this.held] };
    for (const [key, map] of [['invoices', this.invoices], ['payments', this.payments]] as const) {
      let batch: (SimInvoice | SimPayment)[] = [];
      for (const item of map.values()) {
        batch.push(item);
        if (batch.length === chunk) {
          yield { [key]: batch };
          batch = [];
        }
      }
      if (batch.length) yield { [key]: batch };
    }
  }

  /** Runs one operation: whatever it changes is written to the journal as one record. */
  private operation<T>(fn: () => T): T {
    return this.changes.operation(fn);
  }

  /** Marks what the operation in progress changed. */
  private touch(o: Change): void {
    this.changes.touch(o);
  }

  addNode(alias: string, secretKey = secp256k1.utils.randomSecretKey()): SimNode {
    const node = { alias, secretKey, pubkey: bytesToHex(secp256k1.getPublicKey(secretKey, true)) };
    this.nodes.set(alias, node);
    return node;
  }

  node(alias: string): SimNode {
    const n = this.nodes.get(alias);
    if (!n) throw new Error(`no simulated node "${alias}"`);
    return n;
  }

  private now(): number {
    return Math.floor(Date.now() / 1000);
  }

  /** Creates a plain invoice (the node knows the preimage) or a hold invoice (for a hash chosen by the caller). */
  createInvoice(o: {
    node: string;
    valueSats: number;
    memo?: string;
    descriptionHash?: string;
    expirySecs?: number;
    cltvDelta?: number;
    hash?: string;
  }): SimInvoice {
    return this.operation(() => {
      const node = this.node(o.node);
      const hold = o.hash !== undefined;
      const preimage = hold ? undefined : bytesToHex(randomBytes(32));
      const hash = o.hash ?? bytesToHex(sha256(hexToBytes(preimage!)));
      if (this.invoices.has(hash)) throw new SimError('invoice with payment hash already exists', 'ALREADY_EXISTS');
      const createdAt = this.now();
      const expirySecs = o.expirySecs ?? 86_400; // LND's default invoice expiry
      const cltvDelta = o.cltvDelta ?? 80;
      const paymentAddr = bytesToHex(randomBytes(32));
      const request = encodeBolt11({
        secretKey: node.secretKey,
        network: this.network,
        hash,
        sats: o.valueSats,
        memo: o.memo ?? '',
        descriptionHash: o.descriptionHash,
        createdAt,
        expirySecs,
        cltvDelta,
        paymentAddr,
      });
      const inv: SimInvoice = {
        hash,
        preimage,
        hold,
        node: o.node,
        request,
        valueSats: o.valueSats,
        memo: o.memo ?? '',
        createdAt,
        expirySecs,
        cltvDelta,
        paymentAddr,
        state: 'OPEN',
        addIndex: ++this.addIndex,
        settleIndex: 0,
        amountPaidMsat: 0,
      };
      this.invoices.set(hash, inv);
      this.touch({ invoice: inv });
      this.emit('invoice', inv);
      return inv;
    });
  }

  settleInvoice(preimage: string): SimInvoice {
    return this.operation(() => {
      const hash = bytesToHex(sha256(hexToBytes(preimage)));
      const inv = this.invoices.get(hash);
      if (!inv) throw new SimError('unable to locate invoice', 'NOT_FOUND');
      if (inv.state === 'SETTLED') return inv;
      if (inv.state !== 'ACCEPTED') throw new SimError(`invoice still ${inv.state.toLowerCase()}`, 'FAILED_PRECONDITION');
      inv.preimage = preimage;
      inv.state = 'SETTLED';
      inv.settleIndex = ++this.settleIndex;
      inv.settledAt = this.now();
      this.touch({ invoice: inv });
      this.emit('invoice', inv);
      const pay = this.payments.get(hash);
      if (pay && pay.status === 'IN_FLIGHT') this.finishPayment(pay, 'SUCCEEDED', preimage);
      return inv;
    });
  }

  cancelInvoice(hash: string): SimInvoice {
    return this.operation(() => {
      const inv = this.invoices.get(hash);
      if (!inv) throw new SimError('unable to locate invoice', 'NOT_FOUND');
      if (inv.state === 'SETTLED') throw new SimError('invoice already settled', 'FAILED_PRECONDITION');
      if (inv.state === 'CANCELED') return inv;
      inv.state = 'CANCELED';
      this.touch({ invoice: inv });
      this.emit('invoice', inv);
      const pay = this.payments.get(hash);
      if (pay && pay.status === 'IN_FLIGHT') this.finishPayment(pay, 'FAILED', undefined, 'FAILURE_REASON_INCORRECT_PAYMENT_DETAILS');
      return inv;
    });
  }

  /** The next payment fails with `reason`, or stays in flight until {@link releaseHeld}. */
  failNextPayment(reason: FailureReason = 'FAILURE_REASON_NO_ROUTE'): void {
    this.operation(() => {
      this.nextPaymentOutcome = { kind: 'fail', reason };
      this.touch({ nextPayment: true });
    });
  }

  holdNextPayment(): void {
    this.operation(() => {
      this.nextPaymentOutcome = { kind: 'hold' };
      this.touch({ nextPayment: true });
    });
  }

  /** Completes payments held in flight: they succeed (or fail with `reason`). */
  releaseHeld(reason?: FailureReason): void {
    this.operation(() => {
      for (const hash of [...this.held]) {
        this.held.delete(hash);
        this.touch({ held: true });
        const pay = this.payments.get(hash)!;
        if (reason) {
          this.finishPayment(pay, 'FAILED', undefined, reason);
        } else {
          this.deliver(pay);
        }
      }
    });
  }

  /**
   * A node pays a BOLT11 request. Like LND, a hash with a payment in flight or already succeeded is refused
   * (`ALREADY_EXISTS`); after a failure a new attempt is allowed.
   */
  pay(from: string, request: string, opts: { amountSats?: number; maxFeeSats?: number } = {}): SimPayment {
    return this.operation(() => {
      this.node(from);
      const parsed = invoices.parsePaymentRequest({ request });
      const hash = parsed.id as string;
      const prev = this.payments.get(hash);
      if (prev && prev.status === 'SUCCEEDED') throw new SimError('invoice is already paid', 'ALREADY_EXISTS');
      if (prev && prev.status === 'IN_FLIGHT') throw new SimError('payment is in transition', 'ALREADY_EXISTS');
      const valueSats = (parsed.tokens as number) || opts.amountSats || 0;
      const pay: SimPayment = {
        hash,
        from,
        request,
        valueSats,
        feeSats: 0,
        status: 'IN_FLIGHT',
        createdAt: this.now(),
        attempts: (prev?.attempts ?? 0) + 1,
        index: prev?.index ?? ++this.paymentCount,
      };
      this.payments.set(hash, pay);
      this.touch({ payment: pay });
      this.emit('payment', pay);
      const outcome = this.nextPaymentOutcome;
      if (outcome) {
        this.nextPaymentOutcome = undefined;
        this.touch({ nextPayment: true });
      }
      if (outcome?.kind === 'fail') {
        this.finishPayment(pay, 'FAILED', undefined, outcome.reason);
      } else if (outcome?.kind === 'hold') {
        this.held.add(hash);
        this.touch({ held: true });
      } else {
        this.deliver(pay);
      }
      return pay;
    });
  }

  /**
   * Takes a node off the network (a wallet whose node is down) or back: a payment to its invoices fails for lack of a
   * route meanwhile, as LND's does when the payee's channel is disabled. Not persisted (a control for tests).
   */
  setOnline(alias: string, online: boolean): void {
    this.node(alias);
    if (online) this.offline.delete(alias);
    else this.offline.add(alias);
  }

  /** The HTLC reaches the payee: settle a plain invoice, accept a hold invoice, or fail. */
  private deliver(pay: SimPayment): void {
    const inv = this.invoices.get(pay.hash);
    if (inv && this.offline.has(inv.node)) {
      this.finishPayment(pay, 'FAILED', undefined, 'FAILURE_REASON_NO_ROUTE');
      return;
    }
    if (!inv || inv.state === 'CANCELED' || inv.state === 'SETTLED' || (inv.node === pay.from)) {
      this.finishPayment(pay, 'FAILED', undefined, 'FAILURE_REASON_INCORRECT_PAYMENT_DETAILS');
      return;
    }
    if (inv.createdAt + inv.expirySecs < this.now()) {
      this.finishPayment(pay, 'FAILED', undefined, 'FAILURE_REASON_INCORRECT_PAYMENT_DETAILS');
      return;
    }
    if (inv.valueSats > 0 && pay.valueSats < inv.valueSats) {
      this.finishPayment(pay, 'FAILED', undefined, 'FAILURE_REASON_INCORRECT_PAYMENT_DETAILS');
      return;
    }
    inv.amountPaidMsat = pay.valueSats * 1000;
    this.touch({ invoice: inv });
    if (inv.hold) {
      inv.state = 'ACCEPTED';
      inv.acceptHeight = this.blockHeight;
      this.emit('invoice', inv);
      return; // in flight until the holder settles or cancels
    }
    inv.state = 'SETTLED';
    inv.settleIndex = ++this.settleIndex;
    inv.settledAt = this.now();
    this.emit('invoice', inv);
    this.finishPayment(pay, 'SUCCEEDED', inv.preimage);
  }

  private finishPayment(pay: SimPayment, status: PaymentStatus, preimage?: string, reason?: FailureReason): void {
    pay.status = status;
    pay.preimage = preimage;
    pay.failureReason = reason;
    this.touch({ payment: pay });
    this.emit('payment', pay);
  }

  /**
   * Mines blocks; an accepted hold invoice whose HTLC comes within LND's hold expiry delta of its expiry is canceled
   * (given back to the payer), as LND does.
   */
  mine(blocks = 1): number {
    return this.operation(() => {
      this.blockHeight += blocks;
      this.touch({ height: true });
      for (const inv of this.invoices.values()) {
        if (inv.hold && inv.state === 'ACCEPTED' && inv.acceptHeight !== undefined && this.blockHeight >= htlcExpiryHeight(inv) - HOLD_EXPIRY_DELTA) {
          this.cancelInvoice(inv.hash);
        }
      }
      this.emit('block', this.blockHeight);
      return this.blockHeight;
    });
  }
}
