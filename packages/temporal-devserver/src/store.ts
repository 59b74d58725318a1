/**
 * Durable storage for the embedded server: an append-only log of run records (the run's full meta and the history
 * events appended since its previous record) plus periodic snapshots. `commit()` resolves only when every change
 * made before it is written (and fdatasync'ed), so an RPC answers only after its effect is on disk. Concurrent
 * commits share one write (group commit). A torn final line from a crash is ignored on recovery.
 */

import fsp from 'node:fs/promises';
import path from 'node:path';
import { fromJson, toJson, type Msg } from './proto-util.js';
import type { Run, RunMeta } from './run.js';

export interface GlobalState {
  clockOffset: number;
  runSeq: number;
  namespaces: Record<string, { id: string; retentionMs: number }>;
  searchAttributes: Record<string, Record<string, string>>;
}

export interface LoadedState {
  global?: GlobalState;
  runs: { meta: RunMeta; history: Msg[] }[];
}

type Record_ = { t: 'r'; m: RunMeta; e: Msg[] } | { t: 'd'; k: string } | { t: 'g'; g: GlobalState };

export interface StoreSource {
  runs(): Iterable<Run>;
  global(): GlobalState;
}

export class Store {
  private dirtyRuns = new Set<Run>();
  private deleted = new Set<string>();
  private globalDirty = false;
  private waiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private writing = false;
  private fh: fsp.FileHandle | undefined;
  private logBytes = 0;
  private logGen = 0;
  private source: StoreSource | undefined;
  private failed: unknown;

  private constructor(
    readonly dir: string | undefined,
    private readonly opts: { fsync: boolean; compactBytes: number },
  ) {}

  get persistent(): boolean {
    return this.dir !== undefined;
  }

  static memory(): Store {
    return new Store(undefined, { fsync: false, compactBytes: Infinity });
  }

  /** Opens (creating if needed) a data directory and returns its recovered state. */
  static async open(
    dir: string,
    opts: { fsync?: boolean; compactBytes?: number } = {},
  ): Promise<{ store: Store; state: LoadedState }> {
    await fsp.mkdir(dir, { recursive: true });
    const store = new Store(dir, { fsync: opts.fsync ?? true, compactBytes: opts.compactBytes ?? 64 * 1024 * 1024 });
    const state = await store.recover();
    store.fh = await fsp.open(store.logPath(store.logGen), 'a');
    return { store, state };
  }

  attach(source: StoreSource): void {
    this.source = source;
  }

  private logPath(gen: number): string {
    return path.join(this.dir!, `log-${gen}.jsonl`);
  }

  private get snapshotPath(): string {
    return path.join(this.dir!, 'snapshot.json');
  }

