/**
 * Keeps the spam gate's fast lane current: the pubkeys of parties in an active trade (order buyer/seller/creator
 * keys of non-terminal orders, solvers of open disputes), reloaded every `active_pubkeys_refresh_interval` (60 s
 * upstream). A failed reload keeps the previous set rather than opening or closing the lane.
 */
import type { Logger } from '../log.js';
import type { Intake } from './intake.js';

export interface KnownPubkeysRefresh {
  refreshNow(): Promise<void>;
  stop(): void;
}

export function refreshKnownPubkeys(
  intake: Pick<Intake, 'setKnownPubkeys'>,
  load: () => Promise<Iterable<string>>,
  opts: { intervalMs?: number; log?: Pick<Logger, 'warn'> } = {},
): KnownPubkeysRefresh {
  const refreshNow = async () => {
    try {
      const keys = new Set<string>();
      for (const k of await load()) if (k) keys.add(k);
      intake.setKnownPubkeys(keys);
    } catch (err) {
      opts.log?.warn('could not refresh the active-trade pubkeys; keeping the previous set', { err: String(err) });
    }
  };
  const timer = setInterval(() => void refreshNow(), opts.intervalMs ?? 60_000);
  timer.unref();
  return { refreshNow, stop: () => clearInterval(timer) };
}
