/**
 * One daemon per data directory, held by a lock the kernel drops when the daemon dies: a supervisor restarting
 * `mostro start` right after `kill -9` always gets a daemon (even while the killed one is still a zombie, which a
 * pid check takes for alive), and a second daemon on a directory in use is refused, naming the directory and the
 * holder — also when Temporal is external and only PGlite, the relay file and the key live in the directory.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ENV_OVERRIDES } from '../../src/config/settings.js';
import { startDevServer } from '@mostro/temporal-devserver';
import { repoRoot, spawnTs, type Spawned } from '../../support/process.js';
import { realServerAddress, uid } from '../helpers/temporal.js';

const cleanEnv = Object.fromEntries(Object.keys(ENV_OVERRIDES).map((k) => [k, '']));
const startArgs = (dataDir: string, config?: string) => ['start', '--data-dir', dataDir, '--ephemeral-ports', '--log-level', 'warn', ...(config ? ['--config', config] : [])];
const READY = /^Ready\. Press Ctrl\+C to stop\.$/m;

interface Unreaped {
  /** The daemon's pid (the wrapper's child). */
  daemonPid: number;
  output: () => string;
  waitFor(re: RegExp, timeoutMs: number): Promise<void>;
  /** Kills the daemon (if alive) and the wrapper; a zombie child then goes to init, which reaps it. */
  kill(): void;
}

/**
 * `mostro start` as the child of a parent that does not reap it — a supervisor that has not called wait() yet — so
 * once killed the daemon stays a zombie: its pid still exists, as it did for ~1.5 s under load in the issue.
 */
async function startUnreaped(dataDir: string): Promise<Unreaped> {
  const wrapper = spawn('perl', ['-e', '$| = 1; my $pid = fork() // die "fork: $!"; if ($pid == 0) { exec(@ARGV) or die "exec: $!" } print "daemon-pid: $pid\\n"; sleep 3600', process.execPath, '--import', 'tsx', 'src/main.ts', ...startArgs(dataDir)], {
    cwd: repoRoot,
    env: { ...process.env, ...cleanEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const onData = (d: Buffer) => void (out += d.toString());
  wrapper.stdout!.on('data', onData);
  wrapper.stderr!.on('data', onData);
  const waitFor = async (re: RegExp, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (!re.test(out)) {
      if (/^mostro: /m.test(out)) throw new Error(`the daemon failed to start:\n${out}`);
      if (Date.now() > deadline) throw new Error(`no output matching ${re} within ${timeoutMs} ms; output:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  await waitFor(/^daemon-pid: \d+$/m, 30_000);
  const daemonPid = Number(/^daemon-pid: (\d+)$/m.exec(out)![1]);
  const kill = () => {
    try {
      process.kill(daemonPid, 'SIGKILL');
    } catch {
      // already gone
    }
    wrapper.kill('SIGKILL');
  };
  return { daemonPid, output: () => out, waitFor, kill };
}

/** The process state letter from /proc (Z: a zombie), or null once the process is gone. */
function procState(pid: number): string | null {
  try {
    return /^\d+ \(.*\) (\S)/.exec(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'))![1]!;
  } catch {
    return null;
  }
}

describe.skipIf(realServerAddress || process.platform !== 'linux')('one daemon per data directory', () => {
  const wrappers: Unreaped[] = [];
  const spawned: Spawned[] = [];
  afterAll(() => {
    for (const w of wrappers) w.kill();
    for (const p of spawned) p.child.kill('SIGKILL');
  });

  it('restarts at once after kill -9, every time, while the killed daemon is still a zombie; a second live daemon is refused', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mostro-lock-'));
    let daemon = await startUnreaped(dataDir);
    wrappers.push(daemon);
    await daemon.waitFor(READY, 150_000);
    const pubkey = /^pubkey: (\S+)$/m.exec(daemon.output())![1];

    for (let round = 1; round <= 3; round++) {
      process.kill(daemon.daemonPid, 'SIGKILL');
      const killed = daemon.daemonPid;
      // No wait: the next daemon starts while the killed one has not been reaped.
      daemon = await startUnreaped(dataDir);
      wrappers.push(daemon);
      await daemon.waitFor(READY, 150_000);
      expect(procState(killed), `round ${round}: the killed daemon should still be a zombie`).toBe('Z');
      expect(/^pubkey: (\S+)$/m.exec(daemon.output())![1]).toBe(pubkey);
    }

    // The live daemon keeps the directory: a second one is refused with the directory and the holder's pid.
    const second = spawnTs('src/main.ts', startArgs(dataDir), cleanEnv);
    spawned.push(second);
    expect(await second.exited).toBe(2);
    expect(second.output()).toContain(`data directory ${dataDir} is in use by another mostro process (pid ${daemon.daemonPid})`);
    expect(second.output()).not.toMatch(READY);
    expect(procState(daemon.daemonPid)).not.toBe('Z');
  }, 480_000);

  it('refuses a second daemon on a directory in use when Temporal is external (PGlite and the relay file are not opened twice)', async () => {
    const temporal = await startDevServer({ log: 'silent' });
    try {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mostro-lock-ext-'));
      const config = path.join(dataDir, 'settings.toml');
      fs.writeFileSync(config, `[temporal]\naddress = "${temporal.address}"\ntask_queue = "${uid('lock')}"\n`);
      const first = spawnTs('src/main.ts', startArgs(dataDir, config), cleanEnv);
      spawned.push(first);
      await first.waitFor(READY, 150_000);
      const second = spawnTs('src/main.ts', startArgs(dataDir, config), cleanEnv);
      spawned.push(second);
      expect(await second.exited, second.output()).toBe(2);
      expect(second.output()).toContain(`data directory ${dataDir} is in use by another mostro process (pid ${first.child.pid})`);
      expect(second.output()).not.toMatch(READY);
      // The first one is untouched and stops cleanly; then the directory is free again.
      first.child.kill('SIGTERM');
      expect(await first.exited).toBe(0);
      const third = spawnTs('src/main.ts', startArgs(dataDir, config), cleanEnv);
      spawned.push(third);
      await third.waitFor(READY, 150_000);
      third.child.kill('SIGTERM');
      expect(await third.exited).toBe(0);
    } finally {
      await temporal.close();
    }
  }, 400_000);
});
