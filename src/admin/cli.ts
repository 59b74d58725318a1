/**
 * `mostro admin <command>`: support tooling against the daemon's Temporal namespace.
 *
 *   stuck [--dispute-hours 24] [--min-attempts 3] [--bond-days 30]   trades (and bond payouts) that need a person
 *   show <order-id>                                  one trade: state, pending activities, Web UI path
 *   signal <order-id> <retry-payout|retry-dev-fee|republish|cancel-with-refund> --reason TEXT [--operator NAME]
 *   add-solver <npub>[:read|:read-write]             appoints a dispute solver (the admin's Nostr message)
 * Every command takes --json for machine-readable output, and --config / --data-dir like the daemon.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client } from '@temporalio/client';
import { temporalTargetOf } from '../config/derive.js';
import { loadSettings, type Settings } from '../config/settings.js';
import { connectClient } from '../temporal/connect.js';
import { EMBEDDED_PORTS } from '../daemon/ports.js';
import type { SupportAction } from '../domain/support.js';
import { findStuckTrades, sendSupportRequest, showTrade, SUPPORT_ACTIONS } from './support.js';
import { MostroTrader } from '../client/trader.js';
import { DAEMON_INFO_FILE } from '../daemon/index.js';
import { KEY_FILE, daemonKey } from '../daemon/keys.js';
import { parseSolver } from '../ingress/actions/admin-add-solver.js';
import { CantDoError } from '../ingress/dispatch.js';
import { RelayPool } from '../nostr/relay-pool.js';
import { publicKeyOf } from '@mostro/protocol';

export const ADMIN_USAGE = `Usage: npm start -- admin <command> [options]

  stuck [--dispute-hours N] [--min-attempts N] [--bond-days N]
        trades that need a person: payouts that failed every attempt, settled escrows not paid yet, disputes open
        longer than N hours (default 24), activities retrying (attempt >= N, default 3), failing workflow tasks, and
        slashed-bond shares that could not be paid within their claim window (ended in the last N days, default 30)
  show <order-id>
        the trade's state (the workflow's getOrder query), pending activities, and its page in the Temporal Web UI
  signal <order-id> <retry-payout|retry-dev-fee|republish|cancel-with-refund> --reason TEXT [--operator NAME]
        a repair request to the trade's workflow (recorded in its history with operator and reason);
        cancel-with-refund ends a trade with a locked escrow by returning the sats to the seller
  add-solver <npub>[:read|:read-write]
        appoints a dispute solver (read-write unless :read), as the admin's admin-add-solver message: sent over Nostr
        with the daemon's key ([nostr] nsec_privkey, or the data directory's key) to its relays ([nostr] relays, or
        the running npm start's embedded relay)

Options: --json, --config FILE, --data-dir DIR. The Temporal address is [temporal] address / TEMPORAL_ADDRESS,
else the embedded server's default 127.0.0.1:${EMBEDDED_PORTS.temporal}.
`;

export class AdminUsageError extends Error {}

/** The daemon's key without ever creating one: from the settings, else the data directory's key file. */
function existingDaemonKey(settings: Settings, dataDir: string): Uint8Array {
  const configured = settings.nostr.nsec_privkey;
  const file = path.join(dataDir, KEY_FILE);
  if (configured === undefined && !fs.existsSync(file)) {
    throw new AdminUsageError(`no daemon key: set [nostr] nsec_privkey (or MOSTRO_NSEC_PRIVKEY), or point --data-dir at the daemon's (${file} does not exist)`);
  }
  return daemonKey(configured, dataDir).key;
}

/** `admin-add-solver` signed by the admin (the daemon's key), sent to the daemon's relays; its answer. */
async function addSolverOverNostr(settings: Settings, dataDir: string, solver: string): Promise<{ ok: true } | { ok: false; reason: string }> {
  const key = existingDaemonKey(settings, dataDir);
  let relays = settings.nostr.relays;
  const infoFile = path.join(dataDir, DAEMON_INFO_FILE);
  if (relays.length === 0 && fs.existsSync(infoFile)) relays = (JSON.parse(fs.readFileSync(infoFile, 'utf8')) as { relays: string[] }).relays;
  if (relays.length === 0) throw new AdminUsageError(`no relays: set [nostr] relays, or start the daemon (its embedded relay is read from ${infoFile})`);
  const pool = new RelayPool(relays);
  const admin = new MostroTrader('admin', pool, publicKeyOf(key), settings.mostro.transport, key);
  try {
    // mostro-cli sends a random id with it; the reference's message shape rules want one.
    const sent = await admin.send(1, { action: 'admin-add-solver', id: randomUUID(), payload: { text_message: solver } });
    for (;;) {
      const reply = await admin.next(1);
      if (reply.requestId !== String(sent.requestId)) continue;
      if (reply.action === 'admin-add-solver') return { ok: true };
      if (reply.action === 'cant-do') return { ok: false, reason: JSON.stringify(reply.payload) };
    }
  } finally {
    admin.close();
    pool.close();
  }
}

