/**
 * The settings an order runs under (settings.toml's `[mostro]`, `[lightning]` and `[anti_abuse_bond]` keys that shape
 * a trade). They travel in each order workflow's input and are recorded in its history: a trade keeps the settings it
 * started with, whatever the operator changes later.
 */
import type { BondSettings } from './bond-policy.js';

export interface OrderSettings {
  /** `[mostro] fee` (fraction shared by both parties). */
  feeRate: number;
  devFeePercentage: number;
  fiatCurrenciesAccepted: string[];
  minPaymentAmount: number;
  maxOrderAmount: number;
  expirationHours: number;
  maxExpirationDays: number;
  /** `[mostro] expiration_seconds`: each party's window for its duty in a waiting state. */
  expirationSeconds: number;
  holdInvoiceCltvDelta: number;
  escrowDeadlineMarginBlocks: number;
  paymentAttempts: number;
  paymentRetriesInterval: number;
  /** Where the dev fee goes; null pays none. */
  devFeeLightningAddress: string | null;
  /** How long a finished order's workflow keeps answering (ratings, late cancels) before it closes. */
  lingerSeconds: number;
  /** Activities heartbeat every second; a worker silent this long is presumed dead and the attempt is retried. */
  activityHeartbeatTimeoutSecs: number;
  /** `[anti_abuse_bond]`; absent in orders started before bonds existed (bonds off). */
  bond?: BondSettings;
}
