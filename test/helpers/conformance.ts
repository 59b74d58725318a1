/**
 * The conformance suite's transcripts (issue 17): scripted traders (this project's client) run the same scenario
 * against mostrod and this daemon, each on the world of support/daemons.ts; every message each party receives is
 * recorded and the two transcripts are compared message by message (test/conformance, docs/conformance.md).
 */
import { bytesToHex } from '@noble/hashes/utils.js';
import { MostroTrader, type Reply } from '../../src/client/trader.js';
import { RelayPool } from '../../src/nostr/relay-pool.js';
import type { DaemonUnderTest, World } from '../../support/daemons.js';

export { startMostrod, startThisDaemon, startWorld, type DaemonName, type DaemonUnderTest, type World } from '../../support/daemons.js';

// ---------------------------------------------------------------------------------------------------------------
// Transcripts

/** One message a party received, normalized for comparison. */
export interface Entry {
  /** `seller#1`: the party and its trade index. */
  to: string;
  action: string;
  request_id: string | null;
  trade_index: number | null;
  id: string | null;
  payload: unknown;
}

/** A scenario's parties and what they received, in order per party. */
export class Transcript {
  readonly parties = new Map<string, MostroTrader>();
  private readonly pool: RelayPool;
  private readonly used = new Map<string, Set<number>>();

  constructor(
    world: World,
    readonly daemon: DaemonUnderTest,
  ) {
    this.pool = new RelayPool([world.relay.url], { backoffMinMs: 20, backoffMaxMs: 100 });
  }

  /** A trader for `role` (a new identity per run; the role `admin` signs as the daemon's own key). */
  party(role: string): MostroTrader {
    let t = this.parties.get(role);
    if (!t) {
      // The admin as mostro-cli runs it (ADMIN_NSEC): the daemon's key as identity and trade key.
      const transport = this.daemon.transport;
      t = role === 'admin' ? new MostroTrader(role, this.pool, this.daemon.pubkey, transport, this.daemon.secretKey, true) : new MostroTrader(role, this.pool, this.daemon.pubkey, transport);
      this.parties.set(role, t);
    }
    return t;
  }

  /** Sends from `role`'s trade key `index`. */
  async send(role: string, index: number, f: Parameters<MostroTrader['send']>[1]): Promise<void> {
    const used = this.used.get(role) ?? new Set<number>();
    used.add(index);
    this.used.set(role, used);
    await this.party(role).send(index, f);
  }

  /** Waits for `role`'s next message on `index` with `action`. */
  next(role: string, index: number, action?: string, timeoutMs = 30_000): Promise<Reply> {
    const used = this.used.get(role) ?? new Set<number>();
    used.add(index);
    this.used.set(role, used);
    return this.party(role).next(index, action, timeoutMs);
  }

  /** Everything every party received, normalized: ids, keys, invoices and clocks replaced by stable names. */
  entries(): Entry[] {
    const names = new Map<string, string>();
    const name = (kind: string, v: string) => {
      let n = names.get(v);
      if (!n) {
        n = `<${kind}${[...names.values()].filter((x) => x.startsWith(`<${kind}`)).length + 1}>`;
        names.set(v, n);
      }
      return n;
    };
    names.set(this.daemon.pubkey, '<mostro>');
    for (const [role, t] of this.parties) {
      names.set(t.identity, `<${role}>`);
      for (const i of this.used.get(role) ?? []) names.set(t.tradePubkey(i), `<${role}#${i}>`);
    }
    const norm = (v: unknown, key = ''): unknown => {
      if (typeof v === 'string') {
        if (names.has(v)) return names.get(v);
        if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(v)) return name('id', v);
        if (/^ln(bc|tb|bcrt)[0-9a-z]+$/.test(v)) return '<bolt11>';
        if (/^[0-9a-f]{64}$/.test(v)) return name('hex', v);
        return v;
      }
      if (typeof v === 'number' && /(^|_)(created_at|expires_at|timestamp|at)$/.test(key) && v > 1_000_000_000) return '<time>';
      if (Array.isArray(v)) return v.map((x) => norm(x, key));
      if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, norm(x, k)]));
      return v;
    };
    const out: Entry[] = [];
    for (const [role, t] of this.parties) {
      for (const i of [...(this.used.get(role) ?? [])].sort()) {
        for (const r of t.received(i)) {
          const inner = Object.values(JSON.parse(r.json) as Record<string, { trade_index?: number | null }>)[0]!;
          out.push({ to: `${role}#${i}`, action: r.action, request_id: r.requestId, trade_index: inner.trade_index ?? null, id: (norm(r.id ?? null) as string | null) ?? null, payload: norm(r.payload) });
        }
      }
    }
    return out;
  }

  close(): void {
    for (const t of this.parties.values()) t.close();
    this.pool.close();
  }
}

/** Every leaf of a value, as `path → value` (paths like `payload.order.amount`). */
function leaves(v: unknown, at: string, out: Map<string, unknown>): Map<string, unknown> {
  if (v && typeof v === 'object') {
    const entries = Array.isArray(v) ? v.map((x, i) => [String(i), x] as const) : Object.entries(v);
    if (entries.length === 0) out.set(at, Array.isArray(v) ? '[]' : '{}');
    for (const [k, x] of entries) leaves(x, at ? `${at}.${k}` : k, out);
  } else out.set(at, v);
  return out;
}

/** The differences between two transcripts, one line each: `scenario party action path: mostrod … | this daemon …`. */
export function compare(scenario: string, ref: Entry[], ours: Entry[]): string[] {
  const diffs: string[] = [];
  const streams = [...new Set([...ref, ...ours].map((e) => e.to))];
  const key = (s: string) => s.replaceAll(' ', '-');
  for (const to of streams) {
    const a = ref.filter((e) => e.to === to);
    const b = ours.filter((e) => e.to === to);
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const x = a[i];
      const y = b[i];
      if (!x || !y || x.action !== y.action) {
        diffs.push(`${key(scenario)} ${to} ${x?.action ?? y?.action} #${i}: mostrod ${x?.action ?? '(nothing)'} | this daemon ${y?.action ?? '(nothing)'}`);
        continue;
      }
      const la = leaves({ request_id: x.request_id, trade_index: x.trade_index, id: x.id, payload: x.payload }, '', new Map());
      const lb = leaves({ request_id: y.request_id, trade_index: y.trade_index, id: y.id, payload: y.payload }, '', new Map());
      for (const p of new Set([...la.keys(), ...lb.keys()])) {
        const va = la.has(p) ? JSON.stringify(la.get(p)) : '(absent)';
        const vb = lb.has(p) ? JSON.stringify(lb.get(p)) : '(absent)';
        if (va !== vb) diffs.push(`${key(scenario)} ${to} ${x.action} ${p}: mostrod ${va} | this daemon ${vb}`);
      }
    }
  }
  return diffs;
}

/** The hold invoice in a `pay-invoice` message. */
export function holdInvoiceIn(r: Reply): string {
  return (r.payload as { payment_request: [unknown, string, unknown] }).payment_request[1];
}

export const hex = bytesToHex;
