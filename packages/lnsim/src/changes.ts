/**
 * How the network's operations reach its journal atomically: an operation marks what it changed, and when the
 * outermost operation ends (operations nest: settling an invoice finishes its payment) everything it changed is
 * written as one record. Without a journal nothing is tracked.
 */
import type { NextPaymentOutcome, SimInvoice, SimPayment } from './model.js';

/**
 * What one operation changed, as the journal stores it: each changed invoice and payment whole (a later record for
 * the same hash replaces it), the block height, the next-payment control flag (`null`: cleared) and the payments
 * held in flight by `SimNetwork.holdNextPayment`.
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

/** The network's scalar state, read when a record is written (the values at the end of the operation). */
export interface NetworkScalars {
  height: number;
  nextPayment: NextPaymentOutcome | undefined;
  held: ReadonlySet<string>;
}

export type Change = { invoice?: SimInvoice; payment?: SimPayment; height?: true; nextPayment?: true; held?: true };

export class ChangeRecorder {
  private journal: NetworkJournal | undefined;
  /** Nesting depth of operations in progress: the outermost one writes the journal record. */
  private depth = 0;
  private readonly changed = { invoices: new Set<SimInvoice>(), payments: new Set<SimPayment>(), height: false, nextPayment: false, held: false };

  constructor(private readonly scalars: () => NetworkScalars) {}

  attach(journal: NetworkJournal): void {
    this.journal = journal;
  }

  /** Resolves once every change made so far is durable. */
  durable(): Promise<void> {
    // Asked from inside an operation (an event listener): its record is written when it ends, synchronously.
    if (this.depth > 0) return Promise.resolve().then(() => this.durable());
    return this.journal ? this.journal.durable() : Promise.resolve();
  }

  /** Runs one operation; the outermost writes everything it changed as one journal record (atomic on disk). */
  operation<T>(fn: () => T): T {
    this.depth++;
    try {
      return fn();
    } finally {
      if (--this.depth === 0 && this.journal) this.write(this.journal);
    }
  }

  touch(o: Change): void {
    if (!this.journal) return;
    if (o.invoice) this.changed.invoices.add(o.invoice);
    if (o.payment) this.changed.payments.add(o.payment);
    if (o.height) this.changed.height = true;
    if (o.nextPayment) this.changed.nextPayment = true;
    if (o.held) this.changed.held = true;
  }

  private write(journal: NetworkJournal): void {
    const c = this.changed;
    const now = this.scalars();
    const record: NetworkRecord = {};
    if (c.invoices.size) record.invoices = [...c.invoices];
    if (c.payments.size) record.payments = [...c.payments];
    if (c.height) record.height = now.height;
    if (c.nextPayment) record.nextPayment = now.nextPayment ?? null;
    if (c.held) record.held = [...now.held];
    c.invoices.clear();
    c.payments.clear();
    c.height = c.nextPayment = c.held = false;
    if (Object.keys(record).length) journal.append(record);
  }
}
