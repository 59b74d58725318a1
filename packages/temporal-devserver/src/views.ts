/** Read-only views of runs: describe, and the visibility list and count support staff query. */
import type { Engine } from './engine.js';
import { invalidArgument } from './errors.js';
import { jsonPayload, msToDuration, msToTimestamp, type Msg } from './proto-util.js';
import type { Run, RunStatus } from './run.js';
import { STATUS_NAMES, SYSTEM_ATTRIBUTES, evaluate, parseQuery, sortRows, type Row } from './visibility.js';

const STATUS_ENUM = (s: RunStatus) => `WORKFLOW_EXECUTION_STATUS_${s}`;

export function executionInfo(engine: Engine, run: Run): Msg {
  const m = run.m;
  const info: Msg = {
    execution: { workflowId: m.workflowId, runId: m.runId },
    type: { name: m.workflowType },
    startTime: msToTimestamp(m.startTime),
    executionTime: msToTimestamp(m.executionTime),
    status: STATUS_ENUM(m.status),
    historyLength: run.history.length,
    historySizeBytes: m.historySizeBytes,
    memo: { fields: m.memo },
    searchAttributes: engine.namespaces.encodeSearchAttributes(m.namespace, m.searchAttributes),
    taskQueue: m.taskQueue,
    firstRunId: m.firstRunId,
    stateTransitionCount: run.history.length,
  };
  if (m.closeTime !== undefined) {
    info.closeTime = msToTimestamp(m.closeTime);
    info.executionDuration = msToDuration(Math.max(0, m.closeTime - m.executionTime));
  }
  if (m.parent) {
    info.parentNamespaceId = engine.namespaces.get(m.parent.namespace)?.id;
    info.parentExecution = { workflowId: m.parent.workflowId, runId: m.parent.runId };
  }
  return info;
}

export function describeRun(engine: Engine, run: Run): Msg {
  const m = run.m;
  const pendingActivities = Object.values(m.activities).map((a) => ({
    activityId: a.activityId,
    activityType: { name: a.activityType },
    state: a.cancelRequested
      ? 'PENDING_ACTIVITY_STATE_CANCEL_REQUESTED'
      : a.state === 'started'
        ? 'PENDING_ACTIVITY_STATE_STARTED'
        : 'PENDING_ACTIVITY_STATE_SCHEDULED',
    heartbeatDetails: a.heartbeatDetails,
    lastHeartbeatTime: a.lastHeartbeatTime ? msToTimestamp(a.lastHeartbeatTime) : undefined,
    lastStartedTime: a.startedTime ? msToTimestamp(a.startedTime) : undefined,
    attempt: a.attempt,
    maximumAttempts: a.retry.maximumAttempts,
    scheduledTime: msToTimestamp(a.currentAttemptScheduledTime),
    expirationTime: a.scheduleToCloseMs ? msToTimestamp(a.scheduledTime + a.scheduleToCloseMs) : undefined,
    lastFailure: a.lastFailure,
    lastWorkerIdentity: a.identity,
    lastAttemptCompleteTime: a.lastAttemptCompleteTime ? msToTimestamp(a.lastAttemptCompleteTime) : undefined,
    nextAttemptScheduleTime: a.retryAt ? msToTimestamp(a.retryAt) : undefined,
  }));
  const pendingChildren = Object.values(m.children).map((c) => ({
    workflowId: c.workflowId,
    runId: c.runId,
    workflowTypeName: c.workflowType,
    initiatedId: c.initiatedId,
    parentClosePolicy: c.parentClosePolicy,
  }));
  const resp: Msg = {
    executionConfig: {
      taskQueue: { name: m.taskQueue, kind: 'TASK_QUEUE_KIND_NORMAL' },
      workflowExecutionTimeout: msToDuration(m.executionTimeoutMs),
      workflowRunTimeout: msToDuration(m.runTimeoutMs),
      defaultWorkflowTaskTimeout: msToDuration(m.wftTimeoutMs),
    },
    workflowExecutionInfo: executionInfo(engine, run),
    pendingActivities,
    pendingChildren,
  };
  if (m.wft) {
    resp.pendingWorkflowTask = {
      state: m.wft.state === 'started' ? 'PENDING_WORKFLOW_TASK_STATE_STARTED' : 'PENDING_WORKFLOW_TASK_STATE_SCHEDULED',
      scheduledTime: msToTimestamp(m.wft.scheduledTime),
      startedTime: m.wft.startedTime ? msToTimestamp(m.wft.startedTime) : undefined,
      attempt: m.wft.attempt,
    };
  }
  return resp;
}

function rowOf(engine: Engine, run: Run): Row {
  const m = run.m;
  const row: Row = {
    WorkflowType: m.workflowType,
    WorkflowId: m.workflowId,
    RunId: m.runId,
    ExecutionStatus: STATUS_NAMES[m.status],
    TaskQueue: m.taskQueue,
    StartTime: m.startTime,
    ExecutionTime: m.executionTime,
    CloseTime: m.closeTime,
    HistoryLength: run.history.length,
    ExecutionDuration: m.closeTime !== undefined ? (m.closeTime - m.executionTime) * 1e6 : undefined,
    ParentWorkflowId: m.parent?.workflowId,
    ParentRunId: m.parent?.runId,
  };
  const custom = engine.namespaces.customAttributes(m.namespace);
  for (const [k, v] of Object.entries(m.searchAttributes)) {
    const type = custom[k] ?? SYSTEM_ATTRIBUTES[k];
    row[k] = type === 'Datetime' && typeof v === 'string' ? Date.parse(v) : v;
  }
  return row;
}

export function listRuns(engine: Engine, ns: string, query: string | undefined): Run[] {
  const parsed = parseQuery(query ?? '', (name) => engine.namespaces.fieldType(ns, name));
  if (parsed.groupBy) throw invalidArgument('invalid query: GROUP BY is only supported by CountWorkflowExecutions');
  const items: { run: Run; row: Row }[] = [];
  for (const run of engine.runs.values()) {
    if (run.m.namespace !== ns) continue;
    const row = rowOf(engine, run);
    if (evaluate(parsed.where, row)) items.push({ run, row });
  }
  return sortRows(items, parsed.orderBy).map((i) => i.run);
}

export function countRuns(engine: Engine, ns: string, query: string | undefined): Msg {
  const parsed = parseQuery(query ?? '', (name) => engine.namespaces.fieldType(ns, name));
  if (parsed.orderBy.length > 0) throw invalidArgument('invalid query: ORDER BY is not supported when counting');
  let count = 0;
  const groups = new Map<string, number>();
  for (const run of engine.runs.values()) {
    if (run.m.namespace !== ns) continue;
    const row = rowOf(engine, run);
    if (!evaluate(parsed.where, row)) continue;
    count++;
    if (parsed.groupBy) {
      const g = String(row[parsed.groupBy]);
      groups.set(g, (groups.get(g) ?? 0) + 1);
    }
  }
  const resp: Msg = { count };
  if (parsed.groupBy) {
    resp.groups = [...groups].map(([value, c]) => ({ groupValues: [jsonPayload(value, 'Keyword')], count: c }));
  }
  return resp;
}
