/**
 * A simulated Lightning network for development and tests (never for real money): the daemon's node plus any number
 * of wallets, real signed BOLT11 invoices, LND's invoice state machine (OPEN → ACCEPTED → SETTLED / CANCELED for hold
 * invoices; OPEN → SETTLED for plain ones), a block height for CLTV expiry, and payments that succeed, fail or stay
 * in flight on demand. Every payment is recorded by hash, so tests can assert "paid exactly once".
 *
 * With a journal attached (see journal.ts) every operation's changes are written as one record before anyone is
 * told about them, so the network survives a restart the way an LND node's database does.
 */
import { EventEmitter } from 'node:events';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, randomBytes } from '@noble/hashes/utils.js';
import invoices from 'invoices';

export type InvoiceState = 'OPEN' | 'ACCEPTED' | 'SETTLED' | 'CANCELED';
export type PaymentStatus = 'IN_FLIGHT' | 'SUCCEEDED' | 'FAILED';
export type FailureReason =
  | 'FAILURE_REASON_TIMEOUT'
  | 'FAILURE_REASON_NO_ROUTE'
  | 'FAILURE_REASON_ERROR'
  | 'FAILURE_REASON_INCORRECT_PAYMENT_DETAILS'
  | 'FAILURE_REASON_INSUFFICIENT_BALANCE';

export interface SimInvoice {
  hash: string;
  /** Known for plain invoices from creation; for hold invoices only once the holder settles. */
  preimage?: string;
  hold: boolean;
  node: string;
  request: string;
  valueSats: number;
  memo: string;
  createdAt: number;
  expirySecs: number;
  cltvDelta: number;
  paymentAddr: string;
  state: InvoiceState;
  addIndex: number;
  settleIndex: number;
  amountPaidMsat: number;
  acceptHeight?: number;
  settledAt?: number;
}

export interface SimPayment {
  hash: string;
  from: string;
  request: string;
  valueSats: number;
  feeSats: number;
  status: PaymentStatus;
  failureReason?: FailureReason;
  preimage?: string;
  createdAt: number;
  /** How many times a payment to this hash was dispatched (the double-pay detector). */
  attempts: number;
  /** LND's `payment_index`: the order in which hashes were first paid. */
  index: number;
}

export type NextPaymentOutcome = { kind: 'fail'; reason: FailureReason } | { kind: 'hold' };

/**
 * What one operation changed, as the journal stores it: each changed invoice and payment whole (a later record for
 * the same hash replaces it), the block height, the next-payment control flag (`null`: cleared) and the payments
 * held in flight by {@link SimNetwork.holdNextPayment}.
 */
export interface NetworkRecord {
  invoices?: SimInvoice[];
  payments?: SimPayment[];
  height?: number;
  nextPayment?: NextPaymentOutcome | null;
  held?: string[];
}

/** Where a network writes its changes (journal.ts): `append` is called once per operation, synchronously. */
export interface NetworkJournal {
  append(record: NetworkRecord): void;
  /** Resolves once everything appended so far is on disk. */
  durable(): Promise<void>;
}

export interface SimNode {
  alias: string;
  secretKey: Uint8Array;
  pubkey: string;
}

export type NetworkName = 'regtest' | 'testnet' | 'bitcoin';

