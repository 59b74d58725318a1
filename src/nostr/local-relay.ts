/**
 * A Nostr relay on 127.0.0.1 (NIP-01 with addressable replacement, id and signature checks), for tests and for the
 * embedded default of `npm start`. Built on @nostr-relay/core with an in-memory event store, optionally journaled to
 * a file so the embedded relay keeps the order book and traders' messages across restarts. A journaled relay answers
 * `OK` only once the event is on disk (written and `fdatasync`ed; concurrent events share one sync): a trader whose
 * message was acknowledged must find it again after a crash, whether the process was killed or the machine lost power.
 */
import fs from 'node:fs';
import path from 'node:path';
import { EventRepository, EventType, EventUtils, type Event, type Filter } from '@nostr-relay/common';
import { NostrRelay } from '@nostr-relay/core';
import { Validator } from '@nostr-relay/validator';
import { WebSocketServer, type WebSocket } from 'ws';
import { hexToBytes } from '@noble/hashes/utils.js';
import { cryptoBackend } from '@mostro/protocol/crypto';

/**
 * @nostr-relay/common 0.0.40 ignores NIP-01 tag filters (`#p`, `#d`, …) in `isMatchingFilter`, which both live
 * subscriptions and stored queries use: a `#p`-filtered subscription would get every event. Add them: for each
 * `#<letter>` key the event needs a tag of that name whose first value is listed.
 */
const baseMatch = EventUtils.isMatchingFilter.bind(EventUtils);
EventUtils.isMatchingFilter = (event: Event, filter: Filter): boolean => {
  if (!baseMatch(event, filter)) return false;
  for (const [key, values] of Object.entries(filter as Record<string, unknown>)) {
    if (key.length !== 2 || key[0] !== '#' || !Array.isArray(values)) continue;
    const name = key[1];
    if (!event.tags.some((t) => t[0] === name && t[1] !== undefined && values.includes(t[1]))) return false;
  }
  return true;
};

/** Appends lines to a file and resolves each append once it is durable; appends that arrive together share a sync. */
/**
 * Signatures through the protocol's crypto backend: libsecp256k1 (WebAssembly) in the daemon, several times faster
 * than the pure-JavaScript verifier @nostr-relay/common ships — the embedded relay checks every event a storm sends.
 */
EventUtils.isSigValid = (event: Event): boolean => {
  try {
    return cryptoBackend().verifySchnorr(hexToBytes(event.sig), hexToBytes(event.id), hexToBytes(event.pubkey));
  } catch {
    return false;
  }
};

class DurableJournal {
  private queued: string[] = [];
  private waiters: { resolve: () => void; reject: (err: unknown) => void }[] = [];
  private writing = false;
  private failed: unknown;
  /** A rewrite of the file from the live store, done between two batches of appends. */
  private compaction: (() => string) | undefined;

  constructor(
    private fd: number,
    private readonly file: string,
  ) {}

  /**
   * Rewrites the file from `snapshot` (the store as it is then) before the next batch: a temporary file, synced,
   * renamed over the journal. Appends queued meanwhile land after it (a line twice is harmless: ids are unique).
   */
  compact(snapshot: () => string): void {
    this.compaction = snapshot;
    if (!this.writing) {
      this.writing = true;
      void this.loop();
    }
  }

  private rewrite(snapshot: () => string): void {
    const tmp = `${this.file}.tmp`;
    const fd = fs.openSync(tmp, 'w', 0o600);
    try {
      fs.writeSync(fd, snapshot());
      fs.fdatasyncSync(fd);
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
    fs.renameSync(tmp, this.file);
    fsyncDir(path.dirname(this.file));
    fs.closeSync(this.fd);
    fs.closeSync(fd);
    this.fd = fs.openSync(this.file, 'a');
  }

  get descriptor(): number {
    return this.fd;
  }

  append(line: string): Promise<void> {
    if (this.failed !== undefined) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      this.queued.push(line);
      this.waiters.push({ resolve, reject });
      if (!this.writing) {
        this.writing = true;
        void this.loop();
      }
    });
  }

  private async loop(): Promise<void> {
    try {
      while (this.queued.length > 0 || this.compaction) {
        if (this.compaction) {
          const snapshot = this.compaction;
          this.compaction = undefined;
          try {
            this.rewrite(snapshot);
          } catch {
            // The old file is intact (the rename did not happen): appends go on there; compaction is retried later.
          }
          continue;
        }
        const text = this.queued.join('');
        const waiters = this.waiters;
        this.queued = [];
        this.waiters = [];
        try {
          await writeAll(this.fd, Buffer.from(text, 'utf8'));
          await new Promise<void>((resolve, reject) => fs.fdatasync(this.fd, (err) => (err ? reject(err) : resolve())));
        } catch (err) {
          // A disk that failed once is not trusted again: this and every later event is refused.
          this.failed = err;
          for (const w of [...waiters, ...this.waiters]) w.reject(err);
          this.waiters = [];
          this.queued = [];
          return;
        }
        for (const w of waiters) w.resolve();
      }
    } finally {
      this.writing = false;
    }
  }

  /** Resolves when every append so far is durable (or failed). */
  async drain(): Promise<void> {
    while (this.writing) await new Promise((r) => setImmediate(r));
  }
}

