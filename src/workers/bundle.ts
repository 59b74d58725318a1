/**
 * The workflow code bundle the worker runs (Temporal bundles workflows with webpack into one script for its sandbox).
 *
 * Bundling in the daemon's own process left webpack's and swc's memory there for good (~30 MB of heap, ~140 MB of RSS
 * of a daemon whose whole budget is 600 MB) and took seconds of every start. So the bundle is built once per version of
 * the source, in a child process, and kept in a cache directory under a hash of everything it can contain (the
 * sources, the lockfile): starts after the first reuse it, a change to any source builds a new one.
 */
import { fork } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const childScript = fileURLToPath(new URL('./bundle-child.mjs', import.meta.url));

/** What a workflow bundle can be made of: this project's sources and the exact versions of its dependencies. */
const SOURCES = ['src', 'packages'];
const SOURCE_FILE = /\.(ts|mts|js|mjs|cjs|json)$/;

function* sourceFiles(dir: string): Generator<string> {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* sourceFiles(p);
    else if (SOURCE_FILE.test(entry.name)) yield p;
  }
}

/** A hash of every file the bundle of `workflowsPath` could include (~300 files: milliseconds). */
export function bundleKey(workflowsPath: string, root = repoRoot): string {
  const h = crypto.createHash('sha256');
  h.update(`${process.version}\0${path.relative(root, workflowsPath)}\0`);
  const lockfile = path.join(root, 'package-lock.json');
  const files = [...(fs.existsSync(lockfile) ? [lockfile] : []), ...SOURCES.flatMap((d) => (fs.existsSync(path.join(root, d)) ? [...sourceFiles(path.join(root, d))] : []))];
  for (const file of files) {
    h.update(`${path.relative(root, file)}\0`);
    h.update(fs.readFileSync(file));
  }
  return h.digest('hex').slice(0, 24);
}

function cacheDir(): string {
  for (const dir of [path.join(repoRoot, 'node_modules', '.cache', 'mostro-workflows'), path.join(os.tmpdir(), 'mostro-workflows')]) {
    try {
      fs.mkdirSync(dir, { recursive: true });
      fs.accessSync(dir, fs.constants.W_OK);
      return dir;
    } catch {
      // read-only install: the next candidate
    }
  }
  throw new Error('no writable directory for the workflow bundle cache');
}

/** Bundles not used for this long are removed when a new one is built (other checkouts may share the cache). */
const STALE_MS = 7 * 24 * 3600_000;

function removeStale(dir: string, keep: string): void {
  for (const name of fs.readdirSync(dir)) {
    const p = path.join(dir, name);
    if (p === keep || !name.startsWith('workflow-bundle-')) continue;
    try {
      if (Date.now() - fs.statSync(p).atimeMs > STALE_MS) fs.rmSync(p, { force: true });
    } catch {
      // gone already
    }
  }
}

/** Runs the bundler in a plain Node child process (none of this one's flags: loaders, inspector, profilers). */
function buildInChild(workflowsPath: string, out: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = fork(childScript, [workflowsPath, out], { execArgv: [], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => void (stderr = (stderr + d.toString()).slice(-4000)));
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`bundling the workflow code failed (${signal ?? `exit ${code}`}): ${stderr.trim()}`)),
    );
  });
}

/** The path of the bundle of `workflowsPath`, built first if this version of the source has none yet. */
export async function workflowBundlePath(workflowsPath: string, dir = cacheDir()): Promise<{ codePath: string; built: boolean }> {
  const codePath = path.join(dir, `workflow-bundle-${bundleKey(workflowsPath)}.js`);
  if (fs.existsSync(codePath)) {
    const now = new Date();
    fs.utimesSync(codePath, now, fs.statSync(codePath).mtime); // in use: not stale
    return { codePath, built: false };
  }
  // Written beside and renamed into place: a daemon starting at the same moment sees the whole file or none.
  const tmp = `${codePath}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
  try {
    await buildInChild(workflowsPath, tmp);
    fs.renameSync(tmp, codePath);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  removeStale(dir, codePath);
  return { codePath, built: true };
}
