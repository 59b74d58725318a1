/**
 * What the Lightning activities are built from and share: their dependencies and settings, the clock, the node's
 * network (asked of LND once), and how LND's errors become Temporal failures. Kept apart from the activity groups so
 * that each group (invoices, hold invoices, payments) depends on it alone, never on another group.
 */
import { ApplicationFailure } from '@temporalio/activity';
import * as ln from 'lightning';
import type { Db } from '../db/database.js';
import { DEFAULT_INVOICE_RULES, type InvoiceRuleSettings } from '../lightning/invoice-validation.js';
import type { LnurlOptions } from '../lightning/lnurl.js';
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
  /**
   * Told when a hold invoice was created: an invoice watcher in the same process follows it at once instead of at
   * its next scan (up to `pollMs` later), so a seller who pays immediately is heard immediately.
   */
  onHoldInvoiceCreated?: () => void;
}

/** The dependencies with their defaults filled in, and what the groups share: made once per set of activities. */
export interface LightningContext extends Omit<LightningDeps, 'now' | 'invoiceRules'> {
  /** Unix seconds. */
  now: () => number;
  rules: InvoiceRuleSettings;
  /** The node's network(s) by name, as invoices are checked against it (asked of LND once, then remembered). */
  network: () => Promise<string>;
}

export function lightningContext(deps: LightningDeps): LightningContext {
  const { lnd } = deps;
  let nodeNetwork: string | undefined;
  async function network(): Promise<string> {
    if (nodeNetwork === undefined) {
      try {
        const info = await ln.getWalletInfo({ lnd });
        nodeNetwork = networkNames(info.chains);
      } catch (err) {
        throw lndError(err, 'getNodeInfo');
      }
    }
    return nodeNetwork;
  }
  return {
    ...deps,
    now: deps.now ?? (() => Math.floor(Date.now() / 1000)),
    rules: deps.invoiceRules ?? DEFAULT_INVOICE_RULES,
    network,
  };
}

/** Genesis block hashes as `getWalletInfo` reports chains. */
const NETWORKS: Record<string, string> = {
  '6fe28c0ab6f1b372c1a6a246ae63f74f931e8365e15a089c68d6190000000000': 'mainnet',
  '43497fd7f826957108f4a30fd9cec3aeba79972084e90ead01ea330900000000': 'testnet',
  '06226e46111a0b59caaf126043eb5bbf28c34f3a5e332a1fc7b2b73cf188910f': 'regtest',
  f61eee3b63a380a477a063af32b2bbc97c9ff9f01f2c4225e973988108000000: 'signet',
};

/** The names of the chains `getWalletInfo` reports (mainnet | testnet | regtest | signet), comma-separated. */
export function networkNames(chains: string[]): string {
  return chains.map((c) => NETWORKS[c] ?? 'unknown').join(',');
}

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
