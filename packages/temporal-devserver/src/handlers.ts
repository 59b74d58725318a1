/**
 * RPC handlers of the embedded server: WorkflowService, OperatorService and TestService methods mapped onto the
 * engine. Methods without a handler answer UNIMPLEMENTED (see server.ts), so a new SDK requirement shows at once.
 */
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { Engine } from './engine.js';
import type { PollSignal } from './engine-context.js';
import { RpcError, failedPrecondition, invalidArgument } from './errors.js';
import { countRuns, describeRun, executionInfo, listRuns } from './views.js';
import { durationToMs, msToDuration, msToTimestamp, timestampToMs, type Msg } from './proto-util.js';
import { SYSTEM_ATTRIBUTES, saTypeFromEnum, saTypeToEnum, type SaType } from './visibility.js';
import { EncodedEvents } from './history.js';

export interface CallContext {
  signal: PollSignal;
  /** Absolute wall-clock deadline of the call, if the client set one. */
  deadline?: number;
}

export type Handler = (req: Msg, ctx: CallContext) => Msg | Promise<Msg>;

export const SERVER_VERSION = '1.24.0-embedded';

function pageToken(next: number): Buffer {
  return Buffer.from(JSON.stringify({ next }));
}

function readPageToken(tok: Buffer | undefined): number {
  if (!tok || tok.length === 0) return 0;
  try {
    const n = (JSON.parse(Buffer.from(tok).toString()) as { next: number }).next;
    if (!Number.isInteger(n) || n < 0) throw new Error('bad');
    return n;
  } catch {
    throw invalidArgument('malformed nextPageToken');
  }
}

