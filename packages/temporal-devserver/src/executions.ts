/**
 * The life of a workflow run: start (workflow-id conflict and reuse policies, start delay, run and execution
 * timeouts), signals, cancel requests, termination, and closing, however it happens.
 */
import { randomUUID } from 'node:crypto';
import type { EngineContext } from './engine-context.js';
import { alreadyExists, invalidArgument, notFound } from './errors.js';
import type { HistoryWriter } from './history-writer.js';
import type { Namespaces } from './namespaces.js';
import { durationToMs, msToDuration, msToTimestamp, type Msg } from './proto-util.js';
import type { Queries } from './queries.js';
import { Run, type ChildState, type RunMeta, type RunStatus } from './run.js';
import type { RunRegistry } from './run-registry.js';
import { decodeSearchAttributes } from './visibility.js';
import type { WorkflowTasks } from './workflow-tasks.js';

const DEFAULT_WFT_TIMEOUT_MS = 10_000;

export interface StartOptions {
  /** Signal-with-start: the signal is written right after the start event. */
  signal?: Msg;
  /** A child workflow: its parent and the parent's initiated event. */
  parent?: RunMeta['parent'];
  /** Continue-as-new: the run this one continues, and the new run's id (already written in the closing event). */
  continued?: { from: Run; initiator: string; runId: string };
}

export interface ExecutionDeps {
  runs: Pick<RunRegistry, 'add' | 'current' | 'nextSeq'>;
  namespaces: Pick<Namespaces, 'require' | 'writableAttributes'>;
  history: Pick<HistoryWriter, 'append' | 'flushBuffered'>;
  workflowTasks: Pick<WorkflowTasks, 'schedule' | 'addExternalEvents'>;
  /** Queries waiting for a task of a closed run are answered by a worker replaying its history. */
  queries: Pick<Queries, 'releaseWaiting'>;
  /** A run closed: its effects on related runs (parent-close policy for its children, its parent's event). */
  onClosed(run: Run, children: ChildState[]): void;
}

export class Executions {
  constructor(
    private readonly ctx: Pick<EngineContext, 'clock' | 'touch' | 'commit'>,
    private readonly deps: ExecutionDeps,
  ) {}

  private timerKey(run: Run, what: 'delay' | 'wfTimeout'): string {
    return `${run.runId}|${what}`;
  }

  start(req: Msg, opts: StartOptions = {}): { run: Run; started: boolean } {
    const ns = this.deps.namespaces.require(req.namespace);
    const workflowId = req.workflowId as string | undefined;
    if (!workflowId) throw invalidArgument('workflowId is required');
    if (!req.workflowType?.name) throw invalidArgument('workflowType is required');
    if (!req.taskQueue?.name) throw invalidArgument('taskQueue is required');
    const requestId = (req.requestId as string | undefined) || randomUUID();
    const sa = decodeSearchAttributes(req.searchAttributes?.indexedFields, this.deps.namespaces.writableAttributes(ns));

    const existing = this.deps.runs.current(ns, workflowId);
    if (existing && !opts.continued) {
      const answer = this.resolveIdConflict(existing, req, requestId);
      if (answer) return answer;
    }

    const now = this.ctx.clock.now();
    const runId = opts.continued?.runId ?? randomUUID();
    const executionTimeoutMs = durationToMs(req.workflowExecutionTimeout);
    const runTimeoutMs = durationToMs(req.workflowRunTimeout);
    const wftTimeoutMs = durationToMs(req.workflowTaskTimeout) || DEFAULT_WFT_TIMEOUT_MS;
    const delayMs = durationToMs(req.workflowStartDelay) || durationToMs(req.backoffStartInterval);
    const from = opts.continued?.from;
    const meta: RunMeta = {
      seq: this.deps.runs.nextSeq(),
      namespace: ns,
      workflowId,
      runId,
      firstRunId: from ? from.m.firstRunId : runId,
      workflowType: req.workflowType.name,
      taskQueue: req.taskQueue.name,
      status: 'RUNNING',
      startRequestId: requestId,
      startTime: now,
      executionTime: now + delayMs,
      memo: req.memo?.fields ?? {},
      searchAttributes: Object.fromEntries(Object.entries(sa).filter(([, v]) => v !== null)),
      wftTimeoutMs,
      runTimeoutMs,
      executionTimeoutMs,
      executionDeadline: from ? from.m.executionDeadline : executionTimeoutMs ? now + executionTimeoutMs : undefined,
      runDeadline: runTimeoutMs ? now + runTimeoutMs : undefined,
      startDelayUntil: delayMs > 0 ? now + delayMs : undefined,
      attempt: (req.attempt as number | undefined) ?? 1,
      parent: opts.parent ?? from?.m.parent,
      continuedFromRunId: from?.runId,
      wftSeq: 0,
      wftAttempt: 1,
      needWft: false,
      buffered: [],
      lastStartedId: 0,
      activities: {},
      timers: {},
      children: {},
      signalRequestIds: [],
      cancelRequested: false,
      historySizeBytes: 0,
    };
    const run = new Run(meta);
    this.deps.runs.add(run);
    const initiator = opts.continued?.initiator;
    this.deps.history.append(run, 'WorkflowExecutionStarted', startedEventAttrs(req, meta, delayMs, initiator));
    if (opts.signal) {
      this.deps.history.append(run, 'WorkflowExecutionSignaled', opts.signal);
      // A signal starts the workflow at once, whatever its start delay (as signal-with-start does in Temporal).
      meta.startDelayUntil = undefined;
      meta.executionTime = now;
    }
    if (meta.startDelayUntil !== undefined) this.armStartDelay(run);
    else this.deps.workflowTasks.schedule(run);
    this.armTimeout(run);
    this.ctx.touch(run);
    return { run, started: true };
  }

