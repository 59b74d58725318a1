/** Market price for workflows: the cached aggregate, or why there is none (the workflow answers `price_too_stale`). */
import type { PriceManager, PriceQuote } from '../price/manager.js';

export function createPriceActivities(manager: PriceManager) {
  return {
    async getMarketPrice(input: { fiatCode: string }): Promise<PriceQuote> {
      return manager.quote(input.fiatCode);
    },
  };
}

export type PriceActivities = ReturnType<typeof createPriceActivities>;
