/**
 * Responses that carry a run's history (a workflow task's poll response, GetWorkflowExecutionHistory and its reverse)
 * write the stored, already-encoded events into the response bytes as they are: protobuf allows a message's fields
 * in any order, so the rest of the response is encoded as usual and the `history` field appended. Decoding every
 * event to an object only for grpc-js to encode it again was most of the server's CPU per workflow task.
 */
import type * as grpc from '@grpc/grpc-js';
import { EncodedEvents } from './history.js';

type Method = grpc.MethodDefinition<unknown, unknown>;
interface DescribedField {
  name: string;
  number: number;
  typeName?: string;
}

/** The field number of a response type's `history` (a temporal.api.history.v1.History), if it has one. */
function historyFieldNumber(m: Method): number | undefined {
  const type = (m as { responseType?: { type?: { field?: DescribedField[] } } }).responseType?.type;
  return type?.field?.find((f) => f.name === 'history' && /(^|\.)History$/.test(f.typeName ?? ''))?.number;
}

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

/** A length-delimited field: its tag, the length, then the bytes. */
function delimited(field: number, parts: Uint8Array[]): Uint8Array[] {
  const len = parts.reduce((n, p) => n + p.byteLength, 0);
  return [Uint8Array.from([...varint((field << 3) | 2), ...varint(len)]), ...parts];
}

/** `History { repeated HistoryEvent events = 1; }` as the response's field `field`. */
export function encodeHistoryField(field: number, events: Uint8Array[]): Buffer {
  const history = events.flatMap((e) => delimited(1, [e]));
  return Buffer.concat(delimited(field, history));
}

/** Method definitions whose responses may carry {@link EncodedEvents} as their `history`. */
export function withEncodedHistory(def: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const out: Record<string, Method> = {};
  for (const [name, m] of Object.entries(def) as [string, Method][]) {
    const field = historyFieldNumber(m);
    if (field === undefined) {
      out[name] = m;
      continue;
    }
    out[name] = {
      ...m,
      responseSerialize: (res: unknown) => {
        const history = (res as { history?: unknown } | null)?.history;
        if (!(history instanceof EncodedEvents)) return m.responseSerialize(res);
        const rest = m.responseSerialize({ ...(res as object), history: undefined });
        return Buffer.concat([rest, encodeHistoryField(field, history.events)]);
      },
    };
  }
  return out as grpc.ServiceDefinition;
}
