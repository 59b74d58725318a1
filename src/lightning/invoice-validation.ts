/**
 * Buyer (and bond-payout) invoice validation, rule for rule as the reference daemon (`is_valid_invoice` +
 * `validate_payout_invoice`). A failure becomes `cant-do invalid_invoice` on the wire; the `rule` says which check
 * failed, for logs and tests (the protocol has one reason for all of them).
 */
import invoices, { type ParsedRequest } from 'invoices';
import type { CantDoReason } from '@mostro/protocol/schema';
import { isLnurlLike, lnurlExists, type LnurlOptions } from './lnurl.js';

export interface InvoiceRuleSettings {
  /** `[mostro] min_payment_amount`: a non-zero invoice below it is refused. */
  minPaymentAmount: number;
  /** `[lightning] invoice_expiration_window`: the invoice must live at least this many more seconds. */
  invoiceExpirationWindowSecs: number;
  /** LND's max final CLTV delta (432 blocks); a payee asking for more cannot be paid. */
  maxFinalCltvExpiryDelta: number;
}

export const DEFAULT_INVOICE_RULES: InvoiceRuleSettings = {
  minPaymentAmount: 100,
  invoiceExpirationWindowSecs: 3600,
  maxFinalCltvExpiryDelta: 432,
};

export type InvoiceRule =
  | 'malformed'
  | 'wrong_network'
  | 'cltv_too_large'
  | 'expired'
  | 'wrong_amount'
  | 'below_min_payment'
  | 'expires_too_soon'
  | 'address_unreachable';

export type InvoiceCheck =
  | { valid: true; kind: 'bolt11'; amountSats: number; hash: string; expiresAt: number }
  | { valid: true; kind: 'lnurl' }
  /** `reason` is what the client receives: `cant-do` with `invalid_invoice`, whatever the rule. */
  | { valid: false; rule: InvoiceRule; reason: Extract<CantDoReason, 'invalid_invoice'> };

export interface Bolt11Expectation {
  /** The order amount the invoice must match (after `feeSats` is taken off); omitted = any amount. */
  amountSats?: number;
  feeSats?: number;
}

export interface Bolt11Context {
  /** The daemon node's network as `getNodeInfo` reports it (mainnet | testnet | regtest | signet). */
  nodeNetwork: string;
  /** Unix seconds. */
  now: number;
  rules: InvoiceRuleSettings;
}

const reject = (rule: InvoiceRule): InvoiceCheck => ({ valid: false, rule, reason: 'invalid_invoice' });

/** BOLT11 currency names (`invoices`) and LND chain names for the same network. */
const canonicalNetwork = (name: string): string => (name === 'bitcoin' ? 'mainnet' : name);

/** BOLT11's default `min_final_cltv_expiry_delta` when the invoice carries no `c` field. */
const DEFAULT_FINAL_CLTV = 18;

/** The pure BOLT11 rules. */
export function checkBolt11(request: string, expect: Bolt11Expectation, ctx: Bolt11Context): InvoiceCheck {
  let parsed: ParsedRequest;
  try {
    parsed = invoices.parsePaymentRequest({ request: request.trim() });
  } catch {
    return reject('malformed');
  }
  if (canonicalNetwork(parsed.network) !== canonicalNetwork(ctx.nodeNetwork)) return reject('wrong_network');
  if ((parsed.cltv_delta ?? DEFAULT_FINAL_CLTV) > ctx.rules.maxFinalCltvExpiryDelta) {
    return reject('cltv_too_large');
  }
  const expiresAt = Math.floor(Date.parse(parsed.expires_at) / 1000);
  if (expiresAt <= ctx.now) return reject('expired');
  // Sub-satoshi remainders are dropped, as the reference does (msat / 1000).
  const amountSats = parsed.mtokens ? Number(BigInt(parsed.mtokens) / 1000n) : 0;
  if (expect.amountSats !== undefined) {
    const expected = expect.amountSats - (expect.feeSats ?? 0);
    if (expected < 0 || (amountSats !== 0 && amountSats !== expected)) return reject('wrong_amount');
  }
  if (amountSats > 0 && amountSats < ctx.rules.minPaymentAmount) return reject('below_min_payment');
  if (expiresAt < ctx.now + ctx.rules.invoiceExpirationWindowSecs) return reject('expires_too_soon');
  return { valid: true, kind: 'bolt11', amountSats, hash: parsed.id, expiresAt };
}

/**
 * A payment request as users send it: a Lightning Address or LNURL (must answer as a LNURL-pay endpoint; its amount
 * is checked when the payout resolves it) or a BOLT11 invoice (the rules above).
 */
export async function validatePaymentRequest(
  request: string,
  expect: Bolt11Expectation,
  ctx: Bolt11Context & { lnurl?: LnurlOptions },
): Promise<InvoiceCheck> {
  if (isLnurlLike(request.trim())) {
    return (await lnurlExists(request.trim(), ctx.lnurl)) ? { valid: true, kind: 'lnurl' } : reject('address_unreachable');
  }
  return checkBolt11(request, expect, ctx);
}
