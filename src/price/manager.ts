/**
 * The market-price manager (`[price]` settings): polls every provider concurrently, takes per currency the median of
 * the answers after dropping outliers (more than `outlierThresholdPct` away from the first median), and keeps the
 * last good price until it is older than `maxStalenessSecs` — after which market-priced orders are refused with
 * `price_too_stale` rather than traded at an old price. A provider that fails `failureThreshold` times in a row is
 * left out for `failureCooldownSecs`.
 */
import type { Logger } from '../log.js';

/** One price source: fiat units per BTC, by upper-case currency code. */
export interface PriceProvider {
  name: string;
  fetchRates(signal: AbortSignal): Promise<Record<string, number>>;
}

export interface PriceSettings {
  maxStalenessSecs: number;
  outlierThresholdPct: number;
  providerTimeoutSecs: number;
  failureThreshold: number;
  failureCooldownSecs: number;
}

export const DEFAULT_PRICE_SETTINGS: PriceSettings = {
  maxStalenessSecs: 1800,
  outlierThresholdPct: 5,
  providerTimeoutSecs: 10,
  failureThreshold: 3,
  failureCooldownSecs: 120,
};

export type PriceQuote =
  | { ok: true; price: number; updatedAt: number; sources: string[] }
  | { ok: false; reason: 'price_too_stale' | 'no_price' };

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Median with outlier rejection; the contributing providers. */
export function aggregate(answers: { provider: string; price: number }[], outlierThresholdPct: number): { price: number; sources: string[] } | undefined {
  const valid = answers.filter((a) => Number.isFinite(a.price) && a.price > 0);
  if (valid.length === 0) return undefined;
  const first = median(valid.map((a) => a.price));
  const kept = valid.filter((a) => (Math.abs(a.price - first) / first) * 100 <= outlierThresholdPct);
  const use = kept.length > 0 ? kept : valid;
  return { price: median(use.map((a) => a.price)), sources: use.map((a) => a.provider).sort() };
}

export class PriceManager {
  private readonly prices = new Map<string, { price: number; updatedAt: number; sources: string[] }>();
  private readonly failures = new Map<string, { count: number; until: number }>();

  constructor(
    private readonly providers: PriceProvider[],
    private readonly settings: PriceSettings = DEFAULT_PRICE_SETTINGS,
    private readonly log?: Pick<Logger, 'warn'>,
    private readonly now: () => number = () => Math.floor(Date.now() / 1000),
  ) {}

  /** One polling round. Currencies no provider answered keep their previous (aging) price. */
  async refresh(): Promise<{ updated: number; failedProviders: string[] }> {
    const now = this.now();
    const active = this.providers.filter((p) => (this.failures.get(p.name)?.until ?? 0) <= now);
    const results = await Promise.all(
      active.map(async (p) => {
        try {
          const rates = await p.fetchRates(AbortSignal.timeout(this.settings.providerTimeoutSecs * 1000));
          this.failures.delete(p.name);
          return { provider: p.name, rates };
        } catch (err) {
          const f = this.failures.get(p.name) ?? { count: 0, until: 0 };
          f.count += 1;
          if (f.count >= this.settings.failureThreshold) {
            f.until = now + this.settings.failureCooldownSecs;
            f.count = 0;
          }
          this.failures.set(p.name, f);
          this.log?.warn('price provider failed', { provider: p.name, error: (err as Error).message });
          return { provider: p.name, rates: undefined };
        }
      }),
    );
    const byCurrency = new Map<string, { provider: string; price: number }[]>();
    for (const r of results) {
      for (const [code, price] of Object.entries(r.rates ?? {})) {
        const list = byCurrency.get(code.toUpperCase()) ?? [];
        list.push({ provider: r.provider, price });
        byCurrency.set(code.toUpperCase(), list);
      }
    }
    let updated = 0;
    for (const [code, answers] of byCurrency) {
      const agg = aggregate(answers, this.settings.outlierThresholdPct);
      if (agg) {
        this.prices.set(code, { ...agg, updatedAt: now });
        updated++;
      }
    }
    return { updated, failedProviders: results.filter((r) => !r.rates).map((r) => r.provider) };
  }

  /** The price to trade at now, or why there is none. */
  quote(fiatCode: string): PriceQuote {
    const p = this.prices.get(fiatCode.toUpperCase());
    if (!p) return { ok: false, reason: 'no_price' };
    if (this.now() - p.updatedAt > this.settings.maxStalenessSecs) return { ok: false, reason: 'price_too_stale' };
    return { ok: true, ...p };
  }

  /** Every currency with a fresh price (the kind 30078 rates event, the fiat list). */
  snapshot(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [code, p] of this.prices) if (this.now() - p.updatedAt <= this.settings.maxStalenessSecs) out[code] = p.price;
    return out;
  }
}
