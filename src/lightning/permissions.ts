/**
 * Every LND RPC the daemon calls, as macaroon URIs: an operator bakes a macaroon with exactly these
 * (`lncli bakemacaroon`, docs/production.md) instead of handing the daemon LND's admin macaroon. Tested against real
 * LND in test/regtest/macaroon.test.ts: the daemon's Lightning work runs with such a macaroon, and a macaroon without
 * one of them is refused.
 */
export const LND_RPC_URIS = [
  // The node's identity, network and block height (start-up probe, node info, the escrow deadline's height).
  '/lnrpc.Lightning/GetInfo',
  // Escrow and bond hold invoices.
  '/invoicesrpc.Invoices/AddHoldInvoice',
  '/invoicesrpc.Invoices/SettleInvoice',
  '/invoicesrpc.Invoices/CancelInvoice',
  '/invoicesrpc.Invoices/SubscribeSingleInvoice',
  '/lnrpc.Lightning/LookupInvoice',
  // Plain invoices (bond payouts) and decoding what users send.
  '/lnrpc.Lightning/AddInvoice',
  '/lnrpc.Lightning/DecodePayReq',
  // Payouts: sending and following a payment.
  '/routerrpc.Router/SendPaymentV2',
  '/routerrpc.Router/TrackPaymentV2',
] as const;

/** The `lncli` command that bakes the daemon's macaroon (add `--rpcserver`, `--tlscertpath`, `--macaroonpath` as needed). */
export function bakeMacaroonCommand(saveTo = 'mostro.macaroon'): string {
  return `lncli bakemacaroon --save_to ${saveTo} ${LND_RPC_URIS.map((u) => `uri:${u}`).join(' ')}`;
}
