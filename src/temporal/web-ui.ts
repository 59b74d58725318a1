/**
 * The real Temporal Web UI (temporalio/ui-server, built by `scripts/tools.sh install`) pointed at a Temporal frontend —
 * the embedded server of `npm start` or a cluster — so support staff find, inspect and repair trades in the same UI
 * whichever server runs them (docs/support.md).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../free-port.js';
import { installHint, tool } from '../tools.js';

export interface WebUiOptions {
  /** The Temporal frontend, host:port. */
  temporalAddress: string;
  host?: string;
  /** 0: a free port. */
  port?: number;
  namespace?: string;
  /** Where the UI's config file is written (a fresh temporary directory by default). */
  workDir?: string;
  /** mTLS to a cluster frontend (the daemon's `[temporal] tls_*` settings). */
  tls?: { certFile: string; keyFile: string; caFile?: string; serverName?: string };
}

export interface RunningWebUi {
  url: string;
  stop(): Promise<void>;
  exited: Promise<number | null>;
}

export class WebUiMissing extends Error {}

/** Starts the Web UI server and resolves once it serves its page. Throws {@link WebUiMissing} without the binary. */
export async function startWebUi(o: WebUiOptions): Promise<RunningWebUi> {
  const ui = tool('temporal-ui-server');
  if (!ui.installed) throw new WebUiMissing(installHint(ui));
  const host = o.host ?? '127.0.0.1';
  const port = o.port || (await freePort(host));
  const root = o.workDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'mostro-ui-'));
  fs.mkdirSync(path.join(root, 'config'), { recursive: true });
  const yaml = [
    `temporalGrpcAddress: ${JSON.stringify(o.temporalAddress)}`,
    `host: ${JSON.stringify(host)}`,
    `port: ${port}`,
    'enableUi: true',
    `defaultNamespace: ${JSON.stringify(o.namespace ?? 'default')}`,
    'notifyOnNewVersion: false',
    'refreshInterval: 0s',
    'cors:',
    '  cookieInsecure: true',
    ...(o.tls
      ? [
          'tls:',
          `  certFile: ${JSON.stringify(o.tls.certFile)}`,
          `  keyFile: ${JSON.stringify(o.tls.keyFile)}`,
          ...(o.tls.caFile ? [`  caFile: ${JSON.stringify(o.tls.caFile)}`] : []),
          ...(o.tls.serverName ? [`  serverName: ${JSON.stringify(o.tls.serverName)}`, '  enableHostVerification: true'] : []),
        ]
      : []),
    '',
  ].join('\n');
  fs.writeFileSync(path.join(root, 'config', 'mostro.yaml'), yaml);
  const child = spawn(ui.binary, ['--root', root, '--config', 'config', '--env', 'mostro', 'start'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-8000)));
  child.stderr!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-8000)));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the Temporal Web UI server exited (${child.exitCode}):\n${out}`);
    if (await serves(url)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the Temporal Web UI server did not serve ${url} within 30 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      if (!o.workDir) fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

function serves(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(url, (res) => {
      res.resume();
      resolve((res.statusCode ?? 500) < 500);
    });
    req.on('error', () => resolve(false));
    req.setTimeout(1000, () => req.destroy());
  });
}
