/** settings.toml: the template is the documented defaults; every bad value is one error naming its key. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateSecretKey } from 'nostr-tools/pure';
import { nip19 } from 'nostr-tools';
import { bondSettingsOf, orderSettingsOf, temporalTargetOf } from '../../src/config/derive.js';
import { ConfigError, loadSettings, settingsFrom, settingsWarnings } from '../../src/config/settings.js';

const TEMPLATE = path.resolve(import.meta.dirname, '../../settings.tpl.toml');

function tomlFile(text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mostro-settings-'));
  const f = path.join(dir, 'settings.toml');
  fs.writeFileSync(f, text);
  return f;
}

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('settings.toml', () => {
  it('the template file states exactly the defaults', () => {
    const fromTemplate = loadSettings(TEMPLATE, {});
    const defaults = loadSettings(undefined, {});
    expect(fromTemplate).toEqual(defaults);
    // The reference daemon's defaults, spot-checked.
    expect(defaults.mostro).toMatchObject({ fee: 0, max_order_amount: 1_000_000, min_payment_amount: 100, expiration_hours: 24, expiration_seconds: 900, transport: 'nip44', dev_fee_percentage: 0.3 });
    expect(defaults.mostro.fiat_currencies_accepted).toEqual(['USD', 'EUR', 'ARS', 'CUP']);
    expect(defaults.lightning).toMatchObject({ invoice_expiration_window: 3600, hold_invoice_cltv_delta: 144, payment_attempts: 3, payment_retries_interval: 60 });
    expect(defaults.expiration).toEqual({ order_days: 30, rating_days: 90, dispute_days: 90, fee_audit_days: 365, dm_days: 30 });
    // Unset parts select the embedded default.
    expect(defaults.nostr.relays).toEqual([]);
    expect(defaults.database.url).toBeUndefined();
    expect(defaults.temporal.address).toBeUndefined();
    expect(defaults.lightning.lnd_grpc_host).toBeUndefined();
  });

  it('values from the file reach the order workflows', () => {
    const f = tomlFile('[mostro]\nfee = 0.006\nfiat_currencies_accepted = []\nexpiration_seconds = 600\n[lightning]\npayment_attempts = 5\n');
    const o = orderSettingsOf(loadSettings(f, {}));
    expect(o).toMatchObject({ feeRate: 0.006, fiatCurrenciesAccepted: [], expirationSeconds: 600, paymentAttempts: 5, devFeeLightningAddress: 'mostro_p2p@ln.tips' });
  });

  it('names the key of every bad value, with what it got', () => {
    const f = tomlFile('[mostro]\nfee = "high"\npow = -1\ntransport = "carrier-pigeon"\n[lightning]\npayment_attempts = 0\n');
    const p = problems(() => loadSettings(f, {}));
    expect(p).toHaveLength(4);
    expect(p.find((l) => l.startsWith('[mostro] fee:'))).toMatch(/number.*\(got "high"\)/);
    expect(p.find((l) => l.startsWith('[mostro] pow:'))).toContain('(got -1)');
    expect(p.find((l) => l.startsWith('[mostro] transport:'))).toContain('"carrier-pigeon"');
    expect(p.find((l) => l.startsWith('[lightning] payment_attempts:'))).toContain('(got 0)');
  });

  it('rejects unknown keys and sections (a typo must not silently keep a default)', () => {
    const p = problems(() => settingsFrom({ mostro: { expiration_hour: 12, colour: 'red' }, lightnin: {} }));
    expect(p).toContain('[mostro]: unknown key "expiration_hour" (did you mean "expiration_hours"?)');
    expect(p).toContain('[mostro]: unknown key "colour"'); // nothing close enough to suggest
    expect(p).toContain('unknown section [lightnin] (did you mean [lightning]?)');
  });

  it('reports TOML syntax errors with the line', () => {
    const f = tomlFile('[mostro]\nfee = 0.1\nname = "unterminated\n');
    expect(problems(() => loadSettings(f, {}))[0]).toMatch(/settings\.toml: line 3, column \d+: not valid TOML/);
    expect(problems(() => loadSettings('/nonexistent/settings.toml', {}))[0]).toBe('/nonexistent/settings.toml: no such file');
  });

  it('takes secrets and deployment addresses from the environment, over the file', () => {
    const nsec = nip19.nsecEncode(generateSecretKey());
    const f = tomlFile('[temporal]\naddress = "temporal.internal:7233"\n[database]\nurl = "postgresql://a@db/x"\n');
    const s = loadSettings(f, {
      MOSTRO_NSEC_PRIVKEY: nsec,
      MOSTRO_DATABASE_URL: 'postgresql://mostro:pw@db.internal/mostro',
      TEMPORAL_ADDRESS: 'temporal.prod:7233',
      TEMPORAL_NAMESPACE: 'mostro',
    });
    expect(s.nostr.nsec_privkey).toBe(nsec);
    expect(s.database.url).toBe('postgresql://mostro:pw@db.internal/mostro');
    expect(s.temporal).toMatchObject({ address: 'temporal.prod:7233', namespace: 'mostro' });
  });

  it('never echoes a secret back in an error', () => {
    const p = problems(() => settingsFrom({}, { MOSTRO_NSEC_PRIVKEY: 'nsec1thisisnotavalidkeybutsecretanyway', MOSTRO_DATABASE_URL: 'mysql://root:hunter2@db/x' }));
    expect(p.join('\n')).not.toContain('nsec1thisisnot');
    expect(p.join('\n')).not.toContain('hunter2');
    // Each line names the key and the variable the value came from.
    expect(p.find((l) => l.startsWith('[nostr] nsec_privkey (MOSTRO_NSEC_PRIVKEY):'))).toContain('<redacted>');
    expect(p.find((l) => l.startsWith('[database] url (MOSTRO_DATABASE_URL):'))).toContain('must be a postgresql:// URL');
  });

  it('wants all three LND credentials or none', () => {
    expect(problems(() => settingsFrom({ lightning: { lnd_grpc_host: '127.0.0.1:10009' } }))[0]).toMatch(/^\[lightning\]: lnd_grpc_host, lnd_cert_file and lnd_macaroon_file go together/);
    expect(problems(() => settingsFrom({ mostro: { min_payment_amount: 5000, max_order_amount: 1000 } }))[0]).toMatch(/^\[mostro\] min_payment_amount: must not exceed max_order_amount/);
    expect(problems(() => settingsFrom({ nostr: { relays: ['https://relay.example'] } }))[0]).toMatch(/^\[nostr\] relays\.0: must be a ws:\/\/ or wss:\/\/ URL/);
  });

  it('[temporal]: a cluster gets gzip unless grpc_compression = "none"; unset address means the embedded server', () => {
    expect(temporalTargetOf(settingsFrom({ temporal: { address: 'temporal.internal:7233' } }), '127.0.0.1:7233')).toMatchObject({ address: 'temporal.internal:7233', embedded: false, compression: 'gzip' });
    expect(temporalTargetOf(settingsFrom({ temporal: { address: 'temporal.internal:7233', grpc_compression: 'none' } }), '127.0.0.1:7233').compression).toBe('none');
    expect(temporalTargetOf(settingsFrom({}), '127.0.0.1:7233')).toMatchObject({ address: '127.0.0.1:7233', embedded: true });
    expect(problems(() => settingsFrom({ temporal: { grpc_compression: 'zstd' } }))[0]).toMatch(/^\[temporal\] grpc_compression:/);
  });

  describe('[anti_abuse_bond] (bonds.md §4)', () => {
    it('is off by default, with the reference defaults', () => {
      const b = settingsFrom({}).anti_abuse_bond;
      expect(b).toMatchObject({ enabled: false, amount_pct: 0.01, base_amount_sats: 1000, apply_to: 'take', slash_on_waiting_timeout: false, slash_node_share_pct: 0.5, payout_invoice_window_seconds: 300, payout_max_retries: 5, payout_claim_window_days: 15 });
      expect(bondSettingsOf(settingsFrom({}))).toMatchObject({ enabled: false, applyTo: 'take', payout: { claimWindowSecs: 15 * 86_400, invoiceWindowSecs: 300, maxRetries: 5 } });
    });

    it('a minimal block gets the defaults; apply_to take/make/both; overrides parse', () => {
      expect(settingsFrom({ anti_abuse_bond: { enabled: true } }).anti_abuse_bond).toMatchObject({ enabled: true, apply_to: 'take', slash_node_share_pct: 0.5 });
      expect(settingsFrom({ anti_abuse_bond: { enabled: true, apply_to: 'both' } }).anti_abuse_bond.apply_to).toBe('both');
      const b = settingsFrom({ anti_abuse_bond: { enabled: true, slash_node_share_pct: 0.4, payout_claim_window_days: 7 } }).anti_abuse_bond;
      expect([b.slash_node_share_pct, b.payout_claim_window_days]).toEqual([0.4, 7]);
      expect(problems(() => settingsFrom({ anti_abuse_bond: { apply_to: 'solver' } }))[0]).toMatch(/^\[anti_abuse_bond\] apply_to:/);
    });

    it('accepts a node share of exactly 0 and 1 and refuses anything outside, naming the key', () => {
      for (const pct of [0, 1]) expect(settingsFrom({ anti_abuse_bond: { slash_node_share_pct: pct } }).anti_abuse_bond.slash_node_share_pct).toBe(pct);
      for (const pct of [-0.1, 1.5]) {
        expect(problems(() => settingsFrom({ anti_abuse_bond: { slash_node_share_pct: pct } }))[0]).toMatch(/^\[anti_abuse_bond\] slash_node_share_pct: slash_node_share_pct must be in \[0\.0, 1\.0\]/);
      }
    });

    it('still loads a file with the removed slash_on_lost_dispute key', () => {
      expect(settingsFrom({ anti_abuse_bond: { enabled: true, slash_on_lost_dispute: true } }).anti_abuse_bond.enabled).toBe(true);
    });
  });
});

describe("mostrod's settings.toml (issue 17)", () => {
  const MOSTROD_TEMPLATE = path.resolve(import.meta.dirname, '../fixtures/mostrod-settings.tpl.toml');
  const nsec = nip19.nsecEncode(generateSecretKey());
  /** The reference's template with its nsec placeholder filled in, as an operator must. */
  const filled = () => fs.readFileSync(MOSTROD_TEMPLATE, 'utf8').replace("nsec_privkey = 'nsec1...'", `nsec_privkey = '${nsec}'`);

  it('loads unchanged but for the key; its SQLite URL means the embedded database, with a warning', () => {
    const s = loadSettings(tomlFile(filled()), {});
    expect(s.lightning).toMatchObject({ lnd_grpc_host: 'https://127.0.0.1:10001', hold_invoice_cltv_delta: 144, escrow_deadline_margin_blocks: 24 });
    expect(s.nostr.relays).toEqual(['ws://localhost:7000']);
    expect(s.rpc).toEqual({ enabled: false, listen_address: '127.0.0.1', port: 50051 });
    expect(s.database.url).toBeUndefined();
    expect(settingsWarnings(s)).toEqual([expect.stringMatching(/^\[database\] url: sqlite:\/\/mostro\.db is mostrod's SQLite file; .*embedded database/)]);
  });

  it('its optional blocks uncommented: the keys only mostrod uses are named in one warning line', () => {
    // Uncomment [price] (with its providers), [anti_abuse_bond] and [cashu], keeping the commented explanations.
    const text = filled()
      .split('\n')
      .map((l) => l.replace(/^# (\[(?:price|anti_abuse_bond|cashu)(?:\.[a-z_.]+)?\]$|[a-z_]+ = |\]$)/, '$1'))
      .join('\n');
    const s = loadSettings(tomlFile(text), {});
    expect(s.anti_abuse_bond).toMatchObject({ enabled: false, apply_to: 'take', payout_claim_window_days: 15 });
    const w = settingsWarnings(s).filter((l) => !l.startsWith('[database]'));
    expect(w).toEqual(['settings mostrod uses and this daemon does not (ignored): [price] providers; [rpc] rate_limiter_stale_duration; [cashu] enabled, mint_url, escrow_locktime_days']);
  });

  it("mostrod 0.18.8's template (the release the conformance suite runs) loads too: its payout gates and node guard are named in the warning", () => {
    const text = fs
      .readFileSync(path.resolve(import.meta.dirname, '../fixtures/mostrod-0.18.8-settings.tpl.toml'), 'utf8')
      .replace("nsec_privkey = 'nsec1...'", `nsec_privkey = '${nsec}'`);
    const s = loadSettings(tomlFile(text), {});
    expect(s.lightning).toMatchObject({ max_final_cltv_expiry_delta: 144, payment_attempts: 3 });
    expect(settingsWarnings(s)).toEqual([
      'settings mostrod uses and this daemon does not (ignored): [lightning] max_inflight_payouts, max_inflight_payouts_per_destination, payment_cltv_limit, allow_node_change',
      expect.stringMatching(/^\[database\] url: sqlite:\/\/mostro\.db/),
    ]);
    // Its commented `auth_token` set: the admin RPC then asks for it (test/e2e/admin-rpc.test.ts); never echoed back.
    const withToken = loadSettings(tomlFile(text.replace('# auth_token = ""', 'auth_token = "t0ken"')), {});
    expect(withToken.rpc.auth_token).toBe('t0ken');
    expect(problems(() => loadSettings(tomlFile(text.replace('# auth_token = ""', 'auth_token = ""')), {}))).toEqual(['[rpc] auth_token: must not be empty (leave it out for no token) (got "<redacted>")']);
  });

  it('a file that turns Cashu escrow on is refused, naming the key; a key neither daemon knows still is', () => {
    expect(problems(() => settingsFrom({ cashu: { enabled: true } }))).toEqual([expect.stringMatching(/^\[cashu\] enabled: Cashu escrow is not supported by this daemon/)]);
    expect(problems(() => settingsFrom({ rpc: { enabled: true, prot: 50052 } }))).toEqual(['[rpc]: unknown key "prot" (did you mean "port"?)']);
    expect(problems(() => settingsFrom({ rpc: { port: 70000 } }))[0]).toMatch(/^\[rpc\] port: /);
  });
});