export function workflowServiceHandlers(engine: Engine, opts: { historyLongPollMs: number }): Record<string, Handler> {
  const nsInfo = (name: string): Msg => {
    const ns = engine.namespaces.get(name)!;
    return {
      namespaceInfo: {
        name,
        state: 'NAMESPACE_STATE_REGISTERED',
        id: ns.id,
        description: name === 'default' ? 'Default namespace of the embedded Temporal server' : '',
        data: {},
        // Empty on purpose: advertising capabilities turns on SDK features this server does not implement.
        capabilities: {},
      },
      config: {
        workflowExecutionRetentionTtl: msToDuration(ns.retentionMs),
        historyArchivalState: 'ARCHIVAL_STATE_DISABLED',
        visibilityArchivalState: 'ARCHIVAL_STATE_DISABLED',
      },
      replicationConfig: {
        activeClusterName: 'active',
        clusters: [{ clusterName: 'active' }],
        state: 'REPLICATION_STATE_NORMAL',
      },
      isGlobalNamespace: false,
    };
  };

  const actById = (req: Msg) => {
    const ns = engine.namespaces.require(req.namespace);
    if (!req.workflowId || !req.activityId) throw invalidArgument('workflowId and activityId are required');
    return engine.activities.started(undefined, {
      ns,
      workflowId: req.workflowId,
      runId: req.runId || undefined,
      activityId: req.activityId,
    });
  };

  const signalAttrs = (req: Msg, name: string, input: Msg | undefined): Msg => {
    if (!name) throw invalidArgument('signalName is required');
    return { signalName: name, input, identity: req.identity, header: req.header };
  };

  const handlers: Record<string, Handler> = {
    GetSystemInfo: () => ({
      serverVersion: SERVER_VERSION,
      capabilities: {
        signalAndQueryHeader: true,
        internalErrorDifferentiation: true,
        activityFailureIncludeHeartbeat: true,
        encodedFailureAttributes: true,
        upsertMemo: true,
        sdkMetadata: true,
        countGroupByExecutionStatus: true,
      },
    }),

    GetClusterInfo: () => ({
      supportedClients: {},
      serverVersion: SERVER_VERSION,
      clusterId: 'embedded',
      clusterName: 'active',
      historyShardCount: 1,
      persistenceStore: engine.store.persistent ? 'embedded-log' : 'memory',
      visibilityStore: 'embedded',
      failoverVersionIncrement: 10,
      initialFailoverVersion: 1,
    }),

    DescribeNamespace: (req) => {
      if (!req.namespace && !req.id) throw invalidArgument('namespace is required');
      const name = req.namespace || engine.namespaces.nameOfId(req.id);
      return nsInfo(engine.namespaces.require(name));
    },

    ListNamespaces: () => ({ namespaces: engine.namespaces.names().map(nsInfo) }),

    RegisterNamespace: (req) => {
      if (!req.namespace) throw invalidArgument('namespace is required');
      if (engine.namespaces.has(req.namespace)) {
        throw new RpcError(GrpcStatus.ALREADY_EXISTS, `namespace ${req.namespace} already exists`);
      }
      const retention = durationToMs(req.workflowExecutionRetentionPeriod);
      engine.namespaces.ensure(req.namespace, retention || undefined);
      return {};
    },

    UpdateNamespace: (req) => {
      const name = engine.namespaces.require(req.namespace);
      const retention = durationToMs(req.config?.workflowExecutionRetentionTtl);
      if (retention > 0) engine.namespaces.setRetention(name, retention);
      return nsInfo(name);
    },

    GetSearchAttributes: () => {
      const keys: Msg = {};
      for (const [k, t] of Object.entries(SYSTEM_ATTRIBUTES)) keys[k] = saTypeToEnum(t);
      for (const [k, t] of Object.entries(engine.namespaces.customAttributes('default'))) keys[k] = saTypeToEnum(t);
      return { keys };
    },

    StartWorkflowExecution: (req) => {
      const { run, started } = engine.executions.start(req);
      return { runId: run.runId, started };
    },

    SignalWorkflowExecution: (req) => {
      const ns = engine.namespaces.require(req.namespace);
      const run = engine.runs.findRunning(ns, req.workflowExecution);
      engine.executions.signal(run, signalAttrs(req, req.signalName, req.input), req.requestId || undefined);
      return {};
    },

    SignalWithStartWorkflowExecution: (req) => {
      const ns = engine.namespaces.require(req.namespace);
      if (!req.workflowId) throw invalidArgument('workflowId is required');
      const signal = signalAttrs(req, req.signalName, req.signalInput);
      const existing = engine.runs.current(ns, req.workflowId);
      if (existing?.running && req.workflowIdConflictPolicy !== 'WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING') {
        engine.executions.signal(existing, signal, req.requestId || undefined);
        return { runId: existing.runId, started: false };
      }
      const { run } = engine.executions.start(
        { ...req, workflowIdConflictPolicy: req.workflowIdConflictPolicy },
        { signal },
      );
      return { runId: run.runId, started: true };
    },

    QueryWorkflow: (req, ctx) => {
      const ns = engine.namespaces.require(req.namespace);
      const run = engine.runs.find(ns, req.execution);
      if (!req.query?.queryType) throw invalidArgument('query.queryType is required');
      const cond = req.queryRejectCondition as string | undefined;
      const statusEnum = `WORKFLOW_EXECUTION_STATUS_${run.m.status}`;
      if (!run.running && cond === 'QUERY_REJECT_CONDITION_NOT_OPEN') return { queryRejected: { status: statusEnum } };
      if (cond === 'QUERY_REJECT_CONDITION_NOT_COMPLETED_CLEANLY' && !run.running && run.m.status !== 'COMPLETED') {
        return { queryRejected: { status: statusEnum } };
      }
      const timeout = ctx.deadline !== undefined ? Math.max(ctx.deadline - Date.now(), 1) : 60_000;
      return engine.queries.query(run, req.query, ctx.signal, timeout);
    },

    GetWorkflowExecutionHistory: async (req, ctx) => {
      const ns = engine.namespaces.require(req.namespace);
      const run = engine.runs.find(ns, req.execution);
      const deadline = Date.now() + opts.historyLongPollMs;
      if (req.historyEventFilterType === 'HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT') {
        while (run.running && req.waitNewEvent && Date.now() < deadline && !ctx.signal.cancelled() && !engine.isClosed) {
          await engine.waitForHistory(run, run.history.length, deadline - Date.now(), ctx.signal);
        }
        if (run.running) return { history: { events: [] }, nextPageToken: req.waitNewEvent ? pageToken(0) : undefined };
        return { history: { events: [run.history.last()] } };
      }
      const start = readPageToken(req.nextPageToken);
      if (start >= run.history.length && req.waitNewEvent && run.running) {
        await engine.waitForHistory(run, start, opts.historyLongPollMs, ctx.signal);
      }
      const pageSize = req.maximumPageSize > 0 ? req.maximumPageSize : 1000;
      const events = run.history.encodedSlice(start, start + pageSize);
      const next = start + events.length;
      const more = next < run.history.length || (req.waitNewEvent && run.running);
      return { history: new EncodedEvents(events), nextPageToken: more ? pageToken(next) : undefined };
    },

    GetWorkflowExecutionHistoryReverse: (req) => {
      const ns = engine.namespaces.require(req.namespace);
      const run = engine.runs.find(ns, req.execution);
      const tok = req.nextPageToken?.length ? readPageToken(req.nextPageToken) : run.history.length;
      const pageSize = req.maximumPageSize > 0 ? req.maximumPageSize : 1000;
      const from = Math.max(0, tok - pageSize);
      const events = run.history.encodedSlice(from, tok).reverse();
      return { history: new EncodedEvents(events), nextPageToken: from > 0 ? pageToken(from) : undefined };
    },

    RequestCancelWorkflowExecution: (req) => {
      const ns = engine.namespaces.require(req.namespace);
      const run = engine.runs.findRunning(ns, req.workflowExecution);
      engine.executions.requestCancel(run, { cause: req.reason, identity: req.identity });
      return {};
    },

    TerminateWorkflowExecution: (req) => {
      const ns = engine.namespaces.require(req.namespace);
      const run = engine.runs.findRunning(ns, req.workflowExecution);
      engine.executions.terminate(run, req.reason, req.details, req.identity);
      return {};
    },

    DeleteWorkflowExecution: (req) => {
      const ns = engine.namespaces.require(req.namespace);
      engine.deleteWorkflow(engine.runs.find(ns, req.workflowExecution));
      return {};
    },

    DescribeWorkflowExecution: (req) => {
      const ns = engine.namespaces.require(req.namespace);
      return describeRun(engine, engine.runs.find(ns, req.execution));
    },

    ListWorkflowExecutions: (req) => {
      const ns = engine.namespaces.require(req.namespace);
      const runs = listRuns(engine, ns, req.query);
      const start = readPageToken(req.nextPageToken);
      const size = req.pageSize > 0 ? req.pageSize : 1000;
      const page = runs.slice(start, start + size);
      const next = start + page.length;
      return {
        executions: page.map((r) => executionInfo(engine, r)),
        nextPageToken: next < runs.length ? pageToken(next) : undefined,
      };
    },

    // The scan API of older clients: the same listing, unordered in Temporal; here in the default order.
    ScanWorkflowExecutions: (req, ctx) => handlers.ListWorkflowExecutions!(req, ctx),

    CountWorkflowExecutions: (req) => countRuns(engine, engine.namespaces.require(req.namespace), req.query),

    PollWorkflowTaskQueue: (req, ctx) => {
      requireDeadline(ctx);
      const ns = engine.namespaces.require(req.namespace);
      const name = req.taskQueue?.name as string | undefined;
      if (!name) throw invalidArgument('taskQueue is required');
      const queue = req.taskQueue.kind === 'TASK_QUEUE_KIND_STICKY' ? `sticky:${name}` : name;
      return engine.queues.poll('wf', ns, queue, req.identity ?? '', ctx.signal);
    },

    RespondWorkflowTaskCompleted: (req) => {
      engine.workflowTasks.complete(req);
      return {};
    },

    RespondWorkflowTaskFailed: (req) => {
      engine.workflowTasks.fail(req);
      return {};
    },

    PollActivityTaskQueue: (req, ctx) => {
      requireDeadline(ctx);
      const ns = engine.namespaces.require(req.namespace);
      const name = req.taskQueue?.name as string | undefined;
      if (!name) throw invalidArgument('taskQueue is required');
      return engine.queues.poll('act', ns, name, req.identity ?? '', ctx.signal);
    },

    PollNexusTaskQueue: (req, ctx) => {
      requireDeadline(ctx);
      const ns = engine.namespaces.require(req.namespace);
      return engine.queues.poll('act', ns, `nexus:${req.taskQueue?.name ?? ''}`, req.identity ?? '', ctx.signal);
    },

    RespondActivityTaskCompleted: (req) => {
      const { run, act } = engine.activities.started(req.taskToken);
      engine.activities.complete(run, act, req.result, req.identity);
      return {};
    },

    RespondActivityTaskCompletedById: (req) => {
      const { run, act } = actById(req);
      engine.activities.complete(run, act, req.result, req.identity);
      return {};
    },

    RespondActivityTaskFailed: (req) => {
      const { run, act } = engine.activities.started(req.taskToken);
      engine.activities.fail(run, act, req.failure ?? { message: 'activity failed' }, req.identity, req.lastHeartbeatDetails);
      return {};
    },

    RespondActivityTaskFailedById: (req) => {
      const { run, act } = actById(req);
      engine.activities.fail(run, act, req.failure ?? { message: 'activity failed' }, req.identity, req.lastHeartbeatDetails);
      return {};
    },

    RespondActivityTaskCanceled: (req) => {
      const { run, act } = engine.activities.started(req.taskToken);
      engine.activities.cancel(run, act, req.details, req.identity);
      return {};
    },

    RespondActivityTaskCanceledById: (req) => {
      const { run, act } = actById(req);
      engine.activities.cancel(run, act, req.details, req.identity);
      return {};
    },

    RecordActivityTaskHeartbeat: (req) => {
      const { run, act } = engine.activities.started(req.taskToken);
      return engine.activities.heartbeat(run, act, req.details);
    },

    RecordActivityTaskHeartbeatById: (req) => {
      const { run, act } = actById(req);
      return engine.activities.heartbeat(run, act, req.details);
    },

    RespondQueryTaskCompleted: (req) => {
      engine.queries.answer(req);
      return {};
    },

    ShutdownWorker: (req) => {
      // Only the sticky queue belongs to this one worker; its normal-queue polls are cancelled by the worker itself.
      if (req.stickyTaskQueue) engine.workflowTasks.stickyQueueGone(engine.namespaces.require(req.namespace), req.stickyTaskQueue);
      return {};
    },

    ResetStickyTaskQueue: () => ({}),

    DescribeTaskQueue: (req) => {
      const ns = engine.namespaces.require(req.namespace);
      const name = req.taskQueue?.name as string | undefined;
      if (!name) throw invalidArgument('taskQueue is required');
      const kind = req.taskQueueType === 'TASK_QUEUE_TYPE_ACTIVITY' ? 'act' : 'wf';
      return {
        pollers: engine.queues.describePollers(kind, ns, name).map((p) => ({
          lastAccessTime: msToTimestamp(p.lastAccessTime),
          identity: p.identity,
          ratePerSecond: 0,
        })),
      };
    },
  };
  return handlers;
}

