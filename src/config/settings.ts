/**
 * `settings.toml`: mostrod's sections and key names (`[lightning]`, `[nostr]`, `[mostro]`, `[database]`,
 * `[expiration]`, `[price]`, `[anti_abuse_bond]`) plus `[temporal]`, parsed with a TOML library and validated with
 * zod. Every bad value is reported as one line naming its key (`[mostro] fee: …`); an unknown key is an error too (a
 * typo would otherwise silently keep a default). Secrets may instead come from the environment (see ENV_OVERRIDES).
 *
 * What is left unset selects the embedded default: no LND credentials → the simulated Lightning network, no relays →
 * a local relay, no database URL → PGlite in the data directory, no Temporal address → the embedded server, no nsec →
 * a key generated once and kept in the data directory.
 */
import fs from 'node:fs';
import { parse as parseToml, TomlError } from 'smol-toml';
import { z } from 'zod';
import { nip19 } from 'nostr-tools';

const int = (min = 0) => z.number().int().min(min);
const sats = int(0).max(21e14);

/** `host:port` with a port number in range (an IPv6 host in brackets). */
const isHostPort = (v: string): boolean => {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):(\d{1,5})$/.exec(v);
  return m !== null && Number(m[2]) <= 65535;
};
const parsesAsUrl = (v: string): boolean => URL.canParse(v);