/** Signs a BOLT11 invoice with a node key (the simulator's nodes, and tests that need unusual invoices). */
export function encodeBolt11(o: {
  secretKey: Uint8Array;
  network: string;
  hash: string;
  sats: number;
  memo?: string;
  /** Commits to a description by hash (LNURL-pay invoices commit to the service's metadata this way). */
  descriptionHash?: string;
  createdAt: number;
  expirySecs: number;
  cltvDelta?: number;
  paymentAddr?: string;
}): string {
  const destination = bytesToHex(secp256k1.getPublicKey(o.secretKey, true));
  const unsigned = invoices.createUnsignedRequest({
    destination,
    id: o.hash,
    network: o.network,
    tokens: o.sats,
    ...(o.descriptionHash ? { description_hash: o.descriptionHash } : { description: o.memo ?? '' }),
    created_at: new Date(o.createdAt * 1000).toISOString(),
    expires_at: new Date((o.createdAt + o.expirySecs) * 1000).toISOString(),
    cltv_delta: o.cltvDelta,
    payment: o.paymentAddr ?? bytesToHex(randomBytes(32)),
    features: [{ bit: 9 }, { bit: 14 }, { bit: 16 }],
  });
  const signature = bytesToHex(secp256k1.sign(hexToBytes(unsigned.hash), o.secretKey, { prehash: false }));
  return invoices.createSignedRequest({ destination, hrp: unsigned.hrp, signature, tags: unsigned.tags }).request;
}

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
  private journal: NetworkJournal | undefined;
  /** Nesting depth of operations in progress: the outermost one writes the journal record. */
  private opDepth = 0;
  private readonly changed = { invoices: new Set<SimInvoice>(), payments: new Set<SimPayment>(), height: false, nextPayment: false, held: false };

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
    this.journal = journal;
  }

  /**
   * Resolves once every change made so far is durable: answers that reveal a change (gRPC replies, stream updates,
   * control API responses) wait for it, as LND answers only after its database commit.
   */
  durable(): Promise<void> {
    // Asked from inside an operation (an event listener): its record is written when it ends, synchronously.
    if (this.opDepth > 0) return Promise.resolve().then(() => this.durable());
    return this.journal ? this.journal.durable() : Promise.resolve();
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

  /** Runs one operation; the outermost writes everything it changed as one journal record (atomic on disk). */
  private operation<T>(fn: () => T): T {
    this.opDepth++;
    try {
      return fn();
    } finally {
      if (--this.opDepth === 0 && this.journal) this.writeChanges(this.journal);
    }
  }

  private writeChanges(journal: NetworkJournal): void {
    const c = this.changed;
    const record: NetworkRecord = {};
    if (c.invoices.size) record.invoices = [...c.invoices];
    if (c.payments.size) record.payments = [...c.payments];
    if (c.height) record.height = this.blockHeight;
    if (c.nextPayment) record.nextPayment = this.nextPaymentOutcome ?? null;
    if (c.held) record.held = [...this.held];
    c.invoices.clear();
    c.payments.clear();
    c.height = c.nextPayment = c.held = false;
    if (Object.keys(record).length) journal.append(record);
  }

  private touch(o: { invoice?: SimInvoice; payment?: SimPayment; height?: true; nextPayment?: true; held?: true }): void {
    if (!this.journal) return;
    if (o.invoice) this.changed.invoices.add(o.invoice);
    if (o.payment) this.changed.payments.add(o.payment);
    if (o.height) this.changed.height = true;
    if (o.nextPayment) this.changed.nextPayment = true;
    if (o.held) this.changed.held = true;
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

/** The blocks an LND payer adds to the final CLTV delta of what it pays (routing's `BlockPadding`). */
export const PAYER_BLOCK_PADDING = 3;
/**
 * How many blocks before a held HTLC expires LND gives it back to the payer (`--invoices.holdexpirydelta`, default
 * 12), so that the channel is not force-closed: a hold invoice is canceled at its HTLC's expiry height minus this.
 */
export const HOLD_EXPIRY_DELTA = 12;

/** The expiry height of an accepted hold invoice's HTLC: accepted at, plus its final CLTV delta and the payer's padding. */
export function htlcExpiryHeight(inv: Pick<SimInvoice, 'acceptHeight' | 'cltvDelta'>, height = 0): number {
  return (inv.acceptHeight ?? height) + inv.cltvDelta + PAYER_BLOCK_PADDING;
}

export class SimError extends Error {
  constructor(
    message: string,
    readonly code: 'NOT_FOUND' | 'ALREADY_EXISTS' | 'FAILED_PRECONDITION' | 'INVALID_ARGUMENT',
  ) {
    super(message);
    this.name = 'SimError';
  }
}
