/**
 * temporal-dev.yml: valid YAML whose services reference only what exists (services, volumes, files), whose daemon
 * services run the CLI commands that exist with a settings file that validates, and — where Docker Compose is
 * installed — that `docker compose config` accepts.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadSettings } from '../../src/config/settings.js';
import { startLnsim } from '@mostro/lnsim';
import { repoRoot } from '../../support/process.js';

interface Service {
  image?: string;
  command?: string[];
  depends_on?: string[] | Record<string, { condition: string }>;
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
}

const file = path.join(repoRoot, 'temporal-dev.yml');
const doc = parse(fs.readFileSync(file, 'utf8'), { merge: true }) as { services: Record<string, Service>; volumes: Record<string, unknown> };
const services = doc.services;

describe('temporal-dev.yml', () => {
  it('has Temporal with PostgreSQL, the Web UI, and the daemon as worker and ingress services', () => {
    expect(Object.keys(services).sort()).toEqual(['lnsim', 'mostro-db', 'mostro-ingress', 'mostro-install', 'mostro-worker', 'postgresql', 'relay', 'temporal', 'temporal-ui'].sort());
    expect(services.temporal!.environment).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgresql' });
    expect(services['temporal-ui']!.environment).toMatchObject({ TEMPORAL_ADDRESS: 'temporal:7233' });
    expect(services['mostro-worker']!.command!.slice(0, 4)).toEqual(['npx', 'tsx', 'src/main.ts', 'worker']);
    expect(services['mostro-ingress']!.command!.slice(0, 4)).toEqual(['npx', 'tsx', 'src/main.ts', 'ingress']);
    for (const s of ['mostro-worker', 'mostro-ingress']) {
      expect(services[s]!.environment).toMatchObject({ TEMPORAL_ADDRESS: 'temporal:7233', MOSTRO_DATABASE_URL: expect.stringMatching(/^postgresql:\/\/mostro:mostro@mostro-db:5432\//) });
    }
  });

  it('references only services, volumes and files that exist, and publishes each host port once', () => {
    const hostPorts: string[] = [];
    for (const [name, s] of Object.entries(services)) {
      const deps = Array.isArray(s.depends_on) ? s.depends_on : Object.keys(s.depends_on ?? {});
      for (const d of deps) expect(services, `${name} depends on ${d}`).toHaveProperty([d]);
      for (const v of s.volumes ?? []) {
        const source = v.split(':')[0]!;
        if (source.startsWith('.')) expect(fs.existsSync(path.join(repoRoot, source)), `${name} mounts ${source}`).toBe(true);
        else expect(doc.volumes, `${name} uses volume ${source}`).toHaveProperty([source]);
      }
      hostPorts.push(...(s.ports ?? []).map((p) => p.split(':').slice(0, -1).join(':')));
      expect(s.image, `${name} has an image`).toMatch(/^[a-z0-9./_-]+:[\w.-]+$/);
    }
    expect(new Set(hostPorts).size).toBe(hostPorts.length);
  });

  it("the daemon services' settings file validates with the environment the services set", () => {
    const cmd = services['mostro-worker']!.command!;
    const config = cmd[cmd.indexOf('--config') + 1]!.replace(/^\/app\//, '');
    const env = { ...services['mostro-worker']!.environment, MOSTRO_NSEC_PRIVKEY: 'a'.repeat(64) };
    const s = loadSettings(path.join(repoRoot, config), env);
    expect(s.lightning.lnd_grpc_host).toBe('lnsim:10009');
    expect(s.nostr.relays).toEqual(['ws://relay:8080']);
    expect(s.temporal.address).toBe('temporal:7233');
    expect(s.database.url).toContain('@mostro-db:5432/');
    // The simulator's certificate must name the host the daemon dials.
    expect(services.lnsim!.command).toEqual(expect.arrayContaining(['--host', '0.0.0.0', '--tls-host', 'lnsim']));
  });

  it('the simulator, started as the lnsim service starts it, has a certificate for the service name', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lnsim-compose-'));
    const sim = await startLnsim({ dir, host: '127.0.0.1', tlsHosts: ['lnsim'] });
    try {
      const cert = new X509Certificate(fs.readFileSync(sim.certFile));
      expect(cert.subjectAltName?.split(', ')).toEqual(expect.arrayContaining(['DNS:localhost', 'DNS:lnsim']));
      expect(cert.checkHost('lnsim')).toBe('lnsim');
    } finally {
      await sim.close();
    }
  });

  const compose = spawnSync('docker', ['compose', 'version'], { stdio: 'ignore' }).status === 0;
  it.skipIf(!compose)('docker compose accepts it (skipped: Docker Compose is not installed here)', () => {
    execFileSync('docker', ['compose', '-f', file, 'config', '-q'], { env: { ...process.env, MOSTRO_NSEC_PRIVKEY: 'nsec1test' } });
  });
});
