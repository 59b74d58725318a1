/**
 * One process per directory, with a lock the kernel releases the moment its holder dies — never a pid check.
 *
 * A pid file cannot tell a live holder from a dead one: right after `kill -9` the holder lingers as a zombie until
 * its parent reaps it, and a later process can get the same pid, so a restart is refused for nothing. Node has no
 * flock(2) and the npm packages that add it compile a native addon at install time (refused here), so:
 *
 * - Linux: the holder listens on an abstract unix socket (no file; the name lives in the kernel). Binding a name
 *   that is bound fails atomically with EADDRINUSE, and the kernel unbinds it when the holder's last descriptor
 *   closes — in exit(), before the process is even a zombie. The name is a random id kept in `<dir>/.mostro-lock`
 *   plus the directory's device and inode: other local users cannot read the id (the directory is 0700), so they
 *   cannot squat the name to keep the daemon from starting, and a copy of the directory gets a name of its own.
 *   Abstract names are per network namespace: containers that share a data volume must share a network namespace
 *   too (or not run `mostro start` on the same volume, which nothing supports anyway).
 * - macOS and the BSDs: open(2) with O_EXLOCK takes a flock on `<dir>/.mostro-lock` atomically with the open (not
 *   exercised by the tests, which run on Linux).
 * - Elsewhere: no lock (a warning says so).
 *
 * On Linux the holder answers a connection with its pid, so a refused process can say who holds the directory.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export const LOCK_FILE = '.mostro-lock';

export interface DirLock {
  release(): Promise<void>;
}

/** Another live process holds the directory; `holderPid` is information only (it may be unknown). */
export class DirInUseError extends Error {
  constructor(
    readonly dir: string,
    readonly holderPid?: number,
  ) {
    super(`data directory ${dir} is in use by another process${holderPid ? ` (pid ${holderPid})` : ''}`);
    this.name = 'DirInUseError';
  }
}

/** The O_EXLOCK flag of open(2) (not in fs.constants); the same value on macOS, FreeBSD and OpenBSD. */
const O_EXLOCK = 0x20;

/**
 * Locks `dir` (which must exist) for this process until `release()` or the process's death. Throws DirInUseError
 * when a live process holds it. `onUnsupported` is told when the platform has no lock.
 */
export async function lockDirectory(dir: string, onUnsupported?: (message: string) => void): Promise<DirLock> {
  if (process.platform === 'linux') return lockWithAbstractSocket(dir);
  if (process.platform === 'darwin' || process.platform === 'freebsd' || process.platform === 'openbsd') return lockWithExlock(dir);
  onUnsupported?.(`no data directory lock on ${process.platform}: make sure one process at a time uses ${dir}`);
  return { release: async () => undefined };
}

async function lockWithAbstractSocket(dir: string): Promise<DirLock> {
  const st = fs.statSync(dir, { bigint: true });
  const name = `\0mostro-lock:${lockId(dir)}:${st.dev}:${st.ino}`;
  const server = net.createServer((conn) => {
    conn.on('error', () => undefined);
    conn.end(`${process.pid}\n`);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(name, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new DirInUseError(dir, await askHolder(name));
    throw err;
  }
  // The lock must never be what keeps the process alive.
  server.unref();
  return { release: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** The directory's random lock id, created once (written whole to a temporary file, then linked into place). */
function lockId(dir: string): string {
  const file = path.join(dir, LOCK_FILE);
  const read = () => {
    const id = fs.readFileSync(file, 'utf8').trim();
    if (!/^[0-9a-f]{32}$/.test(id)) throw new Error(`${file} does not hold a lock id; remove it when no process uses ${dir}`);
    return id;
  };
  try {
    return read();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}`;
  fs.writeFileSync(tmp, `${crypto.randomBytes(16).toString('hex')}\n`, { mode: 0o600 });
  try {
    // link() fails if the file exists: of two processes creating it at once, both end up with the winner's id.
    fs.linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  return read();
}

/** The holder's pid, if it answers within a second. */
function askHolder(name: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    let data = '';
    const conn = net.connect(name);
    const done = () => {
      clearTimeout(timer);
      conn.destroy();
      const pid = Number(data.trim());
      resolve(Number.isInteger(pid) && pid > 0 ? pid : undefined);
    };
    const timer = setTimeout(done, 1000);
    conn.on('data', (d: Buffer) => void (data += d.toString()));
    conn.on('end', done);
    conn.on('error', done);
  });
}

function lockWithExlock(dir: string): DirLock {
  // The file keeps the lock id (the format Linux reads) and is only flocked here, so a directory can move between systems.
  lockId(dir);
  let fd: number;
  try {
    fd = fs.openSync(path.join(dir, LOCK_FILE), fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | O_EXLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EWOULDBLOCK' || code === 'EAGAIN') throw new DirInUseError(dir);
    throw err;
  }
  return {
    release: async () => {
      fs.closeSync(fd);
    },
  };
}
