/** Conversions between proto-loader objects (longs as numbers, bytes as Buffers) and plain values. */

/** A decoded proto message as @grpc/proto-loader hands it over: camelCase fields, enums as strings. */
export type Msg = Record<string, any>;

export interface Duration {
  seconds?: number | string;
  nanos?: number;
}

export function durationToMs(d: Duration | null | undefined): number {
  if (!d) return 0;
  return Number(d.seconds ?? 0) * 1000 + Math.floor((d.nanos ?? 0) / 1e6);
}

export function msToDuration(ms: number): { seconds: number; nanos: number } {
  const whole = Math.floor(ms / 1000);
  return { seconds: whole, nanos: Math.round((ms - whole * 1000) * 1e6) };
}

export const msToTimestamp = msToDuration;
export const timestampToMs = durationToMs;

/** 'WorkflowExecutionStarted' → 'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED'. */
export function eventTypeName(type: string): string {
  return 'EVENT_TYPE_' + type.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

/** 'WorkflowExecutionStarted' → 'workflowExecutionStartedEventAttributes'. */
export function eventAttrField(type: string): string {
  return type[0]!.toLowerCase() + type.slice(1) + 'EventAttributes';
}

/** 'COMMAND_TYPE_START_TIMER' → 'startTimerCommandAttributes'. */
export function commandAttrField(type: string): string {
  const words = type.replace(/^COMMAND_TYPE_/, '').toLowerCase();
  return words.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase()) + 'CommandAttributes';
}

/** 'EVENT_TYPE_TIMER_FIRED' → 'TimerFired'. */
export function eventTypeFromName(name: string): string {
  return name
    .replace(/^EVENT_TYPE_/, '')
    .toLowerCase()
    .replace(/(^|_)([a-z])/g, (_m, _s, c: string) => c.toUpperCase());
}

const JSON_PLAIN = Buffer.from('json/plain');

export function jsonPayload(value: unknown, type?: string): Msg {
  const metadata: Msg = { encoding: JSON_PLAIN };
  if (type) metadata.type = Buffer.from(type);
  return { metadata, data: Buffer.from(JSON.stringify(value)) };
}

/** Decodes a json/plain (or binary/null) payload; returns undefined for anything else. */
export function decodePayload(p: Msg | undefined): unknown {
  if (!p) return undefined;
  const enc = p.metadata?.encoding ? Buffer.from(p.metadata.encoding).toString() : 'json/plain';
  if (enc === 'binary/null') return null;
  if (enc !== 'json/plain') return undefined;
  const data = p.data ? Buffer.from(p.data).toString() : '';
  if (data === '') return null;
  return JSON.parse(data);
}

/** JSON with Buffers kept as base64, for the persistence log. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key: string, v: unknown) {
    const orig = key === '' ? value : this[key];
    if (orig instanceof Uint8Array) return { $b: Buffer.from(orig).toString('base64') };
    return v;
  });
}

export function fromJson<T = unknown>(text: string): T {
  return JSON.parse(text, (_k, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      if (typeof o.$b === 'string' && Object.keys(o).length === 1) return Buffer.from(o.$b, 'base64');
    }
    return v;
  }) as T;
}

