/**
 * A run's history, kept protobuf-encoded: one exact-size buffer per event (~0.3 KB for a typical event) instead of a
 * tree of decoded objects and Buffers (several times that, plus whatever request buffers their byte fields are views
 * of). Events are decoded when read: a sticky poll reads the few newest, a replay the whole history once.
 */
import path from 'node:path';
import fs from 'node:fs';
import protobuf from 'protobufjs';
import type { Msg } from './proto-util.js';
import { protoRoot } from './protos.js';

let eventType: protobuf.Type | undefined;

function historyEventType(): protobuf.Type {
  if (eventType) return eventType;
  const base = protoRoot();
  const dirs = [path.join(base, 'api_upstream'), base];
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => {
    for (const d of dirs) {
      const p = path.join(d, target);
      if (fs.existsSync(p)) return p;
    }
    return target; // google/protobuf/* well-known types: protobufjs has them built in
  };
  root.loadSync('temporal/api/history/v1/message.proto');
  eventType = root.lookupType('temporal.api.history.v1.HistoryEvent');
  return eventType;
}

/** The same object shape @grpc/proto-loader produces for the services (camelCase, longs as numbers, enum names). */
const TO_OBJECT: protobuf.IConversionOptions = { longs: Number, enums: String, defaults: false, oneofs: true };

/** One event, protobuf-encoded in its own exact-size buffer. */
export function encodeEvent(ev: Msg): Uint8Array {
  const t = historyEventType();
  const bytes = t.encode(t.fromObject(ev)).finish();
  // Own, exact-size memory: the writer's buffer may be a slice of a shared pool.
  const own = new Uint8Array(bytes.byteLength);
  own.set(bytes);
  return own;
}

function decode(bytes: Uint8Array): Msg {
  const t = historyEventType();
  return t.toObject(t.decode(bytes), TO_OBJECT) as Msg;
}

export class History {
  private readonly events: Uint8Array[] = [];

  static from(events: Iterable<Msg>): History {
    const h = new History();
    for (const e of events) h.push(e);
    return h;
  }

  get length(): number {
    return this.events.length;
  }

  push(ev: Msg): void {
    this.events.push(encodeEvent(ev));
  }

  /** The event at 0-based position `i`. */
  get(i: number): Msg | undefined {
    const e = this.events[i];
    return e ? decode(e) : undefined;
  }

  last(): Msg | undefined {
    return this.get(this.events.length - 1);
  }

  /** Decoded events in [from, to). */
  slice(from = 0, to = this.events.length): Msg[] {
    return this.events.slice(from, to).map(decode);
  }

  /** Events in [from, to) as they are stored, for a response that carries them without decoding (EncodedEvents). */
  encodedSlice(from = 0, to = this.events.length): Uint8Array[] {
    return this.events.slice(from, to);
  }

  /** Re-stamps an event (transient workflow-task events get their original times when they are written). */
  setEventTime(i: number, eventTime: Msg): void {
    const ev = this.get(i);
    if (!ev) return;
    ev.eventTime = eventTime;
    this.events[i] = encodeEvent(ev);
  }
}

/**
 * A response's `history` whose events stay encoded: the server writes them into the response as they are
 * (server.ts, `withEncodedHistory`) instead of decoding each event to an object for grpc-js to encode again — most of
 * what a workflow task costs the server.
 */
export class EncodedEvents {
  constructor(readonly events: Uint8Array[]) {}
}
