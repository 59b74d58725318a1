/**
 * The real Temporal server: `temporal server start-dev` of the pinned Temporal CLI (scripts/tools.sh), on ephemeral
 * loopback ports, with an in-memory SQLite store (or a file, to survive a restart), the given search attributes
 * registered, and optionally its Web UI. Used by the test setup for the `real-temporal` project and by tests that run
 * the daemon against it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Connection } from '@temporalio/client';
import { freePort } from '../src/free-port.js';
import { tool, installHint } from '../src/tools.js';

export interface RealTemporal {
  address: string;
  /** The Web UI's base URL, or undefined when started headless. */
  uiUrl: string | undefined;
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}


export function realTemporalBinary(): { path: string; missing?: string } {
  const t = tool('temporal');
  return t.installed ? { path: t.binary } : { path: t.binary, missing: installHint(t) };
}

export async function startRealTemporal(o: {
  searchAttributes?: Record<string, string>;
  ui?: boolean;
  dbFile?: string;
  port?: number;
} = {}): Promise<RealTemporal> {
  const bin = realTemporalBinary();
  if (bin.missing) throw new Error(bin.missing);
  const port = o.port ?? (await freePort());
  const args = [
    'server', 'start-dev',
    '--ip', '127.0.0.1',
    '--port', String(port),
    '--http-port', String(await freePort()),
    '--metrics-port', String(await freePort()),
    '--log-level', 'warn',
    // Search attributes registered by a client take effect at once (as on the embedded server), not after a cache refresh.
    '--dynamic-config-value', 'system.forceSearchAttributesCacheRefreshOnRead=true',
  ];
  let uiUrl: string | undefined;
  if (o.ui) {
    const uiPort = await freePort();
    args.push('--ui-ip', '127.0.0.1', '--ui-port', String(uiPort));
    uiUrl = `http://127.0.0.1:${uiPort}`;
  } else {
    args.push('--headless');
  }
  if (o.dbFile) args.push('--db-filename', o.dbFile);
  for (const [name, type] of Object.entries(o.searchAttributes ?? {})) args.push('--search-attribute', `${name}=${type}`);
  const child = spawn(bin.path, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const address = `127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const early = await Promise.race([exited.then((c) => ({ exit: c })), new Promise<undefined>((r) => setTimeout(r, 200))]);
    if (early) throw new Error(`temporal server start-dev exited (${early.exit}) before serving:\n${out}`);
    try {
      const c = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await c.workflowService.describeNamespace({ namespace: 'default' });
        break;
      } finally {
        await c.close();
      }
    } catch (err) {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`temporal server start-dev did not serve ${address} within 60 s (${(err as Error).message}):\n${out}`);
      }
    }
  }
  return {
    address,
    uiUrl,
    child,
    output: () => out,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}
