/** `npm start` as a child process, the way a newcomer runs it, and the simulated Lightning network's wallets beside it. */
import { ENV_OVERRIDES } from '../../src/config/settings.js';
import type { MostroTrader, Reply } from '../../src/client/trader.js';
import { spawnTs, type Spawned } from '../../support/process.js';

// The daemon under test must see no deployment settings from the test run's environment (DATABASE_URL, …).
const cleanEnv = Object.fromEntries(Object.keys(ENV_OVERRIDES).map((k) => [k, '']));

/** `npm start` on `dataDir`, in its own process group (so the group can be killed as a terminal would). */
export function startDaemon(dataDir: string, extraArgs: string[] = []): Spawned {
  return spawnTs('src/main.ts', ['start', '--data-dir', dataDir, '--ephemeral-ports', '--log-level', 'warn', ...extraArgs], cleanEnv, [], { detached: true });
}

/** Where a started daemon listens, once it says it is ready. */
export async function whereIs(daemon: Spawned): Promise<{ pubkey: string; relay: string; lnsim: string }> {
  await daemon.waitFor(/^Ready\. Press Ctrl\+C to stop\.$/m, 180_000);
  return { pubkey: await daemon.line('pubkey'), relay: await daemon.line('relay'), lnsim: await daemon.line('lnsim') };
}

/** Kills the daemon's whole process group, as `kill -9` of a terminal's job would. */
export async function killDaemon(daemon: Spawned): Promise<void> {
  try {
    process.kill(-daemon.child.pid!, 'SIGKILL');
  } catch {
    // already gone
  }
  await daemon.exited;
}

/** The simulated network's wallets and records (its control API, as `npm run lnsim --` uses it). */
export async function lnsim<T = Record<string, unknown>>(base: string, route: string, body?: unknown): Promise<T> {
  const res = await fetch(`${base}${route}`, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = (await res.json()) as T;
  if (!res.ok) throw new Error(`lnsim ${route}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** The seller's escrow hold invoice (a pay-invoice carrying only the taker's reputation comes first on some paths). */
export async function escrowRequest(seller: MostroTrader, index: number, timeoutMs: number): Promise<string> {
  for (;;) {
    const m: Reply = await seller.next(index, 'pay-invoice', timeoutMs);
    if (m.payload && 'payment_request' in m.payload) return (m.payload as { payment_request: [unknown, string, unknown] }).payment_request[1];
  }
}
