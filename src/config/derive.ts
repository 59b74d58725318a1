/** The settings each part of the daemon takes, derived from the validated `settings.toml`. */
import type { LightningSettings } from '../activities/lightning-deps.js';
import type { InvoiceRuleSettings } from '../lightning/invoice-validation.js';
import type { PriceSettings } from '../price/manager.js';
import type { BondPolicy } from '../nostr/events.js';
import type { BondSettings } from '../domain/bond-policy.js';
import type { OrderSettings } from '../domain/order-settings.js';
import type { TemporalTarget } from '../temporal/connect.js';
import type { Settings } from './settings.js';

/** `devFeeAddress` replaces `[mostro] dev_fee_lightning_address` (the simulated network's own address). */
export function orderSettingsOf(s: Settings, devFeeAddress?: string): OrderSettings {
  const address = devFeeAddress ?? s.mostro.dev_fee_lightning_address;
  return {
    feeRate: s.mostro.fee,
    devFeePercentage: s.mostro.dev_fee_percentage,
    fiatCurrenciesAccepted: s.mostro.fiat_currencies_accepted,
    minPaymentAmount: s.mostro.min_payment_amount,
    maxOrderAmount: s.mostro.max_order_amount,
    expirationHours: s.mostro.expiration_hours,
    maxExpirationDays: s.mostro.max_expiration_days,
    expirationSeconds: s.mostro.expiration_seconds,
    holdInvoiceCltvDelta: s.lightning.hold_invoice_cltv_delta,
    escrowDeadlineMarginBlocks: s.lightning.escrow_deadline_margin_blocks,
    paymentAttempts: s.lightning.payment_attempts,
    paymentRetriesInterval: s.lightning.payment_retries_interval,
    devFeeLightningAddress: address === '' ? null : address,
    lingerSeconds: s.temporal.finished_order_linger_seconds,
    activityHeartbeatTimeoutSecs: s.temporal.activity_heartbeat_timeout_seconds,
    bond: bondSettingsOf(s),
  };
}

/** The bond policy the info event (kind 38385) publishes (bonds.md §17). */
export function bondPolicyOf(s: Settings): BondPolicy {
  const { payout: _payout, ...policy } = bondSettingsOf(s);
  return { ...policy, payoutClaimWindowDays: s.anti_abuse_bond.payout_claim_window_days };
}

/** `[anti_abuse_bond]` as order workflows take it (with their settings, so an order keeps the policy it started under). */
export function bondSettingsOf(s: Settings): BondSettings {
  const b = s.anti_abuse_bond;
  return {
    enabled: b.enabled,
    amountPct: b.amount_pct,
    baseAmountSats: b.base_amount_sats,
    applyTo: b.apply_to,
    slashOnWaitingTimeout: b.slash_on_waiting_timeout,
    slashNodeSharePct: b.slash_node_share_pct,
    payout: { claimWindowSecs: b.payout_claim_window_days * 86_400, invoiceWindowSecs: b.payout_invoice_window_seconds, maxRetries: b.payout_max_retries },
  };
}

export function lightningSettingsOf(s: Settings): LightningSettings {
  return {
    // `hold_invoice_expiration_window` is only advertised upstream; the hold invoice itself gets LND's default
    // expiry (a day), so a seller paying late in the waiting window is never refused by LND first.
    holdInvoiceExpirySecs: 86_400,
    holdInvoiceCltvDelta: s.lightning.hold_invoice_cltv_delta,
    invoiceExpirySecs: s.lightning.invoice_expiration_window,
    maxRoutingFeeRatio: s.mostro.max_routing_fee,
    // A payout step waits this long for LND before the trade reads its next message; a payment still in flight
    // after it is followed by the order's payment tracker, which wakes the trade when LND knows.
    paymentWaitMs: 5_000,
  };
}

export function invoiceRulesOf(s: Settings): InvoiceRuleSettings {
  return {
    minPaymentAmount: s.mostro.min_payment_amount,
    invoiceExpirationWindowSecs: s.lightning.invoice_expiration_window,
    maxFinalCltvExpiryDelta: s.lightning.max_final_cltv_expiry_delta,
  };
}

export function priceSettingsOf(s: Settings): PriceSettings {
  return {
    maxStalenessSecs: s.price.max_price_staleness_seconds,
    outlierThresholdPct: s.price.outlier_threshold_pct,
    providerTimeoutSecs: s.price.provider_timeout_seconds,
    failureThreshold: s.price.provider_failure_threshold,
    failureCooldownSecs: s.price.provider_failure_cooldown_seconds,
  };
}

/**
 * Where and how to reach Temporal: `[temporal] address` (with mTLS or an API key), or — when it is unset — the
 * embedded server at `embeddedAddress`.
 */
export function temporalTargetOf(s: Settings, embeddedAddress: string): TemporalTarget {
  const t = s.temporal;
  return {
    address: t.address ?? embeddedAddress,
    namespace: t.namespace,
    taskQueue: t.task_queue,
    embedded: !t.address,
    tls: t.tls_cert_file && t.tls_key_file ? { certFile: t.tls_cert_file, keyFile: t.tls_key_file, caFile: t.tls_ca_file, serverName: t.tls_server_name } : undefined,
    apiKey: t.api_key,
    compression: t.grpc_compression,
  };
}