function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

async function writeAll(fd: number, buf: Buffer): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    off += await new Promise<number>((resolve, reject) =>
      fs.write(fd, buf, off, buf.length - off, null, (err, n) => (err ? reject(err) : resolve(n))),
    );
  }
}

/** The NIP-40 expiration of an event (unix seconds), or null. */
const expirationOf = (e: Event): number | null => {
  const v = e.tags.find((t) => t[0] === 'expiration')?.[1];
  const n = v === undefined ? NaN : Number(v);
  return Number.isFinite(n) ? n : null;
};

/**
 * The store: every event by id, in arrival order. Bounded: past `maxEvents` the oldest events go first — those of
 * authors not in `keepAuthors` (the daemon's own replies and order book are what clients come back for) before any
 * of the kept authors' —, and events whose NIP-40 expiration passed are neither served nor kept. A storm of events
 * can therefore not grow the relay's memory (or its file, compacted when mostly dead) without limit.
 */
class MemoryEventRepository extends EventRepository {
  private events = new Map<string, Event>();
  /** The same events, in arrival order, split by whether their author is kept longest. */
  private others = new Set<string>();
  private kept = new Set<string>();
  /** Replaceable and addressable events by `kind:pubkey[:d]`: the one revision each key holds. */
  private replaceables = new Map<string, string>();
  /** Every stored event as a JSON line; replayed through `upsert` at start, so replacement rules apply. */
  private journal: DurableJournal | undefined;
  /** Lines in the journal file (live or not): it is compacted when mostly dead. */
  private journalLines = 0;
  /** Like public relays, at most this many events per filter (newest first); clients page with `until`. */
  maxResults = Infinity;
  maxEvents = Infinity;
  /** Dead lines the file may hold beyond twice the live ones before it is rewritten. */
  compactSlack = 10_000;
  keepAuthors: ReadonlySet<string> = new Set();
  now: () => number = () => Math.floor(Date.now() / 1000);

  isSearchSupported(): boolean {
    return false;
  }

  async upsert(event: Event): Promise<{ isDuplicate: boolean }> {
    const r = this.apply(event);
    if (r.isDuplicate || this.journal === undefined) return r;
    try {
      // The relay answers OK (and shows the event to subscribers) only after this resolves.
      await this.journal.append(`${JSON.stringify(event)}\n`);
    } catch (err) {
      if (this.events.get(event.id) === event) this.remove(event.id);
      throw err;
    }
    this.journalLines++;
    if (this.journalLines > 2 * this.events.size + this.compactSlack) {
      this.journalLines = this.events.size;
      this.journal.compact(() => this.snapshot());
    }
    return r;
  }

  /** The in-memory part of `upsert`: NIP-01 replacement rules, NIP-40 expiration, the store's bound. */
  private apply(event: Event): { isDuplicate: boolean } {
    if (this.events.has(event.id)) return { isDuplicate: true };
    const type = EventUtils.getType(event.kind);
    if (type === EventType.EPHEMERAL) return { isDuplicate: false };
    const exp = expirationOf(event);
    if (exp !== null && exp <= this.now()) return { isDuplicate: false };
    if (type === EventType.REPLACEABLE || type === EventType.PARAMETERIZED_REPLACEABLE) {
      const d = type === EventType.PARAMETERIZED_REPLACEABLE ? (EventUtils.extractDTagValue(event) ?? '') : '';
      const key = `${event.kind}:${event.pubkey}:${d}`;
      const held = this.replaceables.get(key);
      const current = held === undefined ? undefined : this.events.get(held);
      if (current && current.created_at > event.created_at) return { isDuplicate: true };
      if (current) this.remove(current.id);
      this.replaceables.set(key, event.id);
    }
    this.events.set(event.id, event);
    (this.keepAuthors.has(event.pubkey) ? this.kept : this.others).add(event.id);
    while (this.events.size > this.maxEvents) this.evictOldest();
    return { isDuplicate: false };
  }

  private evictOldest(): void {
    const from = this.others.size > 0 ? this.others : this.kept;
    const oldest = from.values().next().value;
    if (oldest !== undefined) this.remove(oldest);
  }

  private remove(id: string): void {
    const e = this.events.get(id);
    if (!e) return;
    this.events.delete(id);
    this.others.delete(id);
    this.kept.delete(id);
    const type = EventUtils.getType(e.kind);
    if (type === EventType.REPLACEABLE || type === EventType.PARAMETERIZED_REPLACEABLE) {
      const d = type === EventType.PARAMETERIZED_REPLACEABLE ? (EventUtils.extractDTagValue(e) ?? '') : '';
      const key = `${e.kind}:${e.pubkey}:${d}`;
      if (this.replaceables.get(key) === id) this.replaceables.delete(key);
    }
  }