  /**
   * A start for a workflow id that has a run already: the answer when the start is a retry of that run's own start
   * or the conflict policy reuses it; undefined when a new run may start (the running one terminated if the policy
   * says so). Throws ALREADY_EXISTS when the policies forbid a new run.
   */
  private resolveIdConflict(existing: Run, req: Msg, requestId: string): { run: Run; started: boolean } | undefined {
    const workflowId = existing.m.workflowId;
    if (existing.m.startRequestId === requestId) return { run: existing, started: true };
    const reuse = req.workflowIdReusePolicy as string | undefined;
    if (existing.running) {
      const conflict = req.workflowIdConflictPolicy as string | undefined;
      if (conflict === 'WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING') return { run: existing, started: false };
      if (
        conflict === 'WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING' ||
        reuse === 'WORKFLOW_ID_REUSE_POLICY_TERMINATE_IF_RUNNING'
      ) {
        this.terminate(existing, 'terminated by a new start with the same workflow id', undefined, 'server');
      } else {
        throw alreadyExists(`workflow execution already started: workflowId ${workflowId}, runId ${existing.runId}`);
      }
    } else {
      if (reuse === 'WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE') {
        throw alreadyExists(`workflow execution already finished and the reuse policy rejects duplicates: ${workflowId}`);
      }
      if (reuse === 'WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY' && existing.m.status === 'COMPLETED') {
        throw alreadyExists(`workflow execution already completed successfully: ${workflowId}`);
      }
    }
    return undefined;
  }

  /** The first workflow task waits for the start delay (workflowStartDelay, or a continue-as-new backoff). */
  armStartDelay(run: Run): void {
    const at = run.m.startDelayUntil!;
    this.ctx.clock.set(this.timerKey(run, 'delay'), at, () => {
      run.m.startDelayUntil = undefined;
      this.deps.workflowTasks.schedule(run);
      this.ctx.touch(run);
      void this.ctx.commit();
    });
  }

  /** The run times out at the earlier of its run deadline and its execution deadline (shared by continued runs). */
  armTimeout(run: Run): void {
    const deadlines = [run.m.runDeadline, run.m.executionDeadline].filter((d): d is number => d !== undefined);
    if (deadlines.length === 0) return;
    this.ctx.clock.set(this.timerKey(run, 'wfTimeout'), Math.min(...deadlines), () => {
      if (!run.running) return;
      this.close(run, 'TIMED_OUT', 'WorkflowExecutionTimedOut', { retryState: 'RETRY_STATE_TIMEOUT' });
      void this.ctx.commit();
    });
  }

