/**
 * The directory lock as a restarting supervisor relies on it: a second holder is refused and told who holds it; the
 * lock is free again the moment its holder dies, even by `kill -9`; a copy of the directory is a directory of its own.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { DirInUseError, LOCK_FILE, lockDirectory, type DirLock } from '../src/index.js';

const dirs: string[] = [];
const locks: DirLock[] = [];
const tempDir = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'dir-lock-'));
  dirs.push(d);
  return d;
};
const lock = async (dir: string) => {
  const l = await lockDirectory(dir);
  locks.push(l);
  return l;
};

afterEach(async () => {
  await Promise.all(locks.splice(0).map((l) => l.release()));
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe.skipIf(process.platform !== 'linux')('lockDirectory (Linux: an abstract socket the kernel unbinds)', () => {
  it('refuses a second holder, naming the pid of the first, and is free again after release', async () => {
    const dir = tempDir();
    const first = await lock(dir);
    const refused = await lockDirectory(dir).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(DirInUseError);
    expect((refused as DirInUseError).holderPid).toBe(process.pid);
    expect((refused as DirInUseError).message).toContain(dir);
    await first.release();
    await expect(lock(dir)).resolves.toBeDefined();
  });

  it('keeps its id in a file only the owner can read', async () => {
    const dir = tempDir();
    await lock(dir);
    const st = fs.statSync(path.join(dir, LOCK_FILE));
    expect(st.mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8').trim()).toMatch(/^[0-9a-f]{32}$/);
  });

  it('treats a copy of the directory (same lock id, another inode) as another directory', async () => {
    const dir = tempDir();
    await lock(dir);
    const copy = tempDir();
    fs.copyFileSync(path.join(dir, LOCK_FILE), path.join(copy, LOCK_FILE));
    await expect(lock(copy)).resolves.toBeDefined();
  });

  it('is free as soon as a holder killed with SIGKILL has exited (no stale pid to wait out)', async () => {
    const dir = tempDir();
    const hold = fileURLToPath(new URL('./hold.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', hold, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => d.toString().includes('locked') && resolve());
      child.on('exit', (code) => reject(new Error(`holder exited (${code}) before locking`)));
    });
    const refused = await lockDirectory(dir).catch((e: unknown) => e);
    expect((refused as DirInUseError).holderPid).toBe(child.pid);
    child.kill('SIGKILL');
    // A pid check would refuse while the killed holder lingers; the kernel unbinds the name as the process exits.
    const started = Date.now();
    for (;;) {
      const got = await lockDirectory(dir).catch((e: unknown) => e);
      if (!(got instanceof DirInUseError)) {
        locks.push(got as DirLock);
        break;
      }
      if (Date.now() - started > 10_000) throw new Error('the lock of a killed holder was not released within 10 s');
      await new Promise((r) => setTimeout(r, 20));
    }
  });
});
