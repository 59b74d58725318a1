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
import { cryptoBackend } from '../protocol/crypto.js';

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

  constructor(private readonly fd: number) {}

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
      while (this.queued.length > 0) {
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

async function writeAll(fd: number, buf: Buffer): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    off += await new Promise<number>((resolve, reject) =>
      fs.write(fd, buf, off, buf.length - off, null, (err, n) => (err ? reject(err) : resolve(n))),
    );
  }
}

class MemoryEventRepository extends EventRepository {
  private events = new Map<string, Event>();
  /** Every stored event as a JSON line; replayed through `upsert` at start, so replacement rules apply. */
  private journal: DurableJournal | undefined;
  private journalFd: number | undefined;
  /** Like public relays, at most this many events per filter (newest first); clients page with `until`. */
  maxResults = Infinity;

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
      if (this.events.get(event.id) === event) this.events.delete(event.id);
      throw err;
    }
    return r;
  }

  /** The in-memory part of `upsert`: NIP-01 replacement rules. */
  private apply(event: Event): { isDuplicate: boolean } {
    if (this.events.has(event.id)) return { isDuplicate: true };
    const type = EventUtils.getType(event.kind);
    if (type === EventType.EPHEMERAL) return { isDuplicate: false };
    if (type === EventType.REPLACEABLE || type === EventType.PARAMETERIZED_REPLACEABLE) {
      const d = type === EventType.PARAMETERIZED_REPLACEABLE ? (EventUtils.extractDTagValue(event) ?? '') : null;
      for (const [id, e] of this.events) {
        if (e.kind !== event.kind || e.pubkey !== event.pubkey) continue;
        if (d !== null && (EventUtils.extractDTagValue(e) ?? '') !== d) continue;
        if (e.created_at > event.created_at) return { isDuplicate: true };
        this.events.delete(id);
      }
    }
    this.events.set(event.id, event);
    return { isDuplicate: false };
  }

  find(filter: Filter): Event[] {
    // By id (every incoming event is checked for duplicates this way): no scan of the whole store.
    const candidates = filter.ids ? filter.ids.flatMap((id) => this.events.get(id) ?? []) : this.events.values();
    const out = [...candidates].filter((e) => EventUtils.isMatchingFilter(e, filter)).sort((a, b) => b.created_at - a.created_at);
    return out.slice(0, Math.min(filter.limit ?? Infinity, this.maxResults));
  }

  async destroy(): Promise<void> {
    this.events.clear();
  }

  get size(): number {
    return this.events.size;
  }

  /**
   * Loads `file`, drops what expired or was replaced, rewrites it compacted (synced before it replaces the old one,
   * so a crash leaves one or the other), and journals from then on.
   */
  open(file: string, now = Math.floor(Date.now() / 1000)): void {
    if (fs.existsSync(file)) {
      for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
        if (!line) continue;
        try {
          const e = JSON.parse(line) as Event;
          const exp = e.tags.find((t) => t[0] === 'expiration')?.[1];
          if (exp === undefined || Number(exp) > now) this.apply(e);
        } catch {
          // a line torn by a crash mid-write (never acknowledged)
        }
      }
    }
    const tmp = `${file}.tmp`;
    const fd = fs.openSync(tmp, 'w');
    try {
      fs.writeSync(fd, [...this.events.values()].map((e) => `${JSON.stringify(e)}\n`).join(''));
      fs.fdatasyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
    const dir = fs.openSync(path.dirname(file), 'r');
    try {
      fs.fsyncSync(dir);
    } finally {
      fs.closeSync(dir);
    }
    this.journalFd = fs.openSync(file, 'a');
    this.journal = new DurableJournal(this.journalFd);
  }

  async closeJournal(): Promise<void> {
    await this.journal?.drain();
    if (this.journalFd !== undefined) fs.closeSync(this.journalFd);
    this.journal = undefined;
    this.journalFd = undefined;
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
}

export async function startLocalRelay(opts: LocalRelayOptions = {}): Promise<LocalRelay> {
  const host = opts.host ?? '127.0.0.1';
  const repo = new MemoryEventRepository();
  if (opts.maxResults !== undefined) repo.maxResults = opts.maxResults;
  if (opts.file) repo.open(opts.file);
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
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
      await repo.closeJournal();
      await relay.destroy();
    },
  };
}
