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
