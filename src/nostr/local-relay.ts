/**
 * A Nostr relay on 127.0.0.1 (NIP-01 with addressable replacement, id and signature checks), for tests and for the
 * embedded default of `npm start`. Built on @nostr-relay/core with an in-memory event store, optionally journaled to
 * a file so the embedded relay keeps the order book across restarts.
 */
import fs from 'node:fs';
import { EventRepository, EventType, EventUtils, type Event, type Filter } from '@nostr-relay/common';
import { NostrRelay } from '@nostr-relay/core';
import { Validator } from '@nostr-relay/validator';
import { WebSocketServer, type WebSocket } from 'ws';

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

class MemoryEventRepository extends EventRepository {
  private events = new Map<string, Event>();
  /** Appends every stored event (JSON lines); replayed through `upsert` at start, so replacement rules apply. */
  journal: number | undefined;

  isSearchSupported(): boolean {
    return false;
  }

  upsert(event: Event): { isDuplicate: boolean } {
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
    if (this.journal !== undefined) fs.writeSync(this.journal, `${JSON.stringify(event)}\n`);
    return { isDuplicate: false };
  }

  find(filter: Filter): Event[] {
    const out = [...this.events.values()]
      .filter((e) => EventUtils.isMatchingFilter(e, filter))
      .sort((a, b) => b.created_at - a.created_at);
    return filter.limit !== undefined ? out.slice(0, filter.limit) : out;
  }

  async destroy(): Promise<void> {
    this.events.clear();
  }

  get size(): number {
    return this.events.size;
  }

  /** Loads `file`, drops what expired or was replaced, rewrites it compacted, and journals from then on. */
  open(file: string, now = Math.floor(Date.now() / 1000)): void {
    if (fs.existsSync(file)) {
      for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
        if (!line) continue;
        try {
          const e = JSON.parse(line) as Event;
          const exp = e.tags.find((t) => t[0] === 'expiration')?.[1];
          if (exp === undefined || Number(exp) > now) this.upsert(e);
        } catch {
          // a line torn by a crash mid-write
        }
      }
    }
    const tmp = `${file}.tmp`;
    fs.writeFileSync(tmp, [...this.events.values()].map((e) => `${JSON.stringify(e)}\n`).join(''));
    fs.renameSync(tmp, file);
    this.journal = fs.openSync(file, 'a');
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

export async function startLocalRelay(opts: { port?: number; host?: string; file?: string } = {}): Promise<LocalRelay> {
  const host = opts.host ?? '127.0.0.1';
  const repo = new MemoryEventRepository();
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
      await relay.destroy();
      if (repo.journal !== undefined) fs.closeSync(repo.journal);
      repo.journal = undefined;
    },
  };
}