export async function runAdmin(argv: string[], out: (line: string) => void = console.log): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      json: { type: 'boolean', default: false },
      config: { type: 'string' },
      'data-dir': { type: 'string', default: '.data' },
      'dispute-hours': { type: 'string', default: '24' },
      'min-attempts': { type: 'string', default: '3' },
      'bond-days': { type: 'string', default: '30' },
      reason: { type: 'string' },
      operator: { type: 'string', default: `${os.userInfo().username}@${os.hostname()}` },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [cmd, ...args] = positionals;
  if (values.help || !cmd) {
    out(ADMIN_USAGE);
    return 0;
  }
  const defaultConfig = path.join(path.resolve(values['data-dir']), 'settings.toml');
  const settings = loadSettings(values.config ?? (fs.existsSync(defaultConfig) ? defaultConfig : undefined));
  const target = temporalTargetOf(settings, `127.0.0.1:${EMBEDDED_PORTS.temporal}`);
  const connection = await connectClient(target);
  const client = new Client({ connection, namespace: target.namespace });
  const print = (human: string[], json: unknown) => (values.json ? out(JSON.stringify(json, null, 2)) : human.forEach((l) => out(l)));
  const number = (name: string, v: string) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new AdminUsageError(`--${name} must be a non-negative number, got "${v}"`);
    return n;
  };
  try {
    switch (cmd) {
      case 'stuck': {
        const stuck = await findStuckTrades(client, {
          disputeHours: number('dispute-hours', values['dispute-hours']),
          minAttempts: number('min-attempts', values['min-attempts']),
          bondDays: number('bond-days', values['bond-days']),
        });
        print(
          stuck.length === 0 ? ['No stuck trades.'] : stuck.map((s) => `${s.orderId}  ${s.problem.padEnd(21)} ${s.status.padEnd(20)} ${s.since ?? ''}  ${s.detail}`),
          stuck,
        );
        return 0;
      }
      case 'show': {
        const [orderId] = args;
        if (!orderId) throw new AdminUsageError('show needs an order id');
        const v = await showTrade(client, orderId);
        const o = v.order;
        print(
          [
            `workflow: ${v.workflowId} (run ${v.runId}, ${v.executionStatus.toLowerCase()})`,
            `web-ui: ${v.webUiPath}`,
            ...(o
              ? [
                  `status: ${o.status}`,
                  `kind: ${o.kind}  amount: ${o.amount} sats  fee: ${o.fee}  fiat: ${o.fiatAmount} ${o.fiatCode}`,
                  `seller: ${o.sellerPubkey ?? '-'}  buyer: ${o.buyerPubkey ?? '-'}`,
                  `payout: attempts ${o.paymentAttempts}${o.failedPayment ? ' (failing)' : ''}  hash ${o.payoutPaymentHash ?? '-'}`,
                ]
              : ['status: (no order state)']),
            ...v.pendingActivities.map((a) => `pending: ${a.type} attempt ${a.attempt}${a.lastFailure ? `: ${a.lastFailure}` : ''}`),
            ...(v.workflowTaskAttempt && v.workflowTaskAttempt > 1 ? [`workflow task failing: attempt ${v.workflowTaskAttempt}`] : []),
          ],
          v,
        );
        return 0;
      }
      case 'signal': {
        const [orderId, action] = args;
        if (!orderId || !action) throw new AdminUsageError('signal needs an order id and a request');
        if (!SUPPORT_ACTIONS.includes(action as SupportAction)) throw new AdminUsageError(`unknown request "${action}" (one of ${SUPPORT_ACTIONS.join(', ')})`);
        if (!values.reason) throw new AdminUsageError('signal needs --reason (it is recorded in the trade history)');
        const r = await sendSupportRequest(client, orderId, { action: action as SupportAction, operator: values.operator, reason: values.reason });
        print([r.sent ? `sent ${action} to order ${orderId}` : `not sent: ${r.why}`], r);
        return r.sent ? 0 : 1;
      }
      case 'add-solver': {
        const [solver] = args;
        if (!solver) throw new AdminUsageError('add-solver needs the solver\'s npub (npub1…[:read|:read-write])');
        try {
          parseSolver(solver);
        } catch (err) {
          if (err instanceof CantDoError) throw new AdminUsageError(`not a solver key: "${solver}" (npub1…, optionally :read or :read-write)`);
          throw err;
        }
        const r = await addSolverOverNostr(settings, path.resolve(values['data-dir']), solver);
        print([r.ok ? `solver ${solver} appointed` : `refused: ${r.reason}`], r);
        return r.ok ? 0 : 1;
      }
      default:
        throw new AdminUsageError(`unknown admin command "${cmd}"`);
    }
  } finally {
    await connection.close();
  }
}
