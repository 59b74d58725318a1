/**
 * The real mostro-cli (crates.io `mostro-cli`, built by `scripts/tools.sh install mostro-cli`), run as a person runs
 * it: one HOME per identity (its state lives in `~/.mcli/`), the daemon's key and relay from the environment, one
 * command per process. Output is what a person reads; tests assert on it and on the wallets.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { tool, installHint } from '../../src/tools.js';

const cli = tool('mostro-cli');

/** Whether the binary is there (skip with this reason otherwise; under CI=true a missing tool is a failure). */
export function mostroCliAvailable(): { ok: true } | { ok: false; reason: string } {
  return cli.installed ? { ok: true } : { ok: false, reason: installHint(cli) };
}

export interface CliRun {
  code: number | null;
  /** stdout and stderr as printed, with the table rules and ANSI colours removed. */
  out: string;
}

export class RealMostroCli {
  readonly home: string;
  readonly commands: string[] = [];

  constructor(
    readonly name: string,
    private readonly daemon: { pubkey: string; relay: string },
    private readonly adminNsec?: string,
  ) {
    this.home = fs.mkdtempSync(path.join(os.tmpdir(), `mcli-${name}-`));
  }

  /** One mostro-cli command; resolves with its exit code and output (never throws on a non-zero exit). */
  run(args: string[], timeoutMs = 90_000): Promise<CliRun> {
    // Only what mostro-cli reads: nothing of the test run's own environment leaks in (TRANSPORT, POW, …).
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: this.home,
      MOSTRO_PUBKEY: this.daemon.pubkey,
      RELAYS: this.daemon.relay,
      RUST_BACKTRACE: '0',
      ...(this.adminNsec ? { ADMIN_NSEC: this.adminNsec } : {}),
    };
    return new Promise((resolve, reject) => {
      const child = spawn(cli.binary, args, { env, cwd: this.home, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`mostro-cli ${args.join(' ')} (${this.name}) did not finish within ${timeoutMs} ms:\n${out}`));
      }, timeoutMs);
      child.on('error', reject);
      child.on('exit', (code) => {
        clearTimeout(timer);
        const clean = out
          .replace(/\x1b\[[0-9;]*m/g, '')
          .split('\n')
          .filter((l) => !/^[\s│├┤└┘┌┐╞╡═╌─┼┆┬┴╪]+$/.test(l))
          .join('\n');
        this.commands.push(`$ mostro-cli ${args.join(' ')}  (${this.name}, exit ${code})\n${clean}`);
        resolve({ code, out: clean });
      });
    });
  }

  /** Runs a command that must succeed; its output. */
  async ok(args: string[]): Promise<string> {
    const r = await this.run(args);
    if (r.code !== 0) throw new Error(`mostro-cli ${args.join(' ')} (${this.name}) exited ${r.code}:\n${r.out}`);
    return r.out;
  }

  /** The Lightning invoices in the newest direct messages, oldest first (`getdm` prints each under "Lightning Invoice:"). */
  async invoicesInDms(): Promise<string[]> {
    const out = await this.ok(['getdm']);
    const found: string[] = [];
    const lines = out.split('\n');
    for (const [i, l] of lines.entries()) if (l.includes('Lightning Invoice:')) found.push(lines[i + 1]!.trim());
    return found;
  }

  /** The actions of the direct messages `getdm` shows, oldest first (e.g. `PayInvoice`, `HoldInvoicePaymentAccepted`). */
  async dmActions(extra: string[] = []): Promise<string[]> {
    const out = await this.ok(['getdm', ...extra]);
    return [...out.matchAll(/Action: \S+ (\w+)$/gm)].map((m) => m[1]!);
  }

  transcript(): string {
    return this.commands.join('\n');
  }

  remove(): void {
    fs.rmSync(this.home, { recursive: true, force: true });
  }
}
