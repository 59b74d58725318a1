/**
 * A yadio-style provider: `GET <base>/exrates/BTC` answers `{"BTC":{"USD":97000.1,"VES":…},"base":"BTC",…}`. The
 * answer is validated with zod; anything else is a provider failure.
 */
import { z } from 'zod';
import type { PriceProvider } from './manager.js';

const ExRates = z.object({ BTC: z.record(z.string(), z.number()) });

export function yadioProvider(baseUrl: string, name = 'yadio'): PriceProvider {
  return {
    name,
    async fetchRates(signal) {
      const res = await fetch(`${baseUrl.replace(/\/$/, '')}/exrates/BTC`, { signal, headers: { accept: 'application/json' } });
      if (!res.ok) throw new Error(`${name}: HTTP ${res.status}`);
      const parsed = ExRates.safeParse(await res.json());
      if (!parsed.success) throw new Error(`${name}: unexpected answer (${parsed.error.issues[0]?.path.join('.') ?? 'body'})`);
      return parsed.data.BTC;
    },
  };
}
