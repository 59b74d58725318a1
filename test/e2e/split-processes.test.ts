/**
 * The production topology: `mostro worker` and `mostro ingress` as separate processes sharing PostgreSQL, a Temporal
 * server, a relay and an LND node (here: the simulator serving LND's gRPC API with TLS and a macaroon), configured
 * by a settings.toml plus the key from the environment. A complete trade runs through them; both drain on SIGTERM.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import { nip19 } from 'nostr-tools';
import { ENV_OVERRIDES } from '../../src/config/settings.js';
import { startLnsim, type Lnsim } from '../../src/lnsim/embedded.js';
import { startLocalRelay, type LocalRelay } from '../../src/nostr/local-relay.js';
import { freshDatabaseUrl } from '../helpers/postgres.js';
import { spawnTs, type Spawned } from '../helpers/process.js';
import { createTemporalTestEnv, realServerAddress, uid, type TemporalTestEnv } from '../helpers/temporal.js';

const cleanEnv = Object.fromEntries(Object.keys(ENV_OVERRIDES).map((k) => [k, '']));
const pgUrl = inject('databaseUrl');

describe('worker and ingress as separate processes', () => {
  it('refuse to start on parts only one process can hold, naming the settings to give', async () => {
    const p = spawnTs('src/main.ts', ['worker', '--data-dir', fs.mkdtempSync(path.join(os.tmpdir(), 'mostro-w-'))], cleanEnv);
    expect(await p.exited).toBe(2);
    const out = p.output();
    for (const key of ['[temporal] address', '[database] url', '[nostr] relays', '[lightning] lnd_grpc_host']) {
      expect(out).toContain(`${key}`);
    }
    expect(out).toContain('required when the worker and the ingress run as separate processes');
  });

  describe.skipIf(!pgUrl || realServerAddress)('against shared PostgreSQL, Temporal, relay and LND', () => {
    let env: TemporalTestEnv;
    let relay: LocalRelay;
    let lnsim: Lnsim;
    let config: string;
    const procs: Spawned[] = [];
    const key = generateSecretKey();

    beforeAll(async () => {
      env = await createTemporalTestEnv();
      relay = await startLocalRelay();
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mostro-split-'));
      lnsim = await startLnsim({ dir: path.join(dir, 'lnsim') });
      config = path.join(dir, 'settings.toml');
      fs.writeFileSync(
        config,
        [
          '[lightning]',
          `lnd_grpc_host = "${lnsim.credentials.socket}"`,
          `lnd_cert_file = "${lnsim.certFile}"`,
          `lnd_macaroon_file = "${lnsim.macaroonFile}"`,
          '[nostr]',
          `relays = ["${relay.url}"]`,
          '[mostro]',
          'fee = 0.006',
          'dev_fee_lightning_address = ""',
          '[database]',
          `url = "${await freshDatabaseUrl(pgUrl)}"`,
          '[temporal]',
          `address = "${env.address}"`,
          `task_queue = "${uid('split')}"`,
          '[metrics]',
          'listen = "127.0.0.1:0"',
          '',
        ].join('\n'),
      );
    }, 60_000);
    afterAll(async () => {
      for (const p of procs) p.child.kill('SIGKILL');
      await lnsim?.close();
      await relay?.close();
      await env?.teardown();
    });

    it('trade end to end, then drain on SIGTERM', async () => {
      const start = (role: string) => {
        const p = spawnTs('src/main.ts', [role, '--config', config, '--data-dir', path.join(fs.mkdtempSync(path.join(os.tmpdir(), `mostro-${role}-`)), 'not-yet-created'), '--log-level', 'warn'], {
          ...cleanEnv,
          MOSTRO_NSEC_PRIVKEY: nip19.nsecEncode(key),
        });
        procs.push(p);
        return p;
      };
      const worker = start('worker');
      const ingress = start('ingress');
      await Promise.all([worker.waitFor(/^Ready\./m, 90_000), ingress.waitFor(/^Ready\./m, 90_000)]);
      const pubkey = getPublicKey(key);
      expect(await worker.line('pubkey')).toBe(pubkey);
      expect(await ingress.line('pubkey')).toBe(pubkey);
      expect(worker.output()).toContain('lightning: lnd (regtest');
      expect(worker.output()).not.toContain('SIMULATED LIGHTNING NETWORK');
      expect(worker.output()).toContain('database: postgresql');
      expect(worker.output()).toMatch(/Self-check passed/);

      const demo = spawnTs('scripts/demo.ts', ['--pubkey', pubkey, '--relay', relay.url, '--lnsim', lnsim.controlUrl, '--sats', '10000']);
      expect(await demo.exited, demo.output()).toBe(0);
      // 0.6 % fee, half paid by each side: the buyer receives 10,000 − 30.
      expect(demo.output()).toMatch(/completed: the buyer's wallet was paid 9970 sats/);
      const payouts = [...lnsim.net.payments.values()].filter((p) => p.from === 'mostro');
      expect(payouts.map((p) => [p.status, p.valueSats])).toEqual([['SUCCEEDED', 9_970]]);

      worker.child.kill('SIGTERM');
      ingress.child.kill('SIGTERM');
      expect(await worker.exited).toBe(0);
      expect(await ingress.exited).toBe(0);
      expect(worker.output()).toContain('SIGTERM: draining the worker and shutting down');
    }, 180_000);
  });
});
