/**
 * `mostro ui`: the real Temporal Web UI (scripts/tools.sh) for the daemon's Temporal server — here the embedded one
 * — answering the calls its pages make; and, without the binary, a clear way to get it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevServer, type DevServer } from '@mostro/temporal-devserver';
import { installHint, tool } from '../../src/tools.js';
import { spawnTs, type Spawned } from '../../support/process.js';

const ui = tool('temporal-ui-server');
if (!ui.installed && process.env.CI === 'true') throw new Error(`CI: ${installHint(ui)}`);

describe('mostro ui', () => {
  let server: DevServer;
  const running: Spawned[] = [];
  beforeAll(async () => {
    server = await startDevServer({ log: 'silent', searchAttributes: { MostroOrderStatus: 'Keyword' } });
  });
  afterAll(async () => {
    for (const p of running) p.child.kill('SIGKILL');
    await server?.close();
  });

  it.skipIf(!ui.installed)('serves the Web UI for the Temporal server in [temporal] address until SIGTERM', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mostro-ui-'));
    const p = spawnTs('src/main.ts', ['ui', '--data-dir', dataDir, '--ui-port', '0'], { TEMPORAL_ADDRESS: server.address });
    running.push(p);
    expect(await p.line('temporal', 30_000)).toBe(server.address);
    const url = await p.line('ui', 30_000);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/namespaces\/default\/workflows$/);
    const base = new URL(url).origin;
    const get = async (route: string) => {
      const res = await fetch(`${base}${route}`);
      expect(res.status, route).toBe(200);
      return (await res.json()) as Record<string, unknown>;
    };
    expect(JSON.stringify(await get('/api/v1/namespaces'))).toContain('"name":"default"');
    expect(await get('/api/v1/namespaces/default/search-attributes')).toMatchObject({ customAttributes: { MostroOrderStatus: 'INDEXED_VALUE_TYPE_KEYWORD' } });
    expect(await get('/api/v1/namespaces/default/workflows?query=' + encodeURIComponent('MostroOrderStatus = "active"'))).toBeTypeOf('object');
    expect((await fetch(url)).status).toBe(200); // the page itself
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
  });

  it('without the ui-server binary: exit code 2 and the command that builds it', async () => {
    const p = spawnTs('src/main.ts', ['ui', '--ui-port', '0'], { MOSTRO_TOOLS_CACHE: fs.mkdtempSync(path.join(os.tmpdir(), 'no-tools-')), TEMPORAL_ADDRESS: server.address });
    expect(await p.exited).toBe(2);
    expect(p.output()).toContain('scripts/tools.sh install temporal-ui-server');
  });
});