  /** Forgets events whose NIP-40 expiration passed. */
  sweepExpired(): number {
    const now = this.now();
    let n = 0;
    for (const e of [...this.events.values()]) {
      const exp = expirationOf(e);
      if (exp !== null && exp <= now) {
        this.remove(e.id);
        n++;
      }
    }
    return n;
  }

  private snapshot(): string {
    return [...this.events.values()].map((e) => `${JSON.stringify(e)}\n`).join('');
  }

  find(filter: Filter): Event[] {
    // By id (every incoming event is checked for duplicates this way): no scan of the whole store.
    const candidates = filter.ids ? filter.ids.flatMap((id) => this.events.get(id) ?? []) : this.events.values();
    const now = this.now();
    const live = (e: Event) => {
      const exp = expirationOf(e);
      return exp === null || exp > now;
    };
    const out = [...candidates].filter((e) => live(e) && EventUtils.isMatchingFilter(e, filter)).sort((a, b) => b.created_at - a.created_at);
    return out.slice(0, Math.min(filter.limit ?? Infinity, this.maxResults));
  }

  async destroy(): Promise<void> {
    this.events.clear();
    this.others.clear();
    this.kept.clear();
    this.replaceables.clear();
  }

  get size(): number {
    return this.events.size;
  }

  /**
   * Loads `file`, drops what expired or was replaced, rewrites it compacted (synced before it replaces the old one,
   * so a crash leaves one or the other), and journals from then on.
   */
  open(file: string): void {
    if (fs.existsSync(file)) {
      for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
        if (!line) continue;
        try {
          // Expired events are dropped and the bound applies as at run time.
          this.apply(JSON.parse(line) as Event);
        } catch {
          // a line torn by a crash mid-write (never acknowledged)
        }
      }
    }
    const tmp = `${file}.tmp`;
    const fd = fs.openSync(tmp, 'w', 0o600);
    try {
      fs.writeSync(fd, this.snapshot());
      fs.fdatasyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
    fsyncDir(path.dirname(file));
    this.journalLines = this.events.size;
    this.journal = new DurableJournal(fs.openSync(file, 'a'), file);
  }

  async closeJournal(): Promise<void> {
    await this.journal?.drain();
    if (this.journal) fs.closeSync(this.journal.descriptor);
    this.journal = undefined;
  }
}

export interface LocalRelay {
  url: string;
  port: number;
  /** Number of stored events (tests). */
  storedEvents(): number;
  /** Drops every client connection, as a relay restart would (tests of reconnection). */
  dropConnections(): void;
  close(): Promise<void>;
}

export interface LocalRelayOptions {
  port?: number;
  host?: string;
  /** The journal: events survive restarts, and each is on disk before the relay answers OK. */
  file?: string;
  /** At most this many events per filter, newest first, as public relays cap their answers (tests of paging). */
  maxResults?: number;
  /** At most this many events stored (default 100,000); past it the oldest go, `keepAuthors`' last. */
  maxEvents?: number;
  /** Authors whose events are evicted last: the daemon's key (its replies and order book). */
  keepAuthors?: string[];
  /** Dead lines the file may hold beyond twice the live ones before it is rewritten (default 10,000). */
  compactSlack?: number;
}

/** How many events the relay keeps at most, by default: some hundreds of MB at the size of trade messages. */
export const DEFAULT_MAX_EVENTS = 100_000;

export async function startLocalRelay(opts: LocalRelayOptions = {}): Promise<LocalRelay> {
  const host = opts.host ?? '127.0.0.1';
  const repo = new MemoryEventRepository();
  if (opts.maxResults !== undefined) repo.maxResults = opts.maxResults;
  repo.maxEvents = opts.maxEvents ?? DEFAULT_MAX_EVENTS;
  repo.keepAuthors = new Set(opts.keepAuthors ?? []);
  if (opts.compactSlack !== undefined) repo.compactSlack = opts.compactSlack;
  if (opts.file) repo.open(opts.file);
  const sweeper = setInterval(() => repo.sweepExpired(), 60_000);
  sweeper.unref();
  // No filter-result cache: a query right after a replacement must see the new revision.
  const relay = new NostrRelay(repo, { logLevel: 3, filterResultCacheTtl: 0 });
  const validator = new Validator();
  const wss = new WebSocketServer({ port: opts.port ?? 0, host });
  wss.on('connection', (ws: WebSocket) => {
    relay.handleConnection(ws);
    ws.on('message', (data) => {
      void (async () => {
        try {
          await relay.handleMessage(ws, await validator.validateIncomingMessage(data));
        } catch (e) {
          if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(['NOTICE', (e as Error).message]));
        }
      })();
    });
    ws.on('close', () => relay.handleDisconnect(ws));
    ws.on('error', () => undefined);
  });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  const port = (wss.address() as { port: number }).port;
  return {
    url: `ws://${host}:${port}`,
    port,
    storedEvents: () => repo.size,
    dropConnections: () => {
      for (const c of wss.clients) c.terminate();
    },
    close: async () => {
      clearInterval(sweeper);
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
      await repo.closeJournal();
      await relay.destroy();
    },
  };
}