  private async recover(): Promise<LoadedState> {
    const runs = new Map<string, { meta: RunMeta; history: Msg[] }>();
    let global: GlobalState | undefined;
    try {
      const snap = fromJson<{ logGen: number; global: GlobalState; runs: { m: RunMeta; e: Msg[] }[] }>(
        await fsp.readFile(this.snapshotPath, 'utf8'),
      );
      this.logGen = snap.logGen;
      global = snap.global;
      for (const r of snap.runs) runs.set(r.m.runId, { meta: r.m, history: r.e });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const logFile = this.logPath(this.logGen);
    let text = '';
    try {
      text = await fsp.readFile(logFile, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    let validBytes = 0;
    let pos = 0;
    while (pos < text.length) {
      const nl = text.indexOf('\n', pos);
      if (nl < 0) break; // torn final record: never acknowledged
      const line = text.slice(pos, nl);
      let rec: Record_;
      try {
        rec = fromJson<Record_>(line);
      } catch {
        break;
      }
      if (rec.t === 'r') {
        const cur = runs.get(rec.m.runId);
        if (cur) {
          cur.meta = rec.m;
          for (const e of rec.e) cur.history.push(e);
        } else runs.set(rec.m.runId, { meta: rec.m, history: rec.e });
      } else if (rec.t === 'd') runs.delete(rec.k);
      else if (rec.t === 'g') global = rec.g;
      pos = nl + 1;
      validBytes += Buffer.byteLength(line, 'utf8') + 1;
    }
    if (pos < text.length) await fsp.truncate(logFile, validBytes);
    this.logBytes = validBytes;
    return { global, runs: [...runs.values()] };
  }

  markRun(run: Run): void {
    if (this.dir) this.dirtyRuns.add(run);
  }

  markDeleted(runId: string): void {
    if (this.dir) this.deleted.add(runId);
  }

  markGlobal(): void {
    if (this.dir) this.globalDirty = true;
  }

  /** Resolves when every change made so far is durable. */
  commit(): Promise<void> {
    if (!this.dir) return Promise.resolve();
    if (this.failed) return Promise.reject(this.failed);
    if (!this.writing && this.dirtyRuns.size === 0 && this.deleted.size === 0 && !this.globalDirty) {
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      if (!this.writing) {
        this.writing = true;
        setImmediate(() => void this.writeLoop());
      }
    });
  }

  private drain(): string {
    let out = '';
    if (this.globalDirty && this.source) {
      out += toJson({ t: 'g', g: this.source.global() }) + '\n';
      this.globalDirty = false;
    }
    for (const run of this.dirtyRuns) {
      const e = run.history.slice(run.persistedEvents);
      run.persistedEvents = run.history.length;
      out += toJson({ t: 'r', m: run.m, e }) + '\n';
    }
    this.dirtyRuns.clear();
    for (const k of this.deleted) out += toJson({ t: 'd', k }) + '\n';
    this.deleted.clear();
    return out;
  }

  private async writeLoop(): Promise<void> {
    try {
      while (this.waiters.length > 0 || this.dirtyRuns.size > 0 || this.deleted.size > 0 || this.globalDirty) {
        const waiters = this.waiters;
        this.waiters = [];
        const text = this.drain();
        if (text) {
          const buf = Buffer.from(text, 'utf8');
          await this.fh!.write(buf);
          if (this.opts.fsync) await this.fh!.datasync();
          this.logBytes += buf.length;
        }
        for (const w of waiters) w.resolve();
        if (this.logBytes > this.opts.compactBytes) await this.compact();
      }
    } catch (err) {
      // A storage failure is fatal for durability: fail every waiter and every later commit.
      this.failed = err;
      for (const w of this.waiters) w.reject(err);
      this.waiters = [];
    } finally {
      this.writing = false;
    }
  }

  /** Writes a full snapshot and starts a new log generation. Runs inside the write loop (exclusive). */
  private async compact(): Promise<void> {
    if (!this.source || !this.dir) return;
    const nextGen = this.logGen + 1;
    const runs: { m: RunMeta; e: Msg[] }[] = [];
    for (const run of this.source.runs()) {
      runs.push({ m: run.m, e: run.history.slice() });
      run.persistedEvents = run.history.length;
    }
    this.dirtyRuns.clear();
    this.deleted.clear();
    this.globalDirty = false;
    const text = toJson({ logGen: nextGen, global: this.source.global(), runs });
    const tmp = this.snapshotPath + '.tmp';
    const fh = await fsp.open(tmp, 'w');
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, this.snapshotPath);
    const old = this.fh;
    this.fh = await fsp.open(this.logPath(nextGen), 'w');
    await old?.close();
    await fsp.rm(this.logPath(this.logGen), { force: true });
    this.logGen = nextGen;
    this.logBytes = 0;
  }

  /** Flushes pending changes, writes a snapshot (so the next start is fast) and closes the log. */
  async close(): Promise<void> {
    if (!this.dir || !this.fh) return;
    await this.commit().catch(() => undefined);
    while (this.writing) await new Promise((r) => setTimeout(r, 5));
    if (!this.failed) {
      this.writing = true;
      try {
        await this.compact();
      } finally {
        this.writing = false;
      }
    }
    await this.fh.close();
    this.fh = undefined;
  }

  /** For tests and benchmarks: size of the current log generation. */
  get logSize(): number {
    return this.logBytes;
  }
}
