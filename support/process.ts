/** Spawns repository entry points (TypeScript through tsx) as child processes and reads their `key: value` lines. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../', import.meta.url));

export interface Spawned {
  child: ChildProcess;
  output: () => string;
  /** Resolves with the value of the first `key: value` line printed. */
  line(key: string, timeoutMs?: number): Promise<string>;
  /** Resolves with the first match of `re` in the output. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  exited: Promise<number | null>;
}

/**
 * `nodeArgs`: options for node itself (e.g. `--cpu-prof`, which NODE_OPTIONS does not allow). `detached`: the process
 * leads its own process group, which `process.kill(-child.pid, signal)` signals as a whole (a terminal closing).
 */
export function spawnTs(script: string, args: string[], env: NodeJS.ProcessEnv = {}, nodeArgs: string[] = [], opts: { detached?: boolean } = {}): Spawned {
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', script, ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: opts.detached ?? false,
  });
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const l of listeners) l();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    output: () => out,
    exited,
    waitFor(re, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = re.exec(out);
          if (m) {
            listeners.delete(check);
            clearTimeout(timer);
            resolve(m);
          }
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`no output matching ${re} within ${timeoutMs} ms; output:\n${out}`));
        }, timeoutMs);
        listeners.add(check);
        void exited.then(() => {
          if (listeners.has(check)) {
            listeners.delete(check);
            clearTimeout(timer);
            reject(new Error(`process exited before printing ${re}; output:\n${out}`));
          }
        });
        check();
      });
    },
    async line(key, timeoutMs = 20_000) {
      const m = await this.waitFor(new RegExp(`^${key}: (.+)$`, 'm'), timeoutMs);
      return m[1]!.trim();
    },
  };
}
