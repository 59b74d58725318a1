/**
 * The embedded Temporal-compatible server: binds WorkflowService, OperatorService and TestService (from the protos
 * inside @temporalio/core-bridge) to the engine on 127.0.0.1. Every method of every service is registered; those
 * without a handler answer UNIMPLEMENTED and are logged.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { lockDirectory } from '@mostro/dir-lock';
import { Engine, type Logger } from './engine.js';
import { withEncodedHistory } from './encoded-history.js';
import { RpcError } from './errors.js';
import { operatorServiceHandlers, testServiceHandlers, workflowServiceHandlers, type Handler } from './handlers.js';
import { loadServices } from './protos.js';
import { Store } from './store.js';
import type { SaType } from './visibility.js';

export interface DevServerOptions {
  /** Port on 127.0.0.1; 0 (the default) picks a free one. */
  port?: number;
  host?: string;
  /** Keep state in this directory (append-only log + snapshots); without it, state is in memory only. */
  dataDir?: string;
  /** Auto-skip: the clock jumps to the next timer whenever nothing is running. */
  timeSkipping?: boolean;
  /** Serve the test service so TestWorkflowEnvironment can skip time while it awaits results (default true). */
  testService?: boolean;
  /** fdatasync every commit (default true); turning it off keeps kill -9 safety but not power-loss safety. */
  fsync?: boolean;
  /** Log size that triggers a snapshot and a new log generation (default 64 MiB). */
  compactBytes?: number;
  /** Extra namespaces to register besides `default`. */
  namespaces?: string[];
  /** Custom search attributes to register in every namespace. */
  searchAttributes?: Record<string, SaType>;
  /** Retention of closed workflows (default 7 days). */
  retentionMs?: number;
  log?: Logger | LogLevel;
  /** Tuning for tests: how long empty long polls wait. */
  pollTimeoutMs?: number;
  historyLongPollMs?: number;
}

export interface DevServer {
  address: string;
  port: number;
  engine: Engine;
  /** RPCs called that this server does not implement (method names), for tests that guard SDK compatibility. */
  unimplementedCalls: string[];
  close(): Promise<void>;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export function consoleLogger(level: LogLevel = 'warn', prefix = '[temporal-dev]'): Logger {
  const order: LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];
  const min = order.indexOf(level);
  const out = (lvl: LogLevel) => (msg: string, extra?: Record<string, unknown>) => {
    if (order.indexOf(lvl) < min) return;
    const line = `${prefix} ${lvl.toUpperCase()} ${msg}${extra ? ' ' + JSON.stringify(extra) : ''}`;
    if (lvl === 'error' || lvl === 'warn') console.error(line);
    else console.log(line);
  };
  return { debug: out('debug'), info: out('info'), warn: out('warn'), error: out('error') };
}

const MALFORMED = Symbol('malformed');

/** Wraps deserializers so an undecodable request becomes INVALID_ARGUMENT instead of grpc-js's INTERNAL. */
function tolerant(def: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const out: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, m] of Object.entries(def)) {
    out[name] = {
      ...m,
      requestDeserialize: (buf: Buffer) => {
        try {
          return m.requestDeserialize(buf);
        } catch (err) {
          return { [MALFORMED]: (err as Error).message };
        }
      },
    };
  }
  return out as grpc.ServiceDefinition;
}