  signal(run: Run, signal: Msg, requestId?: string): void {
    if (!run.running) throw notFound('workflow execution already completed');
    // The client retries a signal with the same request id: it is delivered once.
    if (requestId) {
      if (run.m.signalRequestIds.includes(requestId)) return;
      run.m.signalRequestIds.push(requestId);
      if (run.m.signalRequestIds.length > 1000) run.m.signalRequestIds.shift();
    }
    this.endStartDelay(run);
    this.deps.workflowTasks.addExternalEvents(run, [{ type: 'WorkflowExecutionSignaled', attrs: signal }]);
  }

  requestCancel(run: Run, attrs: Msg): void {
    if (!run.running) throw notFound('workflow execution already completed');
    if (run.m.cancelRequested) return;
    run.m.cancelRequested = true;
    this.endStartDelay(run);
    this.deps.workflowTasks.addExternalEvents(run, [{ type: 'WorkflowExecutionCancelRequested', attrs }]);
  }

  /** A signal or cancel request wakes a delayed workflow at once. */
  private endStartDelay(run: Run): void {
    if (run.m.startDelayUntil !== undefined) {
      this.ctx.clock.cancel(this.timerKey(run, 'delay'));
      run.m.startDelayUntil = undefined;
    }
  }

  terminate(run: Run, reason: string | undefined, details: Msg | undefined, identity: string | undefined): void {
    if (!run.running) throw notFound('workflow execution already completed');
    this.close(run, 'TERMINATED', 'WorkflowExecutionTerminated', { reason, details, identity });
  }

  /** Writes the closing event and drops everything pending: the run's tasks, timers, activities and children. */
  close(run: Run, status: RunStatus, eventType: string, attrs: Msg): void {
    const m = run.m;
    if (!run.running) return;
    if (m.wft?.state === 'started') {
      // Events buffered during the interrupted task still belong to history, before the close event.
      this.deps.history.flushBuffered(run);
    }
    this.ctx.clock.cancelPrefix(`${run.runId}|`);
    m.wft = undefined;
    m.needWft = false;
    m.wftRetryAt = undefined;
    m.startDelayUntil = undefined;
    m.buffered = [];
    this.deps.history.append(run, eventType, attrs);
    m.status = status;
    m.closeTime = this.ctx.clock.now();
    m.activities = {};
    m.timers = {};
    const children = Object.values(m.children);
    m.children = {};
    this.ctx.touch(run);
    run.wakeHistoryWaiters();
    this.deps.onClosed(run, children);
    this.deps.queries.releaseWaiting(run);
  }
}

function startedEventAttrs(req: Msg, meta: RunMeta, delayMs: number, initiator: string | undefined): Msg {
  const parent = meta.parent;
  return {
    workflowType: req.workflowType,
    taskQueue: { name: meta.taskQueue, kind: 'TASK_QUEUE_KIND_NORMAL' },
    input: req.input,
    workflowExecutionTimeout: req.workflowExecutionTimeout,
    workflowRunTimeout: req.workflowRunTimeout,
    workflowTaskTimeout: msToDuration(meta.wftTimeoutMs),
    continuedExecutionRunId: meta.continuedFromRunId,
    initiator,
    continuedFailure: req.continuedFailure,
    lastCompletionResult: req.lastCompletionResult,
    originalExecutionRunId: meta.runId,
    identity: req.identity,
    firstExecutionRunId: meta.firstRunId,
    retryPolicy: req.retryPolicy,
    attempt: meta.attempt,
    workflowExecutionExpirationTime: meta.executionDeadline ? msToTimestamp(meta.executionDeadline) : undefined,
    cronSchedule: req.cronSchedule,
    firstWorkflowTaskBackoff: delayMs > 0 ? msToDuration(delayMs) : undefined,
    memo: req.memo,
    searchAttributes: req.searchAttributes,
    header: req.header,
    workflowId: meta.workflowId,
    parentWorkflowNamespace: parent?.namespace,
    parentWorkflowExecution: parent ? { workflowId: parent.workflowId, runId: parent.runId } : undefined,
    parentInitiatedEventId: parent?.initiatedId,
    rootWorkflowExecution: undefined,
    priority: req.priority,
  };
}
