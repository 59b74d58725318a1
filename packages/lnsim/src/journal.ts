/**
 * The simulated network's state on disk, so that it survives a restart as an LND node's database does: an
 * append-only journal, one JSON line per operation with every invoice and payment that operation changed (whole, so
 * a later line for the same hash replaces an earlier one), the block height and the control flags; replayed at start.
 *
 * Each line is written with one write() as the operation ends, so a killed process (SIGKILL, Ctrl+C) loses nothing
 * the page cache holds; fdatasync runs in the background for all lines written so far (group commit), and everything
 * that reveals a change to a client waits for it (`durable()`). A crash mid-write (power lost, disk full) leaves at
 * most a torn last line, which start-up drops with a warning. The file is compacted (rewritten to a temporary file, fsynced, renamed over
 * the journal) at start when it holds much more than the live state, and while running when it grows past a
 * multiple of it. A lock file keeps a second simulator off the same directory.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DirInUseError, lockDirectory } from '@mostro/dir-lock';
import type { Logger } from './logger.js';
import type { NetworkJournal, NetworkRecord } from './changes.js';
import type { SimNetwork } from './network.js';

const FORMAT = 1;
const JOURNAL_FILE = 'network.jsonl';

export interface JournalOptions {
  /** Compact while running once the journal holds more than `factor` × the live invoices and payments + `slack` entries. */
  compactFactor?: number;
  compactSlack?: number;
}

interface Header {
  lnsim: number;
  network: string;
}

/** Directories whose lock this process holds (a lock naming our own pid but not held here is a previous life's). */

export class FileJournal implements NetworkJournal {
  private fd: number;
  /** Lines appended since open, and how many of them are known to be on disk. */
  private appended = 0;
  private synced = 0;
  private syncing: Promise<void> | undefined;
  private failed: Error | undefined;
  private closed = false;
  /** Invoice and payment entries in the file (what compaction would shrink to the live count). */
  private entries = 0;

  private constructor(
    private readonly net: SimNetwork,
    readonly file: string,
    private readonly log: Logger,
    private readonly releaseLock: () => void,
    private readonly opts: Required<JournalOptions>,
  ) {
    this.fd = -1;
  }

  /**
   * Replays `dir`'s journal into `net` (which must be fresh) and attaches itself, so every later change is written.
   * Refuses a directory another running simulator holds, a journal of another network, or one damaged before its
   * last line.
   */
  static async open(net: SimNetwork, dir: string, log: Logger, opts: JournalOptions = {}): Promise<FileJournal> {
    // The kernel releases this lock the moment its holder dies (even as an unreaped zombie): src/dir-lock.ts.
    const lock = await lockDirectory(dir, (m) => log.warn(m)).catch((err: unknown) => {
      if (err instanceof DirInUseError) throw new Error(`${dir} is in use by another simulated Lightning network${err.holderPid ? ` (pid ${err.holderPid})` : ''}; stop it or use another directory`);
      throw err;
    });
    const releaseLock = () => void lock.release();
    try {
      const journal = new FileJournal(net, path.join(dir, JOURNAL_FILE), log, releaseLock, {
        compactFactor: opts.compactFactor ?? 4,
        compactSlack: opts.compactSlack ?? 10_000,
      });
      journal.load();
      net.attachJournal(journal);
      return journal;
    } catch (err) {
      releaseLock();
      throw err;
    }
  }

  private load(): void {
    let data: Buffer;
    try {
      data = fs.readFileSync(this.file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      data = Buffer.alloc(0);
    }
    let pos = 0;
    let line = 0;
    let header: Header | undefined;
    let entries = 0;
    let torn: string | undefined;
    while (pos < data.length) {
      const nl = data.indexOf(0x0a, pos);
      line++;
      if (nl < 0) {
        torn = `${data.length - pos} bytes without an end of line`;
        break;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(data.toString('utf8', pos, nl));
      } catch {
        parsed = undefined;
      }
      const isRecord = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed);
      if (!isRecord) {
        // Only the last line can be torn by a crash (every line is one write, and lines before it were complete).
        if (data.subarray(nl + 1).toString('utf8').trim().replace(/\0/g, '') === '') {
          torn = `${data.length - pos} bytes that are not a record`;
          break;
        }
        throw new Error(`${this.file} line ${line} is not a valid record; the simulated network's state is damaged (move the file aside to start afresh)`);
      }
      if (!header) {
        header = parsed as Header;
        if (header.lnsim !== FORMAT) throw new Error(`${this.file}: not a journal of this simulator (format ${String(header.lnsim)})`);
        if (header.network !== this.net.network) {
          throw new Error(`${this.file} holds a ${header.network} network, not ${this.net.network}: start with --network ${header.network} or another --dir`);
        }
      } else {
        const record = parsed as NetworkRecord;
        this.net.restore(record);
        entries += (record.invoices?.length ?? 0) + (record.payments?.length ?? 0);
      }
      pos = nl + 1;
    }
    if (torn) {
      this.log.warn(
        `${this.file} ended in a torn record (${torn}, left by a crash mid-write): ignored it and loaded the ${Math.max(0, line - 2)} records before it`,
      );
    }
    this.entries = entries;
    if (header && !torn && entries <= 2 * this.live() + 1000) {
      this.fd = fs.openSync(this.file, 'a', 0o600);
    } else {
      // New, torn (the garbage must not prefix the next line) or mostly superseded records: write it afresh.
      this.compact();
    }
  }

