/**
 * A simulated Lightning network for development and tests — never for real money: a node behind LND's gRPC API (so
 * the real `lightning` client talks to it), wallets around it with Lightning Addresses, hold invoices with LND's state
 * machine, real signed BOLT11 invoices, and a journal that keeps it all across a restart.
 */
export { SimNetwork } from './network.js';
export type { InvoiceState, PaymentStatus, FailureReason, SimInvoice, SimPayment, NextPaymentOutcome, SimNode, NetworkName } from './model.js';
export { SimError } from './model.js';
export { startSimLnd, ensureTlsCertificate, type LndCredentials, type SimLndServer } from './lnd-grpc.js';
export { startLnurlServer, type LnurlServer, type LnurlServerOptions } from './lnurl-server.js';
export { startControlServer, type ControlServer } from './control.js';
export { startLnsim, type Lnsim, type LnsimOptions } from './embedded.js';
export { FileJournal, type JournalOptions } from './journal.js';
export { encodeBolt11 } from './bolt11.js';
export type { Logger } from './logger.js';
