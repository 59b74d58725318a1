/**
 * What the simulated network is made of: nodes, invoices with LND's invoice states, payments with LND's payment
 * states and failure reasons, and the error an operation refuses with (named after the gRPC status LND answers).
 * Shared by the network, its journal, its gRPC face and its control API.
 */

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

/** What the next payment does instead of reaching its payee (a test's control). */
export type NextPaymentOutcome = { kind: 'fail'; reason: FailureReason } | { kind: 'hold' };

export interface SimNode {
  alias: string;
  secretKey: Uint8Array;
  pubkey: string;
}

export type NetworkName = 'regtest' | 'testnet' | 'bitcoin';

export class SimError extends Error {
  constructor(
    message: string,
    readonly code: 'NOT_FOUND' | 'ALREADY_EXISTS' | 'FAILED_PRECONDITION' | 'INVALID_ARGUMENT',
  ) {
    super(message);
    this.name = 'SimError';
  }
}