  private live(): number {
    return this.net.invoices.size + this.net.payments.size;
  }

  append(record: NetworkRecord): void {
    if (this.closed) throw new Error('lnsim: the journal is closed; this change was not saved');
    if (this.failed) throw this.failed;
    try {
      writeAll(this.fd, `${JSON.stringify(record)}\n`);
    } catch (err) {
      this.fail(err as Error);
      throw err;
    }
    this.appended++;
    this.entries += (record.invoices?.length ?? 0) + (record.payments?.length ?? 0);
    if (this.entries > this.opts.compactFactor * this.live() + this.opts.compactSlack) {
      try {
        this.compact();
      } catch (err) {
        // The journal itself is intact; try again once it has grown as much once more.
        this.entries = this.live();
        this.log.warn(`could not compact ${this.file}; it keeps growing`, { error: (err as Error).message });
      }
    }
  }

  durable(): Promise<void> {
    const target = this.appended;
    const wait = async (): Promise<void> => {
      while (this.synced < target) {
        if (this.failed) throw this.failed;
        this.syncing ??= this.syncOnce();
        await this.syncing;
      }
      if (this.failed) throw this.failed;
    };
    return wait();
  }

  /** One fdatasync covering every line appended before it started (shared by everyone waiting meanwhile). */
  private syncOnce(): Promise<void> {
    const upTo = this.appended;
    const fd = this.fd;
    return new Promise<void>((resolve) => {
      fs.fdatasync(fd, (err) => {
        if (err) this.fail(err);
        else this.synced = Math.max(this.synced, upTo);
        this.syncing = undefined;
        resolve();
      });
    });
  }

  /** Rewrites the journal as the live state: a temporary file, fsynced, renamed over it, the directory fsynced. */
  private compact(): void {
    const tmp = `${this.file}.tmp`;
    // The new file's descriptor stays open for the appends that follow (the rename does not change it).
    const fd = fs.openSync(tmp, 'w', 0o600);
    fs.fchmodSync(fd, 0o600); // a leftover from a crash keeps its mode otherwise
    try {
      let chunk = `${JSON.stringify({ lnsim: FORMAT, network: this.net.network } satisfies Header)}\n`;
      for (const record of this.net.stateRecords()) {
        chunk += `${JSON.stringify(record)}\n`;
        if (chunk.length > 1 << 20) {
          writeAll(fd, chunk);
          chunk = '';
        }
      }
      writeAll(fd, chunk);
      fs.fsyncSync(fd);
      fs.renameSync(tmp, this.file);
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
    fsyncDir(path.dirname(this.file));
    const old = this.fd;
    this.fd = fd;
    // A background fdatasync may still use the old descriptor.
    if (old >= 0) void (this.syncing ?? Promise.resolve()).then(() => fs.closeSync(old));
    this.synced = this.appended;
    this.entries = this.live();
  }

  private fail(err: Error): void {
    if (this.failed) return;
    this.failed = err;
    this.log.error(`cannot write ${this.file}; the simulated node answers with errors from now on`, { error: err.message });
  }

  /** Waits for what was written to reach the disk, closes the file and releases the directory. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.durable().catch(() => undefined);
    await this.syncing;
    this.closed = true;
    fs.closeSync(this.fd);
    this.releaseLock();
  }
}

/** Replaces `file` atomically (0600): a temporary file, fsynced, renamed over it, the directory fsynced. */
export function writeFileDurably(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.tmp`;
  const fd = fs.openSync(tmp, 'w', 0o600);
  try {
    fs.fchmodSync(fd, 0o600);
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  fsyncDir(path.dirname(file));
}

function writeAll(fd: number, text: string): void {
  const buf = Buffer.from(text, 'utf8');
  for (let off = 0; off < buf.length; ) off += fs.writeSync(fd, buf, off);
}

function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Not every platform can fsync a directory (Windows); the rename itself is still atomic.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