export async function startDevServer(opts: DevServerOptions = {}): Promise<DevServer> {
  const log = typeof opts.log === 'object' ? opts.log : consoleLogger(opts.log ?? 'warn');
  let store: Store;
  let release = () => {};
  let loaded;
  if (opts.dataDir) {
    fs.mkdirSync(opts.dataDir, { recursive: true });
    // A kernel-held lock (src/dir-lock.ts): released the instant a holder dies, so a restart after kill -9 starts.
    const lock = await lockDirectory(opts.dataDir, (m) => log.warn(m));
    release = () => void lock.release();
    // The pid file earlier versions left behind (the lock is ours, so whoever wrote it is gone).
    fs.rmSync(path.join(opts.dataDir, 'LOCK'), { force: true });
    try {
      ({ store, state: loaded } = await Store.open(opts.dataDir, { fsync: opts.fsync ?? true, compactBytes: opts.compactBytes }));
    } catch (err) {
      release();
      throw err;
    }
  } else {
    store = Store.memory();
  }
  const historyLongPollMs = opts.historyLongPollMs ?? 20_000;
  const engine = new Engine({
    autoSkip: opts.timeSkipping ?? false,
    testService: opts.testService ?? true,
    store,
    log,
    defaultRetentionMs: opts.retentionMs ?? 7 * 24 * 3600_000,
    pollTimeoutMs: opts.pollTimeoutMs ?? 50_000,
    historyLongPollMs,
  });
  if (loaded) engine.restore(loaded);
  for (const ns of opts.namespaces ?? []) engine.namespaces.ensure(ns);
  if (opts.searchAttributes) {
    for (const ns of engine.namespaces.names()) {
      const missing = Object.fromEntries(
        Object.entries(opts.searchAttributes).filter(([k]) => !engine.namespaces.customAttributes(ns)[k]),
      );
      engine.namespaces.addSearchAttributes(ns, missing);
    }
  }
  await engine.commit();
  engine.startRetentionSweeper();

  const services = loadServices();
  const server = new grpc.Server({
    'grpc.max_receive_message_length': 128 * 1024 * 1024,
    'grpc.max_send_message_length': 128 * 1024 * 1024,
  });
  const unimplementedCalls: string[] = [];
  const bind = (svcName: string, def: grpc.ServiceDefinition, handlers: Record<string, Handler>) => {
    const impl: grpc.UntypedServiceImplementation = {};
    for (const method of Object.keys(def)) {
      const handler = handlers[method];
      impl[method] = (
        call: grpc.ServerUnaryCall<Record<string | symbol, unknown>, unknown>,
        callback: grpc.sendUnaryData<unknown>,
      ) => {
        if (!handler) {
          log.warn('unimplemented RPC called', { method: `${svcName}/${method}` });
          unimplementedCalls.push(`${svcName}/${method}`);
          callback({ code: grpc.status.UNIMPLEMENTED, details: `${svcName}/${method} is not implemented by the embedded Temporal server` });
          return;
        }
        const req = call.request;
        if (req && req[MALFORMED]) {
          callback({ code: grpc.status.INVALID_ARGUMENT, details: `malformed request: ${String(req[MALFORMED])}` });
          return;
        }
        const cancelFns: (() => void)[] = [];
        call.on('cancelled', () => cancelFns.splice(0).forEach((f) => f()));
        const deadline = call.getDeadline();
        const deadlineMs =
          deadline instanceof Date ? deadline.getTime() : typeof deadline === 'number' && isFinite(deadline) ? deadline : undefined;
        log.debug('rpc', { method });
        Promise.resolve()
          .then(() =>
            handler(req as never, {
              signal: { cancelled: () => call.cancelled, onCancel: (f) => cancelFns.push(f) },
              deadline: deadlineMs,
            }),
          )
          .then(
            async (res) => {
              await engine.commit();
              callback(null, res ?? {});
            },
            async (err: unknown) => {
              await engine.commit().catch(() => undefined);
              if (err instanceof RpcError) {
                callback({ code: err.code, details: err.message });
              } else {
                log.error('RPC handler failed', { method, err: String((err as Error)?.stack ?? err) });
                callback({ code: grpc.status.INTERNAL, details: (err as Error)?.message ?? String(err) });
              }
            },
          );
      };
    }
    server.addService(tolerant(withEncodedHistory(def)), impl);
  };
  bind('WorkflowService', services.workflowService, workflowServiceHandlers(engine, { historyLongPollMs }));
  bind('OperatorService', services.operatorService, operatorServiceHandlers(engine));
  bind('TestService', services.testService, testServiceHandlers(engine, opts.testService ?? true));

  const host = opts.host ?? '127.0.0.1';
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${opts.port ?? 0}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    );
  }).catch(async (err: unknown) => {
    // A busy port: give back the store and the directory, so the caller can report it and try again.
    server.forceShutdown();
    await engine.shutdown();
    release();
    throw err;
  });
  const address = `${host}:${port}`;
  log.info('embedded Temporal server listening', { address, dataDir: opts.dataDir ?? null });

  let closing: Promise<void> | undefined;
  return {
    address,
    port,
    engine,
    unimplementedCalls,
    close: () =>
      (closing ??= (async () => {
        await engine.shutdown();
        await new Promise<void>((resolve) => {
          const t = setTimeout(() => {
            server.forceShutdown();
            resolve();
          }, 2000);
          server.tryShutdown(() => {
            clearTimeout(t);
            resolve();
          });
        });
        release();
      })()),
  };
}