export function operatorServiceHandlers(engine: Engine): Record<string, Handler> {
  return {
    AddSearchAttributes: (req) => {
      const ns = engine.namespaces.require(req.namespace || 'default');
      const attrs: Record<string, SaType> = {};
      for (const [name, t] of Object.entries((req.searchAttributes ?? {}) as Record<string, string>)) {
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw invalidArgument(`invalid search attribute name ${name}`);
        attrs[name] = saTypeFromEnum(t);
      }
      engine.namespaces.addSearchAttributes(ns, attrs);
      return {};
    },

    RemoveSearchAttributes: (req) => {
      const ns = engine.namespaces.require(req.namespace || 'default');
      engine.namespaces.removeSearchAttributes(ns, req.searchAttributes ?? []);
      return {};
    },

    ListSearchAttributes: (req) => {
      const ns = engine.namespaces.require(req.namespace || 'default');
      const customAttributes: Msg = {};
      for (const [k, t] of Object.entries(engine.namespaces.customAttributes(ns))) customAttributes[k] = saTypeToEnum(t);
      const systemAttributes: Msg = {};
      for (const [k, t] of Object.entries(SYSTEM_ATTRIBUTES)) systemAttributes[k] = saTypeToEnum(t);
      return { customAttributes, systemAttributes, storageSchema: {} };
    },
  };
}

export function testServiceHandlers(engine: Engine, enabled: boolean): Record<string, Handler> {
  const requireEnabled = () => {
    if (!enabled) throw failedPrecondition('time skipping is disabled on this server');
  };
  return {
    LockTimeSkipping: () => {
      requireEnabled();
      engine.clock.lock();
      return {};
    },
    UnlockTimeSkipping: () => {
      requireEnabled();
      engine.clock.unlock();
      return {};
    },
    UnlockTimeSkippingWithSleep: async (req) => {
      requireEnabled();
      await engine.testSleep(durationToMs(req.duration), true);
      return {};
    },
    Sleep: async (req) => {
      await engine.testSleep(durationToMs(req.duration), false);
      return {};
    },
    SleepUntil: async (req) => {
      await engine.testSleep(Math.max(0, timestampToMs(req.timestamp) - engine.now()), false);
      return {};
    },
    GetCurrentTime: () => ({ time: msToTimestamp(engine.now()) }),
  };
}

/** A task poll parks for up to a minute: like the real server, refuse one that could never time out. */
function requireDeadline(ctx: { deadline?: number }): void {
  if (ctx.deadline === undefined) throw invalidArgument('Context timeout is not set.');
}