const lightning = z.strictObject({
  lnd_cert_file: z.string().min(1).optional(),
  lnd_macaroon_file: z.string().min(1).optional(),
  /** mostrod writes it with a scheme (`https://127.0.0.1:10009`); the scheme is dropped. */
  lnd_grpc_host: z
    .string()
    .refine((v) => isHostPort(v.replace(/^https?:\/\//, '').replace(/\/$/, '')), 'must be host:port, e.g. 127.0.0.1:10009')
    .optional(),
  invoice_expiration_window: int(1).default(3600),
  hold_invoice_cltv_delta: int(18).max(2016).default(144),
  hold_invoice_expiration_window: int(1).default(300),
  payment_attempts: int(1).max(100).default(3),
  payment_retries_interval: int(1).default(60),
  max_final_cltv_expiry_delta: int(1).default(432),
  escrow_deadline_margin_blocks: int(0).default(24),
  // mostrod 0.18.8's payout gates and node-identity guard: accepted, named in the start-up warning, not used.
  max_inflight_payouts: int(0).optional(),
  max_inflight_payouts_per_destination: int(0).optional(),
  payment_cltv_limit: int(0).optional(),
  allow_node_change: z.boolean().optional(),
});

const secretKey = z.string().refine((s) => decodeSecretKey(s) !== null, 'must be an nsec1… key or 64 hex characters');

const relayUrl = z.string().refine((s) => /^wss?:\/\/[^\s]+$/.test(s) && parsesAsUrl(s), 'must be a ws:// or wss:// URL');

const nostr = z.strictObject({
  nsec_privkey: secretKey.optional(),
  relays: z.array(relayUrl).default([]),
});

const mostro = z
  .strictObject({
    name: z.string().optional(),
    about: z.string().optional(),
    picture: z.string().optional(),
    website: z.string().optional(),
    fee: z.number().min(0).lt(1).default(0),
    max_routing_fee: z.number().min(0).lt(1).default(0.002),
    max_order_amount: sats.default(1_000_000),
    min_payment_amount: sats.default(100),
    expiration_hours: int(1).default(24),
    max_expiration_days: int(1).default(15),
    expiration_seconds: int(1).default(900),
    user_rates_sent_interval_seconds: int(1).default(3600),
    publish_relays_interval: int(1).default(60),
    pow: int(0).max(256).default(0),
    transport: z.enum(['nip44', 'gift-wrap']).default('nip44'),
    pow_first_contact: int(0).max(256).optional(),
    active_pubkeys_refresh_interval: int(1).default(60),
    publish_mostro_info_interval: int(1).default(300),
    bitcoin_price_api_url: z.url().default('https://api.yadio.io'),
    fiat_currencies_accepted: z.array(z.string().regex(/^[A-Z]{3,5}$/, 'must be upper-case currency codes')).default(['USD', 'EUR', 'ARS', 'CUP']),
    max_orders_per_response: int(1).default(10),
    dev_fee_percentage: z.number().min(0.1).max(1).default(0.3),
    /** Ours: where the dev fee goes (upstream compiles it in). Empty pays none. */
    dev_fee_lightning_address: z.string().default('mostro_p2p@ln.tips'),
    publish_exchange_rates_to_nostr: z.boolean().default(true),
    exchange_rates_update_interval_seconds: int(1).default(300),
  })
  .refine((m) => m.min_payment_amount <= m.max_order_amount, { message: 'must not exceed max_order_amount', path: ['min_payment_amount'] });

/** mostrod's SQLite file (`sqlite://mostro.db`, its template's value): this daemon then uses its embedded database. */
const isSqliteUrl = (u: string): boolean => /^sqlite:/.test(u);

const database = z.strictObject({
  url: z
    .string()
    .refine(
      (u) => isSqliteUrl(u) || (/^postgres(ql)?:\/\//.test(u) && parsesAsUrl(u)),
      'must be a postgresql:// URL (leave it unset for the embedded PGlite database)',
    )
    .optional(),
});

const expiration = z.strictObject({
  order_days: int(1).default(30),
  rating_days: int(1).default(90),
  dispute_days: int(1).default(90),
  fee_audit_days: int(1).default(365),
  dm_days: int(1).default(30),
});

const price = z.strictObject({
  update_interval_seconds: int(60).default(300),
  max_price_staleness_seconds: int(1).default(1800),
  outlier_threshold_pct: z.number().positive().default(5),
  provider_timeout_seconds: int(1).default(10),
  provider_failure_threshold: int(1).default(3),
  provider_failure_cooldown_seconds: int(1).default(120),
  publish_to_nostr: z.boolean().default(true),
  /** mostrod's multi-source price providers: accepted so its file loads; prices come from bitcoin_price_api_url. */
  providers: z.record(z.string(), z.record(z.string(), z.unknown())).optional(),
});

const antiAbuseBond = z.strictObject({
  enabled: z.boolean().default(false),
  /** Fraction of the order's sats (0.01 = 1 %); absurd values saturate, as upstream. */
  amount_pct: z.number().min(0).default(0.01),
  base_amount_sats: sats.default(1000),
  apply_to: z.enum(['take', 'make', 'both']).default('take'),
  slash_on_waiting_timeout: z.boolean().default(false),
  slash_node_share_pct: z.number().min(0, 'slash_node_share_pct must be in [0.0, 1.0]').max(1, 'slash_node_share_pct must be in [0.0, 1.0]').default(0.5),
  payout_invoice_window_seconds: int(1).default(300),
  payout_max_retries: int(1).default(5),
  payout_claim_window_days: int(1).default(15),
  /** Removed upstream (dispute slashes are always a solver's explicit choice); accepted and ignored so old files load. */
  slash_on_lost_dispute: z.boolean().optional(),
});

const temporal = z.strictObject({
  address: z.string().refine(isHostPort, 'must be host:port').optional(),
  namespace: z.string().min(1).default('default'),
  task_queue: z.string().min(1).default('mostro'),
  /** mTLS to a Temporal cluster: client certificate and key, and the CA that signed the server's certificate. */
  tls_cert_file: z.string().min(1).optional(),
  tls_key_file: z.string().min(1).optional(),
  tls_ca_file: z.string().min(1).optional(),
  tls_server_name: z.string().min(1).optional(),
  api_key: z.string().min(1).optional(),
  /** gzip on the worker's gRPC: worth it across a WAN, pure CPU on loopback or a fast LAN. */
  grpc_compression: z.enum(['gzip', 'none']).default('gzip'),
  /** Activities heartbeat every second; a worker silent this long is presumed dead and its activity moves on. */
  activity_heartbeat_timeout_seconds: int(2).default(10),
  /** How long a finished order's workflow stays open to answer late messages (ratings, cancels) from memory. */
  finished_order_linger_seconds: int(0).default(3600),
  /**
   * Open workflows kept in the worker's memory (~0.3 MB each); the others replay their history when they wake (a
   * pending order's is a few events: milliseconds). The SDK's own default grows with the heap limit (~2,300).
   */
  max_cached_workflows: int(0).default(250),
  /** Worker tuning (unset: the SDK's defaults): concurrent tasks, sandbox threads. */
  max_concurrent_workflow_tasks: int(2).optional(),
  max_concurrent_activities: int(1).optional(),
  workflow_thread_pool_size: int(1).max(64).optional(),
  /** The Web UI's Stack Trace tab (where each workflow waits): off, it costs about half the workflows' CPU. */
  workflow_stack_traces: z.boolean().default(false),
});

/** mostrod's admin gRPC service (`mostro.admin.v1.AdminService`): off by default, loopback when on. */
const rpc = z.strictObject({
  enabled: z.boolean().default(false),
  listen_address: z.string().min(1).default('127.0.0.1'),
  port: int(0).max(65535).default(50051),
  /** mostrod's rate limiter of ValidateDbPassword, a call that checks nothing (there is no database password here). */
  rate_limiter_stale_duration: int(0).optional(),
  /** When set, every mutating call must carry `authorization: Bearer <token>` (as mostrod 0.18.8). */
  auth_token: z.string().min(1, 'must not be empty (leave it out for no token)').optional(),
});

/** mostrod's Cashu escrow mode: not offered here; a file that enables it is refused rather than run without it. */
const cashu = z.strictObject({
  enabled: z.literal(false, 'Cashu escrow is not supported by this daemon (set it to false, or leave [cashu] out)').default(false),
  mint_url: z.string().optional(),
  escrow_locktime_days: int(0).optional(),
});

const metrics = z.strictObject({
  /** host:port of the Prometheus endpoint (`/metrics`, `/healthz`); empty disables it. */
  listen: z
    .string()
    .refine((v) => v === '' || isHostPort(v), 'must be host:port, or "" to switch the endpoint off')
    .default('127.0.0.1:9464'),
});

const SECTIONS = { lightning, nostr, mostro, database, expiration, price, anti_abuse_bond: antiAbuseBond, temporal, metrics, rpc, cashu };

export const settingsSchema = z.strictObject({
  lightning: lightning.prefault({}),
  nostr: nostr.prefault({}),
  mostro: mostro.prefault({}),
  database: database.prefault({}),
  expiration: expiration.prefault({}),
  price: price.prefault({}),
  anti_abuse_bond: antiAbuseBond.prefault({}),
  temporal: temporal.prefault({}),
  metrics: metrics.prefault({}),
  rpc: rpc.prefault({}),
  cashu: cashu.prefault({}),
});

/** Keys mostrod reads that this daemon accepts without using them (one warning names those a file sets). */
const MOSTROD_ONLY: Record<string, string[]> = {
  lightning: ['max_inflight_payouts', 'max_inflight_payouts_per_destination', 'payment_cltv_limit', 'allow_node_change'],
  price: ['providers'],
  rpc: ['rate_limiter_stale_duration'],
  cashu: ['enabled', 'mint_url', 'escrow_locktime_days'],
};

export type Settings = z.output<typeof settingsSchema>;

/**
 * A configuration problem, already phrased for the operator: one line per problem, each naming the key it comes
 * from. `heading`: "cannot start" for what was found checking or starting the parts the settings describe.
 */
export class ConfigError extends Error {
  constructor(
    readonly problems: string[],
    heading = 'invalid configuration',
  ) {
    super(`${heading}:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** Which environment variable set which `section.key` of a loaded Settings (for messages naming a setting). */
const envSources = new WeakMap<object, Record<string, string>>();

/** What the operator should know about a loaded Settings that is not an error (keys only mostrod uses, …). */
const warnings = new WeakMap<object, string[]>();

/** Warnings about the loaded settings, one line each, for the daemon to log at start. */
export function settingsWarnings(s: Settings): string[] {
  return warnings.get(s) ?? [];
}

/** Levenshtein distance, for "did you mean" on an unknown key. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/** The known name closest to an unknown one, when close enough to be a typo. */
function nearest(name: string, known: string[]): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  for (const k of known) {
    const d = distance(name.toLowerCase(), k);
    if (d < bestD) [best, bestD] = [k, d];
  }
  return best !== null && bestD <= Math.max(2, Math.floor(name.length / 3)) ? best : null;
}

function unknownKeyProblem(section: string | undefined, key: string): string {
  if (section === undefined) {
    const near = nearest(key, Object.keys(SECTIONS));
    return `unknown section [${key}]${near ? ` (did you mean [${near}]?)` : ''}`;
  }
  const shape = (SECTIONS as Record<string, { shape?: Record<string, unknown> }>)[section]?.shape;
  const near = shape ? nearest(key, Object.keys(shape)) : null;
  return `[${section}]: unknown key "${key}"${near ? ` (did you mean "${near}"?)` : ''}`;
}

/**
 * How messages name a setting: `[database] url`, plus the environment variable when the value came from one
 * (`[database] url (MOSTRO_DATABASE_URL)`), so the operator knows where to fix it.
 */
export function settingName(s: Settings | undefined, section: string, key: string): string {
  const env = s ? envSources.get(s)?.[`${section}.${key}`] : undefined;
  return `[${section}] ${key}${env ? ` (${env})` : ''}`;
}

/** Environment variables that override keys of the file (secrets and deployment addresses). */
export const ENV_OVERRIDES: Record<string, [section: string, key: string]> = {
  MOSTRO_NSEC_PRIVKEY: ['nostr', 'nsec_privkey'],
  MOSTRO_DATABASE_URL: ['database', 'url'],
  DATABASE_URL: ['database', 'url'],
  MOSTRO_LND_GRPC_HOST: ['lightning', 'lnd_grpc_host'],
  MOSTRO_LND_CERT_FILE: ['lightning', 'lnd_cert_file'],
  MOSTRO_LND_MACAROON_FILE: ['lightning', 'lnd_macaroon_file'],
  TEMPORAL_ADDRESS: ['temporal', 'address'],
  TEMPORAL_NAMESPACE: ['temporal', 'namespace'],
  TEMPORAL_TASK_QUEUE: ['temporal', 'task_queue'],
  TEMPORAL_API_KEY: ['temporal', 'api_key'],
};

function describeIssue(issue: z.core.$ZodIssue, raw: unknown, fromEnv: Record<string, string>): string[] {
  const [section, ...rest] = issue.path.map(String);
  const env = section !== undefined && rest.length === 1 ? fromEnv[`${section}.${rest[0]}`] : undefined;
  const where = section === undefined ? '(top level)' : rest.length ? `[${section}] ${rest.join('.')}${env ? ` (${env})` : ''}` : `[${section}]`;
  if (issue.code === 'unrecognized_keys') return issue.keys.map((k) => unknownKeyProblem(section, k));
  let value: unknown = raw;
  for (const p of issue.path) value = value && typeof value === 'object' ? (value as Record<PropertyKey, unknown>)[p] : undefined;
  const got = value === undefined ? '' : ` (got ${JSON.stringify(value)})`;
  return [`${where}: ${issue.message}${got}`];
}

/** Validates an already parsed TOML document with environment overrides applied over it. */
export function settingsFrom(doc: Record<string, unknown>, env: Record<string, string | undefined> = {}): Settings {
  const merged: Record<string, Record<string, unknown>> = {};
  const fromEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(doc)) merged[k] = v && typeof v === 'object' && !Array.isArray(v) ? { ...(v as Record<string, unknown>) } : (v as never);
  for (const [name, [section, key]] of Object.entries(ENV_OVERRIDES)) {
    const v = env[name];
    if (v === undefined || v === '') continue;
    merged[section] = { ...(merged[section] ?? {}), [key]: v };
    fromEnv[`${section}.${key}`] = name;
  }
  const r = settingsSchema.safeParse(merged);
  if (!r.success) {
    // Secrets are never echoed back, even when malformed.
    const redacted = structuredClone(merged);
    if (redacted.nostr?.nsec_privkey !== undefined) redacted.nostr.nsec_privkey = '<redacted>';
    if (redacted.temporal?.api_key !== undefined) redacted.temporal.api_key = '<redacted>';
    if (redacted.rpc?.auth_token !== undefined) redacted.rpc.auth_token = '<redacted>';
    if (redacted.database?.url !== undefined) redacted.database.url = String(redacted.database.url).replace(/\/\/[^@/]*@/, '//<credentials>@');
    throw new ConfigError(r.error.issues.flatMap((i) => describeIssue(i, redacted, fromEnv)));
  }
  const s = r.data;
  envSources.set(s, fromEnv);
  const notes: string[] = [];
  const unused = Object.entries(MOSTROD_ONLY).flatMap(([section, keys]) => {
    const set = merged[section];
    const present = keys.filter((k) => set && typeof set === 'object' && k in set);
    return present.length ? [`[${section}] ${present.join(', ')}`] : [];
  });
  if (unused.length) notes.push(`settings mostrod uses and this daemon does not (ignored): ${unused.join('; ')}`);
  if (s.database.url !== undefined && isSqliteUrl(s.database.url)) {
    notes.push(`[database] url: ${s.database.url} is mostrod's SQLite file; this daemon keeps its data in PostgreSQL and uses its embedded database in the data directory (set a postgresql:// URL for a server)`);
    delete s.database.url;
  }
  warnings.set(s, notes);
  const lnd = [s.lightning.lnd_grpc_host, s.lightning.lnd_cert_file, s.lightning.lnd_macaroon_file];
  if (lnd.some((v) => v !== undefined) && !lnd.every((v) => v !== undefined)) {
    throw new ConfigError(['[lightning]: lnd_grpc_host, lnd_cert_file and lnd_macaroon_file go together (leave all three unset for the simulated network)']);
  }
  const tls = [s.temporal.tls_cert_file, s.temporal.tls_key_file];
  if (tls.some((v) => v !== undefined) && !tls.every((v) => v !== undefined)) {
    throw new ConfigError(['[temporal]: tls_cert_file and tls_key_file go together']);
  }
  return s;
}

/** Reads `file` (absent → every default) and applies the environment. */
export function loadSettings(file: string | undefined, env: Record<string, string | undefined> = process.env): Settings {
  let doc: Record<string, unknown> = {};
  if (file !== undefined) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError([`${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`]);
    }
    try {
      doc = parseToml(text) as Record<string, unknown>;
    } catch (err) {
      const where = err instanceof TomlError ? ` line ${err.line}, column ${err.column}` : '';
      throw new ConfigError([`${file}:${where}: not valid TOML (${(err as Error).message.split('\n')[0]})`]);
    }
  }
  return settingsFrom(doc, env);
}

/** An nsec1… or 64-hex secret key as bytes; null when it is neither. */
export function decodeSecretKey(s: string): Uint8Array | null {
  const t = s.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return Uint8Array.from(Buffer.from(t, 'hex'));
  if (t.startsWith('nsec1')) {
    try {
      const d = nip19.decode(t);
      return d.type === 'nsec' ? d.data : null;
    } catch {
      return null;
    }
  }
  return null;
}
