/**
 * The daemon's logs: one JSON object per line on stdout (pino), with `component` and whatever ids the record is
 * about (`orderId`, `workflowId`, `eventId`). Secrets are redacted before a record is written (see `redact`).
 */
import { pino, type Logger as Pino } from 'pino';
import { redact, scrub, type Logger } from './log.js';

export type LogLevelName = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export interface DaemonLogger extends Logger {
  child(bindings: Record<string, unknown>): DaemonLogger;
}

function wrap(p: Pino): DaemonLogger {
  const at = (level: 'debug' | 'info' | 'warn' | 'error') => (msg: string, extra?: Record<string, unknown>) => {
    if (!p.isLevelEnabled(level)) return;
    const fields = redact(extra);
    if (fields) p[level](fields, scrub(msg));
    else p[level](scrub(msg));
  };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (bindings) => wrap(p.child(redact(bindings) ?? {})),
  };
}

/** A JSON logger writing to `destination` (stdout by default; a file descriptor or stream in tests). */
export function createLogger(level: LogLevelName = 'info', destination?: pino.DestinationStream): DaemonLogger {
  const p = pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, destination ?? pino.destination({ sync: true }));
  return wrap(p);
}

const RANK: Record<string, number> = { TRACE: 0, DEBUG: 1, INFO: 2, WARN: 3, ERROR: 4 };

/**
 * The Temporal SDK's logger (worker, workflows through `log` from `@temporalio/workflow`, activities) writing into the
 * daemon's JSON log: its metadata (`workflowId`, `runId`, `activityType`, `taskQueue`…) becomes fields.
 */
export function temporalLogger(log: DaemonLogger, minimum: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' = 'INFO') {
  const at = (level: string, message: string, meta?: Record<string, unknown>) => {
    if ((RANK[level] ?? 2) < RANK[minimum]!) return;
    const fields = meta ? Object.fromEntries(Object.entries(meta).map(([k, v]) => [k, typeof v === 'bigint' ? String(v) : v])) : undefined;
    if (level === 'ERROR') log.error(message, fields);
    else if (level === 'WARN') log.warn(message, fields);
    else if (level === 'INFO') log.info(message, fields);
    else log.debug(message, fields);
  };
  return {
    log: (level: string, message: string, meta?: Record<string, unknown>) => at(level, message, meta),
    trace: (m: string, meta?: Record<string, unknown>) => at('TRACE', m, meta),
    debug: (m: string, meta?: Record<string, unknown>) => at('DEBUG', m, meta),
    info: (m: string, meta?: Record<string, unknown>) => at('INFO', m, meta),
    warn: (m: string, meta?: Record<string, unknown>) => at('WARN', m, meta),
    error: (m: string, meta?: Record<string, unknown>) => at('ERROR', m, meta),
  };
}
