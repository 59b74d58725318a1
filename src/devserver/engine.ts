/**
 * The embedded Temporal engine: runs, histories, task queues, activities, timers, child workflows, queries and
 * visibility, driven by the RPC handlers in `handlers.ts`. All state changes are synchronous; every change marks the
 * run dirty in the store, and handlers await `store.commit()` before answering.
 *
 * History rules follow `temporal-devserver.md` §8: one outstanding workflow task per run; events arriving while a
 * task is started are buffered and flushed after its completion; ActivityTaskStarted is written lazily together with
 * the activity's terminal event; workflow-task attempts after the first are transient.
 */
import { randomUUID } from 'node:crypto';
import { ActivityTasks } from './activity-tasks.js';
import { VirtualClock } from './clock.js';
import { History } from './history.js';
import { RpcError, alreadyExists, invalidArgument, notFound } from './errors.js';
import type { EngineContext, PollSignal } from './engine-context.js';
import { HistoryWriter } from './history-writer.js';
import { Namespaces } from './namespaces.js';
import {
  durationToMs,
  eventAttrField,
  msToDuration,
  msToTimestamp,
  type Msg,
} from './proto-util.js';
import { Queries } from './queries.js';
import {
  Run,
  type BufferedEvent,
  type RunMeta,
  type RunStatus,
} from './run.js';
import { RunRegistry } from './run-registry.js';
import type { GlobalState, LoadedState, Store } from './store.js';
import { TaskQueues, queueKey, workflowQueueKey, type TaskRef } from './task-queues.js';
import { decodeToken, encodeToken } from './tokens.js';
import { decodeSearchAttributes } from './visibility.js';
import { WorkflowTimers } from './workflow-timers.js';
import { status as GrpcStatus } from '@grpc/grpc-js';

import type { Logger } from '../log.js';

export type { Logger };

export interface EngineOptions {
  /** Skip to the next timer whenever nothing is running, regardless of the test-service lock. */
  autoSkip: boolean;
  /** Allow the test service (TestWorkflowEnvironment) to enable time skipping while it awaits results. */
  testService: boolean;
  store: Store;
  log: Logger;
  defaultRetentionMs: number;
  /** How long a task poll parks before answering empty (sdk-core's own deadline is 70 s). */
  pollTimeoutMs: number;
  /** How long a `result()` history long-poll waits before answering empty. */
  historyLongPollMs: number;
}

const DEFAULT_WFT_TIMEOUT_MS = 10_000;
const CLOSE_COMMANDS = new Set([
  'COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION',
  'COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION',
  'COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION',
  'COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION',
]);

/** A sticky queue not polled for this long counts as gone: its worker's tasks go to the normal queue at once. */
const STICKY_POLLER_WINDOW_MS = 10_000;

export class Engine implements EngineContext {
  readonly clock: VirtualClock;
  readonly activities: ActivityTasks;
  readonly runs = new RunRegistry();
  readonly namespaces: Namespaces;
  readonly queues: TaskQueues;
  readonly queries: Queries;
  private readonly history: HistoryWriter;
  private readonly timers: WorkflowTimers;
  private busyRuns = new Set<Run>();
  private closed = false;
  /** Sticky queues whose worker shut down: never dispatch there again. */
  private deadStickyQueues = new Set<string>();
  private retentionTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: EngineOptions) {
    this.clock = new VirtualClock({
      autoSkip: opts.autoSkip,
      timeSkipping: opts.testService,
      isIdle: () => this.isIdle(),
      onSkip: () => {
        this.opts.store.markGlobal();
        void this.commit();
      },
      onError: (err) => this.opts.log.error('timer callback failed', { err: String((err as Error)?.stack ?? err) }),
    });
    opts.store.attach({ runs: () => this.runs.values(), global: () => this.globalState() });
    this.namespaces = new Namespaces(opts.defaultRetentionMs, () => opts.store.markGlobal());
    this.queues = new TaskQueues({
      materialize: (task, identity) => this.materialize(task, identity),
      commit: () => this.commit(),
      clock: this.clock,
      pollTimeoutMs: opts.pollTimeoutMs,
    });
    this.queries = new Queries(this.queues);
    this.history = new HistoryWriter(this.clock);
    const addExternalEvents = (run: Run, events: BufferedEvent[]) => this.addExternalEvents(run, events);
    this.activities = new ActivityTasks(this, {
      runs: this.runs,
      history: this.history,
      addExternalEvents,
      queues: this.queues,
    });
    this.timers = new WorkflowTimers(this, { history: this.history, addExternalEvents });
    this.namespaces.ensure('default');
  }

  get store(): Store {
    return this.opts.store;
  }

  get log(): Logger {
    return this.opts.log;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Lifecycle, persistence

  /** Rebuilds in-memory state from a recovered store: re-arms timers, re-queues tasks, retries in-flight work. */
  restore(state: LoadedState): void {
    if (state.global) {
      this.clock.offset = state.global.clockOffset;
      this.runs.lastSeq = state.global.runSeq;
      this.namespaces.restore(state.global);
    }
    const loaded = state.runs.map(({ meta, history }) => {
      const run = new Run(meta);
      run.history = History.from(history);
      run.persistedEvents = history.length;
      return run;
    });
    loaded.sort((a, b) => a.m.seq - b.m.seq);
    for (const run of loaded) this.runs.add(run);
    for (const run of loaded) {
      if (!run.running) continue;
      this.recoverRun(run);
    }
    this.opts.log.info('recovered state', {
      runs: loaded.length,
      running: loaded.filter((r) => r.running).length,
    });
  }

  private recoverRun(run: Run): void {
    const m = run.m;
    // A workflow task handed out before the crash is lost with its worker: time it out now.
    if (m.wft?.state === 'started') {
      this.wftTimedOut(run, m.wft.seq);
    } else if (m.wft?.state === 'scheduled') {
      m.sticky = undefined; // the worker's cache may be gone with the crash: full history on the normal queue
      this.queues.enqueue(workflowQueueKey(run), { kind: 'wft', run, seq: m.wft.seq });
    } else if (m.wftRetryAt !== undefined) {
      this.armWftRetry(run);
    } else if (m.startDelayUntil !== undefined) {
      this.armStartDelay(run);
    } else if (m.needWft) {
      this.scheduleWft(run);
    }
    this.timers.recover(run);
    this.activities.recover(run);
    this.armWorkflowTimeout(run);
    this.touch(run);
  }

  private globalState(): GlobalState {
    return {
      clockOffset: this.clock.offset,
      runSeq: this.runs.lastSeq,
      ...this.namespaces.snapshot(),
    };
  }

  startRetentionSweeper(intervalMs = 60_000): void {
    this.sweepRetention();
    this.retentionTimer = setInterval(() => this.sweepRetention(), intervalMs);
    this.retentionTimer.unref();
  }

  /** Deletes closed runs older than their namespace's retention period, as a Temporal server does. */
  sweepRetention(): number {
    const now = this.now();
    let removed = 0;
    for (const run of [...this.runs.values()]) {
      if (run.running || run.m.closeTime === undefined) continue;
      const retention = this.namespaces.retentionOf(run.m.namespace);
      if (run.m.closeTime + retention > now) continue;
      this.deleteRun(run);
      removed++;
    }
    if (removed > 0) void this.commit();
    return removed;
  }

  private deleteRun(run: Run): void {
    this.runs.remove(run);
    this.busyRuns.delete(run);
    this.clock.cancelPrefix(`${run.runId}|`);
    this.opts.store.markDeleted(run.runId);
  }

  async shutdown(): Promise<void> {
    this.closed = true;
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    this.queues.close();
    for (const run of this.runs.values()) run.wakeHistoryWaiters();
    this.queries.close();
    this.clock.close();
    await this.opts.store.close();
  }

  now(): number {
    return this.clock.now();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  commit(): Promise<void> {
    return this.opts.store.commit().catch((err: unknown) => {
      this.opts.log.error('persisting state failed', { err: String(err) });
      throw new RpcError(GrpcStatus.UNAVAILABLE, 'persisting state failed');
    });
  }

  /** Marks a run changed: persistence and the idle tracking used by time skipping. */
  /** @internal */
  touch(run: Run): void {
    this.opts.store.markRun(run);
    if (run.busy) this.busyRuns.add(run);
    else this.busyRuns.delete(run);
    this.clock.requestSkipCheck();
  }

  private isIdle(): boolean {
    return this.busyRuns.size === 0 && this.queries.size === 0;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // History

  /**
   * Adds an event that comes from outside the workflow (signal, activity result, timer, child result). While a
   * workflow task is started it is buffered until that task completes; otherwise it goes into history and a workflow
   * task is scheduled.
   */
  addExternalEvents(run: Run, events: BufferedEvent[]): void {
    if (!run.running) return;
    if (run.m.wft?.state === 'started') {
      run.m.buffered.push(...events);
      run.m.needWft = true;
    } else {
      this.history.appendAll(run, events);
      this.scheduleWft(run);
    }
    this.touch(run);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Starting workflows

  startWorkflow(
    req: Msg,
    opts: {
      signal?: Msg;
      parent?: RunMeta['parent'];
      continued?: { from: Run; initiator: string; runId: string };
    } = {},
  ): { run: Run; started: boolean } {
    const ns = this.namespaces.require(req.namespace);
    const workflowId = req.workflowId as string | undefined;
    if (!workflowId) throw invalidArgument('workflowId is required');
    if (!req.workflowType?.name) throw invalidArgument('workflowType is required');
    if (!req.taskQueue?.name) throw invalidArgument('taskQueue is required');
    const requestId = (req.requestId as string | undefined) || randomUUID();
    const sa = decodeSearchAttributes(req.searchAttributes?.indexedFields, this.namespaces.writableAttributes(ns));

    const existing = this.runs.current(ns, workflowId);
    if (existing && !opts.continued) {
      if (existing.m.startRequestId === requestId) return { run: existing, started: true };
      if (existing.running) {
        const conflict = req.workflowIdConflictPolicy as string | undefined;
        const reuse = req.workflowIdReusePolicy as string | undefined;
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
        const reuse = req.workflowIdReusePolicy as string | undefined;
        if (reuse === 'WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE') {
          throw alreadyExists(`workflow execution already finished and the reuse policy rejects duplicates: ${workflowId}`);
        }
        if (reuse === 'WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY' && existing.m.status === 'COMPLETED') {
          throw alreadyExists(`workflow execution already completed successfully: ${workflowId}`);
        }
      }
    }

    const now = this.now();
    const runId = opts.continued?.runId ?? randomUUID();
    const executionTimeoutMs = durationToMs(req.workflowExecutionTimeout);
    const runTimeoutMs = durationToMs(req.workflowRunTimeout);
    const wftTimeoutMs = durationToMs(req.workflowTaskTimeout) || DEFAULT_WFT_TIMEOUT_MS;
    const delayMs = durationToMs(req.workflowStartDelay) || durationToMs(req.backoffStartInterval);
    const from = opts.continued?.from;
    const meta: RunMeta = {
      seq: this.runs.nextSeq(),
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
    this.runs.add(run);
    const parent = meta.parent;
    this.history.append(run, 'WorkflowExecutionStarted', {
      workflowType: req.workflowType,
      taskQueue: { name: meta.taskQueue, kind: 'TASK_QUEUE_KIND_NORMAL' },
      input: req.input,
      workflowExecutionTimeout: req.workflowExecutionTimeout,
      workflowRunTimeout: req.workflowRunTimeout,
      workflowTaskTimeout: msToDuration(wftTimeoutMs),
      continuedExecutionRunId: from?.runId,
      initiator: opts.continued?.initiator,
      continuedFailure: req.continuedFailure,
      lastCompletionResult: req.lastCompletionResult,
      originalExecutionRunId: runId,
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
      workflowId,
      parentWorkflowNamespace: parent?.namespace,
      parentWorkflowExecution: parent ? { workflowId: parent.workflowId, runId: parent.runId } : undefined,
      parentInitiatedEventId: parent?.initiatedId,
      rootWorkflowExecution: undefined,
      priority: req.priority,
    });
    if (opts.signal) {
      this.history.append(run, 'WorkflowExecutionSignaled', opts.signal);
      // A signal starts the workflow at once, whatever its start delay (as signal-with-start does in Temporal).
      meta.startDelayUntil = undefined;
      meta.executionTime = now;
    }
    if (meta.startDelayUntil !== undefined) this.armStartDelay(run);
    else this.scheduleWft(run);
    this.armWorkflowTimeout(run);
    this.touch(run);
    return { run, started: true };
  }

  private armStartDelay(run: Run): void {
    const at = run.m.startDelayUntil!;
    this.clock.set(`${run.runId}|delay`, at, () => {
      run.m.startDelayUntil = undefined;
      this.scheduleWft(run);
      this.touch(run);
      void this.commit();
    });
  }

  private armWorkflowTimeout(run: Run): void {
    const deadlines = [run.m.runDeadline, run.m.executionDeadline].filter((d): d is number => d !== undefined);
    if (deadlines.length === 0) return;
    this.clock.set(`${run.runId}|wfTimeout`, Math.min(...deadlines), () => {
      if (!run.running) return;
      this.closeRun(run, 'TIMED_OUT', 'WorkflowExecutionTimedOut', { retryState: 'RETRY_STATE_TIMEOUT' });
      void this.commit();
    });
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Signals, cancellation, termination

  signal(run: Run, signal: Msg, requestId?: string): void {
    if (!run.running) throw notFound('workflow execution already completed');
    if (requestId) {
      if (run.m.signalRequestIds.includes(requestId)) return;
      run.m.signalRequestIds.push(requestId);
      if (run.m.signalRequestIds.length > 1000) run.m.signalRequestIds.shift();
    }
    if (run.m.startDelayUntil !== undefined) {
      this.clock.cancel(`${run.runId}|delay`);
      run.m.startDelayUntil = undefined;
    }
    this.addExternalEvents(run, [{ type: 'WorkflowExecutionSignaled', attrs: signal }]);
  }

  requestCancel(run: Run, attrs: Msg): void {
    if (!run.running) throw notFound('workflow execution already completed');
    if (run.m.cancelRequested) return;
    run.m.cancelRequested = true;
    if (run.m.startDelayUntil !== undefined) {
      this.clock.cancel(`${run.runId}|delay`);
      run.m.startDelayUntil = undefined;
    }
    this.addExternalEvents(run, [{ type: 'WorkflowExecutionCancelRequested', attrs }]);
  }

  terminate(run: Run, reason: string | undefined, details: Msg | undefined, identity: string | undefined): void {
    if (!run.running) throw notFound('workflow execution already completed');
    this.closeRun(run, 'TERMINATED', 'WorkflowExecutionTerminated', { reason, details, identity });
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Workflow tasks

  private scheduleWft(run: Run): void {
    const m = run.m;
    if (!run.running) return;
    if (m.wft) {
      if (m.wft.state === 'started') m.needWft = true;
      return;
    }
    if (m.startDelayUntil !== undefined || m.wftRetryAt !== undefined) {
      m.needWft = true;
      return;
    }
    m.needWft = false;
    const attempt = m.wftAttempt;
    const transient = attempt > 1;
    const seq = ++m.wftSeq;
    m.wft = {
      seq,
      state: 'scheduled',
      attempt,
      transient,
      scheduledId: 0,
      startedId: 0,
      scheduledTime: this.now(),
    };
    if (!transient) {
      m.wft.scheduledId = this.history.append(run, 'WorkflowTaskScheduled', this.wftScheduledAttrs(run, attempt));
    }
    this.touch(run);
    // As the real server: a sticky queue nobody polled lately ("sticky worker unavailable") is skipped at once, with no
    // timeout recorded; one that was polled gets the task and the schedule-to-start wait below.
    const sticky =
      m.sticky && !this.deadStickyQueues.has(m.sticky.queue) && this.queues.polledWithin(this.stickyQueueKey(run, m.sticky.queue), STICKY_POLLER_WINDOW_MS)
        ? m.sticky
        : undefined;
    if (sticky) {
      this.queues.enqueue(this.stickyQueueKey(run, sticky.queue), { kind: 'wft', run, seq, sticky: true });
      // If the sticky worker does not pick it up in time, any worker may take it with full history. As the real
      // server does, the timeout is recorded (WorkflowTaskTimedOut, SCHEDULE_TO_START) and a new task — not a
      // retry: the attempt does not grow — is scheduled on the normal queue.
      this.clock.set(`${run.runId}|stickyS2S`, this.now() + sticky.scheduleToStartMs, () => {
        const w = run.m.wft;
        if (!run.running || !w || w.seq !== seq || w.state !== 'scheduled') return;
        run.m.sticky = undefined;
        if (w.transient) {
          this.touch(run);
          this.queues.enqueue(workflowQueueKey(run), { kind: 'wft', run, seq });
          return;
        }
        this.history.append(run, 'WorkflowTaskTimedOut', { scheduledEventId: w.scheduledId, startedEventId: 0, timeoutType: 'TIMEOUT_TYPE_SCHEDULE_TO_START' });
        run.m.wft = undefined;
        this.scheduleWft(run);
        this.touch(run);
      });
    } else {
      m.sticky = undefined;
      this.queues.enqueue(workflowQueueKey(run), { kind: 'wft', run, seq });
    }
  }

  private stickyQueueKey(run: Run, queue: string): string {
    return queueKey('wf', run.m.namespace, `sticky:${queue}`);
  }

  /** A worker shut down: its sticky queue is gone, so runs cached there get their tasks on the normal queue. */
  stickyQueueGone(ns: string, queue: string): void {
    this.deadStickyQueues.add(queue);
    this.queues.retire(queueKey('wf', ns, `sticky:${queue}`), (t) => {
      if (t.kind !== 'wft') return;
      t.run.m.sticky = undefined;
      this.touch(t.run);
      this.queues.enqueue(workflowQueueKey(t.run), { kind: 'wft', run: t.run, seq: t.seq });
    });
  }

  private wftScheduledAttrs(run: Run, attempt: number): Msg {
    return {
      taskQueue: { name: run.m.taskQueue, kind: 'TASK_QUEUE_KIND_NORMAL' },
      startToCloseTimeout: msToDuration(run.m.wftTimeoutMs),
      attempt,
    };
  }

  private wftStartedAttrs(run: Run): Msg {
    const w = run.m.wft!;
    return {
      scheduledEventId: w.scheduledId,
      identity: w.identity,
      requestId: w.requestId,
      historySizeBytes: run.m.historySizeBytes,
    };
  }

  /** Hands a scheduled workflow task to a poller: writes WorkflowTaskStarted and builds the poll response. */
  private deliverWft(run: Run, seq: number, identity: string, sticky: boolean): Msg | undefined {
    const w = run.m.wft;
    if (!run.running || !w || w.seq !== seq || w.state !== 'scheduled') return undefined;
    this.clock.cancel(`${run.runId}|stickyS2S`);
    const now = this.now();
    w.state = 'started';
    w.startedTime = now;
    w.identity = identity;
    w.requestId = randomUUID();
    let events: Msg[];
    if (w.transient) {
      w.scheduledId = run.history.length + 1;
      w.startedId = run.history.length + 2;
      const scheduled = { ...this.history.nextEvent(run, 'WorkflowTaskScheduled', this.wftScheduledAttrs(run, w.attempt)) };
      scheduled.eventTime = msToTimestamp(w.scheduledTime);
      const started = this.history.nextEvent(run, 'WorkflowTaskStarted', this.wftStartedAttrs(run));
      started.eventId = w.startedId;
      started.taskId = w.startedId;
      events = [...run.history.slice(), scheduled, started];
    } else {
      w.startedId = this.history.append(run, 'WorkflowTaskStarted', this.wftStartedAttrs(run));
      // A sticky worker has the run cached: it gets only what happened since its last task, as from a Temporal
      // server (events after previousStartedEventId). On a cache miss sdk-core fetches the full history itself.
      events = run.history.slice(sticky && run.m.lastStartedId > 0 ? run.m.lastStartedId : 0);
    }
    this.clock.set(`${run.runId}|wft`, now + run.m.wftTimeoutMs, () => {
      this.wftTimedOut(run, seq);
      void this.commit();
    });
    this.touch(run);
    return {
      taskToken: encodeToken({ k: 'w', r: run.runId, q: seq }),
      workflowExecution: { workflowId: run.m.workflowId, runId: run.runId },
      workflowType: { name: run.m.workflowType },
      previousStartedEventId: run.m.lastStartedId,
      startedEventId: w.startedId,
      attempt: w.attempt,
      backlogCountHint: 0,
      history: { events },
      workflowExecutionTaskQueue: { name: run.m.taskQueue, kind: 'TASK_QUEUE_KIND_NORMAL' },
      scheduledTime: msToTimestamp(w.scheduledTime),
      startedTime: msToTimestamp(now),
      queries: {},
      messages: [],
    };
  }

  private startedWft(token: Buffer): { run: Run; seq: number } {
    const t = decodeToken(token);
    if (t.k !== 'w') throw invalidArgument('not a workflow task token');
    const run = this.runs.get(t.r);
    const w = run?.m.wft;
    if (!run || !run.running || !w || w.seq !== t.q || w.state !== 'started') {
      throw notFound('workflow task not found');
    }
    return { run, seq: t.q };
  }

  /** Writes the transient task's scheduled/started events, which reach history only once the task resolves. */
  private materializeTransient(run: Run): void {
    const w = run.m.wft!;
    if (!w.transient) return;
    const sid = this.history.append(run, 'WorkflowTaskScheduled', this.wftScheduledAttrs(run, w.attempt));
    run.history.setEventTime(sid - 1, msToTimestamp(w.scheduledTime));
    w.scheduledId = sid;
    w.startedId = this.history.append(run, 'WorkflowTaskStarted', this.wftStartedAttrs(run));
    run.history.setEventTime(w.startedId - 1, msToTimestamp(w.startedTime ?? this.now()));
    w.transient = false;
  }

  completeWorkflowTask(req: Msg): void {
    const { run } = this.startedWft(req.taskToken);
    const m = run.m;
    const w = m.wft!;
    const commands = (req.commands ?? []) as Msg[];
    this.clock.cancel(`${run.runId}|wft`);
    try {
      this.validateCommands(run, commands);
    } catch (err) {
      // Recorded like a Temporal server does, then reported to the worker; the task is retried.
      const message = err instanceof Error ? err.message : String(err);
      if (!w.transient) {
        this.history.append(run, 'WorkflowTaskFailed', {
          scheduledEventId: w.scheduledId,
          startedEventId: w.startedId,
          cause: message.startsWith('BadScheduleActivity')
            ? 'WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_ACTIVITY_ATTRIBUTES'
            : 'WORKFLOW_TASK_FAILED_CAUSE_BAD_SEARCH_ATTRIBUTES',
          failure: { message, source: 'Server' },
          identity: req.identity,
        });
      }
      this.retryWorkflowTask(run);
      throw err;
    }

    if (m.buffered.length > 0 && commands.some((c) => CLOSE_COMMANDS.has(c.commandType))) {
      // New events arrived while the workflow decided to close: it must see them first.
      this.materializeTransient(run);
      this.history.append(run, 'WorkflowTaskFailed', {
        scheduledEventId: w.scheduledId,
        startedEventId: w.startedId,
        cause: 'WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND',
        identity: req.identity,
      });
      m.wft = undefined;
      m.wftAttempt = 1;
      m.sticky = undefined;
      this.history.flushBuffered(run);
      this.scheduleWft(run);
      this.queries.releaseWaiting(run);
      return;
    }

    this.materializeTransient(run);
    const completedId = this.history.append(run, 'WorkflowTaskCompleted', {
      scheduledEventId: w.scheduledId,
      startedEventId: w.startedId,
      identity: req.identity,
      binaryChecksum: req.binaryChecksum,
      workerVersion: req.workerVersionStamp,
      sdkMetadata: req.sdkMetadata,
      meteringMetadata: req.meteringMetadata,
    });
    m.lastStartedId = w.startedId;
    m.wft = undefined;
    m.wftAttempt = 1;
    m.needWft = m.needWft || Boolean(req.forceCreateNewWorkflowTask);
    const stickyQueue = req.stickyAttributes?.workerTaskQueue?.name as string | undefined;
    m.sticky = stickyQueue
      ? { queue: stickyQueue, scheduleToStartMs: durationToMs(req.stickyAttributes.scheduleToStartTimeout) || 5000 }
      : undefined;
    const deferred: (() => void)[] = [];
    for (const cmd of commands) {
      if (!run.running) break;
      this.applyCommand(run, cmd, completedId, deferred, req.identity as string | undefined);
    }
    if (run.running) {
      const flushed = this.history.flushBuffered(run);
      if (flushed > 0) m.needWft = true;
    }
    for (const d of deferred) d();
    if (run.running && m.needWft) this.scheduleWft(run);
    this.touch(run);
    this.queries.releaseWaiting(run);
  }

  /** Rejects commands the server cannot apply before any of them is applied, as a Temporal server does. */
  private validateCommands(run: Run, commands: Msg[]): void {
    for (const c of commands) {
      if (c.commandType === 'COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK') {
        const a = c.scheduleActivityTaskCommandAttributes ?? {};
        if (!a.activityId || !a.activityType?.name) {
          throw invalidArgument('BadScheduleActivityAttributes: activityId and activityType are required');
        }
        if (!durationToMs(a.startToCloseTimeout) && !durationToMs(a.scheduleToCloseTimeout)) {
          throw invalidArgument(
            'BadScheduleActivityAttributes: a valid StartToClose or ScheduleToCloseTimeout is not set on the command',
          );
        }
      } else if (c.commandType === 'COMMAND_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES') {
        decodeSearchAttributes(
          c.upsertWorkflowSearchAttributesCommandAttributes?.searchAttributes?.indexedFields,
          this.namespaces.writableAttributes(run.m.namespace),
        );
      }
    }
  }

  failWorkflowTask(req: Msg): void {
    const { run } = this.startedWft(req.taskToken);
    const m = run.m;
    const w = m.wft!;
    this.clock.cancel(`${run.runId}|wft`);
    this.log.warn('workflow task failed', {
      workflowId: m.workflowId,
      attempt: w.attempt,
      cause: req.cause,
      failure: req.failure?.message,
    });
    if (!w.transient) {
      this.history.append(run, 'WorkflowTaskFailed', {
        scheduledEventId: w.scheduledId,
        startedEventId: w.startedId,
        cause: req.cause,
        failure: req.failure,
        identity: req.identity,
        binaryChecksum: req.binaryChecksum,
      });
    }
    this.retryWorkflowTask(run);
  }

  private wftTimedOut(run: Run, seq: number): void {
    const m = run.m;
    const w = m.wft;
    if (!run.running || !w || w.seq !== seq || w.state !== 'started') return;
    this.clock.cancel(`${run.runId}|wft`);
    this.log.warn('workflow task timed out', { workflowId: m.workflowId, attempt: w.attempt });
    if (!w.transient) {
      this.history.append(run, 'WorkflowTaskTimedOut', {
        scheduledEventId: w.scheduledId,
        startedEventId: w.startedId,
        timeoutType: 'TIMEOUT_TYPE_START_TO_CLOSE',
      });
    }
    this.retryWorkflowTask(run);
  }

  private retryWorkflowTask(run: Run): void {
    const m = run.m;
    const attempt = m.wft!.attempt;
    m.wft = undefined;
    m.sticky = undefined;
    this.history.flushBuffered(run);
    m.wftAttempt = attempt + 1;
    m.needWft = true;
    m.wftRetryAt = this.now() + Math.min(1000 * attempt, 10_000);
    this.armWftRetry(run);
    this.touch(run);
    this.queries.releaseWaiting(run);
  }

  private armWftRetry(run: Run): void {
    this.clock.set(`${run.runId}|wftRetry`, run.m.wftRetryAt!, () => {
      run.m.wftRetryAt = undefined;
      this.scheduleWft(run);
      this.touch(run);
      void this.commit();
    });
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Commands

  private applyCommand(run: Run, cmd: Msg, completedId: number, deferred: (() => void)[], identity?: string): void {
    const m = run.m;
    const type = cmd.commandType as string;
    switch (type) {
      case 'COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK':
        this.activities.schedule(run, cmd.scheduleActivityTaskCommandAttributes, completedId);
        return;
      case 'COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK':
        this.activities.requestCancel(
          run,
          Number(cmd.requestCancelActivityTaskCommandAttributes?.scheduledEventId),
          completedId,
          identity,
        );
        return;
      case 'COMMAND_TYPE_START_TIMER':
        this.timers.start(run, cmd.startTimerCommandAttributes ?? {}, completedId);
        return;
      case 'COMMAND_TYPE_CANCEL_TIMER':
        this.timers.cancel(run, cmd.cancelTimerCommandAttributes?.timerId as string, completedId, identity);
        return;
      case 'COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION':
        this.closeRun(run, 'COMPLETED', 'WorkflowExecutionCompleted', {
          result: cmd.completeWorkflowExecutionCommandAttributes?.result,
          workflowTaskCompletedEventId: completedId,
        });
        return;
      case 'COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION':
        this.closeRun(run, 'FAILED', 'WorkflowExecutionFailed', {
          failure: cmd.failWorkflowExecutionCommandAttributes?.failure,
          retryState: 'RETRY_STATE_RETRY_POLICY_NOT_SET',
          workflowTaskCompletedEventId: completedId,
        });
        return;
      case 'COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION':
        this.closeRun(run, 'CANCELED', 'WorkflowExecutionCanceled', {
          details: cmd.cancelWorkflowExecutionCommandAttributes?.details,
          workflowTaskCompletedEventId: completedId,
        });
        return;
      case 'COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION':
        this.continueAsNew(run, cmd.continueAsNewWorkflowExecutionCommandAttributes ?? {}, completedId);
        return;
      case 'COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION': {
        const a = cmd.startChildWorkflowExecutionCommandAttributes ?? {};
        const ns = a.namespace || m.namespace;
        const initiatedId = this.history.append(run, 'StartChildWorkflowExecutionInitiated', {
          ...a,
          namespace: ns,
          workflowTaskCompletedEventId: completedId,
        });
        m.children[initiatedId] = {
          initiatedId,
          namespace: ns,
          workflowId: a.workflowId,
          workflowType: a.workflowType?.name,
          parentClosePolicy: a.parentClosePolicy ?? 'PARENT_CLOSE_POLICY_TERMINATE',
        };
        deferred.push(() => this.startChild(run, initiatedId, a, ns));
        return;
      }
      case 'COMMAND_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION': {
        const a = cmd.signalExternalWorkflowExecutionCommandAttributes ?? {};
        const ns = a.namespace || m.namespace;
        const initiatedId = this.history.append(run, 'SignalExternalWorkflowExecutionInitiated', {
          namespace: ns,
          workflowExecution: a.execution,
          signalName: a.signalName,
          input: a.input,
          control: a.control,
          childWorkflowOnly: a.childWorkflowOnly,
          header: a.header,
          workflowTaskCompletedEventId: completedId,
        });
        deferred.push(() => this.signalExternal(run, initiatedId, a, ns));
        return;
      }
      case 'COMMAND_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION': {
        const a = cmd.requestCancelExternalWorkflowExecutionCommandAttributes ?? {};
        const ns = a.namespace || m.namespace;
        const execution = { workflowId: a.workflowId, runId: a.runId };
        const initiatedId = this.history.append(run, 'RequestCancelExternalWorkflowExecutionInitiated', {
          namespace: ns,
          workflowExecution: execution,
          control: a.control,
          childWorkflowOnly: a.childWorkflowOnly,
          reason: a.reason,
          workflowTaskCompletedEventId: completedId,
        });
        deferred.push(() => this.cancelExternal(run, initiatedId, execution, ns, a.control));
        return;
      }
      case 'COMMAND_TYPE_RECORD_MARKER': {
        const a = cmd.recordMarkerCommandAttributes ?? {};
        this.history.append(run, 'MarkerRecorded', {
          markerName: a.markerName,
          details: a.details,
          header: a.header,
          failure: a.failure,
          workflowTaskCompletedEventId: completedId,
        });
        return;
      }
      case 'COMMAND_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES': {
        const sa = cmd.upsertWorkflowSearchAttributesCommandAttributes?.searchAttributes;
        const values = decodeSearchAttributes(sa?.indexedFields, this.namespaces.writableAttributes(m.namespace));
        for (const [k, v] of Object.entries(values)) {
          if (v === null) delete m.searchAttributes[k];
          else m.searchAttributes[k] = v;
        }
        this.history.append(run, 'UpsertWorkflowSearchAttributes', {
          searchAttributes: sa,
          workflowTaskCompletedEventId: completedId,
        });
        return;
      }
      case 'COMMAND_TYPE_MODIFY_WORKFLOW_PROPERTIES': {
        const memo = cmd.modifyWorkflowPropertiesCommandAttributes?.upsertedMemo;
        for (const [k, v] of Object.entries((memo?.fields ?? {}) as Record<string, Msg>)) {
          const empty = !v?.data || Buffer.from(v.data).toString() === 'null';
          if (empty) delete m.memo[k];
          else m.memo[k] = v;
        }
        this.history.append(run, 'WorkflowPropertiesModified', {
          upsertedMemo: memo,
          workflowTaskCompletedEventId: completedId,
        });
        return;
      }
      default:
        this.log.error('unsupported command ignored', { commandType: type, workflowId: m.workflowId });
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Closing runs, continue-as-new, children

  private closeRun(run: Run, status: RunStatus, eventType: string, attrs: Msg): void {
    const m = run.m;
    if (!run.running) return;
    if (m.wft?.state === 'started') {
      // Events buffered during the interrupted task still belong to history, before the close event.
      this.history.flushBuffered(run);
    }
    this.clock.cancelPrefix(`${run.runId}|`);
    m.wft = undefined;
    m.needWft = false;
    m.wftRetryAt = undefined;
    m.startDelayUntil = undefined;
    m.buffered = [];
    this.history.append(run, eventType, attrs);
    m.status = status;
    m.closeTime = this.now();
    m.activities = {};
    m.timers = {};
    const children = Object.values(m.children);
    m.children = {};
    this.touch(run);
    run.wakeHistoryWaiters();

    // Parent-close policy for children still running.
    for (const c of children) {
      if (!c.runId || c.parentClosePolicy === 'PARENT_CLOSE_POLICY_ABANDON') continue;
      const child = this.runs.current(c.namespace, c.workflowId);
      if (!child?.running || child.m.parent?.runId !== run.runId) continue;
      if (c.parentClosePolicy === 'PARENT_CLOSE_POLICY_REQUEST_CANCEL') {
        this.requestCancel(child, { cause: 'by parent close policy', identity: 'server' });
      } else {
        this.terminate(child, 'by parent close policy', undefined, 'server');
      }
    }
    if (status !== 'CONTINUED_AS_NEW') this.notifyParent(run);
    // Queries on closed runs are still answered by a worker replaying the full history.
    this.queries.releaseWaiting(run);
  }

  private notifyParent(run: Run): void {
    const p = run.m.parent;
    if (!p) return;
    const parent = this.runs.get(p.runId);
    if (!parent?.running) return;
    const child = parent.m.children[p.initiatedId];
    if (!child) return;
    delete parent.m.children[p.initiatedId];
    const common = {
      namespace: run.m.namespace,
      workflowExecution: { workflowId: run.m.workflowId, runId: run.runId },
      workflowType: { name: run.m.workflowType },
      initiatedEventId: p.initiatedId,
      startedEventId: child.startedId,
    };
    const close = run.history.last()!;
    const ca = (name: string) => close[eventAttrField(name)] as Msg;
    let ev: BufferedEvent;
    switch (run.m.status) {
      case 'COMPLETED':
        ev = { type: 'ChildWorkflowExecutionCompleted', attrs: { ...common, result: ca('WorkflowExecutionCompleted').result } };
        break;
      case 'FAILED':
        ev = {
          type: 'ChildWorkflowExecutionFailed',
          attrs: { ...common, failure: ca('WorkflowExecutionFailed').failure, retryState: 'RETRY_STATE_RETRY_POLICY_NOT_SET' },
        };
        break;
      case 'CANCELED':
        ev = { type: 'ChildWorkflowExecutionCanceled', attrs: { ...common, details: ca('WorkflowExecutionCanceled').details } };
        break;
      case 'TIMED_OUT':
        ev = { type: 'ChildWorkflowExecutionTimedOut', attrs: { ...common, retryState: 'RETRY_STATE_TIMEOUT' } };
        break;
      default:
        ev = { type: 'ChildWorkflowExecutionTerminated', attrs: common };
    }
    this.addExternalEvents(parent, [ev]);
  }

  private continueAsNew(run: Run, a: Msg, completedId: number): void {
    const m = run.m;
    const newRunId = randomUUID();
    const taskQueue = a.taskQueue?.name ? a.taskQueue : { name: m.taskQueue, kind: 'TASK_QUEUE_KIND_NORMAL' };
    const memo = a.memo ?? { fields: m.memo };
    const searchAttributes = a.searchAttributes ?? this.namespaces.encodeSearchAttributes(m.namespace, m.searchAttributes);
    this.closeRun(run, 'CONTINUED_AS_NEW', 'WorkflowExecutionContinuedAsNew', {
      newExecutionRunId: newRunId,
      workflowType: a.workflowType,
      taskQueue,
      input: a.input,
      workflowRunTimeout: a.workflowRunTimeout,
      workflowTaskTimeout: a.workflowTaskTimeout,
      workflowTaskCompletedEventId: completedId,
      backoffStartInterval: a.backoffStartInterval,
      initiator: a.initiator ?? 'CONTINUE_AS_NEW_INITIATOR_WORKFLOW',
      failure: a.failure,
      lastCompletionResult: a.lastCompletionResult,
      header: a.header,
      memo,
      searchAttributes,
    });
    this.startWorkflow(
      {
        namespace: m.namespace,
        workflowId: m.workflowId,
        workflowType: a.workflowType ?? { name: m.workflowType },
        taskQueue,
        input: a.input,
        workflowRunTimeout: a.workflowRunTimeout,
        workflowTaskTimeout: a.workflowTaskTimeout ?? msToDuration(m.wftTimeoutMs),
        backoffStartInterval: a.backoffStartInterval,
        header: a.header,
        memo,
        searchAttributes,
        retryPolicy: a.retryPolicy,
        requestId: randomUUID(),
        identity: 'continue-as-new',
      },
      { continued: { from: run, initiator: a.initiator ?? 'CONTINUE_AS_NEW_INITIATOR_WORKFLOW', runId: newRunId } },
    );
    m.newRunId = newRunId;
    if (m.parent) {
      const parent = this.runs.get(m.parent.runId);
      const child = parent?.m.children[m.parent.initiatedId];
      if (child) {
        child.runId = newRunId;
        this.touch(parent!);
      }
    }
  }

  private startChild(parent: Run, initiatedId: number, a: Msg, ns: string): void {
    if (!parent.running) return;
    const child = parent.m.children[initiatedId];
    if (!child) return;
    let started: Run;
    try {
      if (!this.namespaces.has(ns)) throw notFound(`namespace ${ns} is not found`);
      const existing = this.runs.current(ns, a.workflowId);
      if (existing?.running) throw alreadyExists('child workflow already running');
      ({ run: started } = this.startWorkflow(
        {
          namespace: ns,
          workflowId: a.workflowId,
          workflowType: a.workflowType,
          taskQueue: a.taskQueue?.name ? a.taskQueue : { name: parent.m.taskQueue },
          input: a.input,
          workflowExecutionTimeout: a.workflowExecutionTimeout,
          workflowRunTimeout: a.workflowRunTimeout,
          workflowTaskTimeout: a.workflowTaskTimeout,
          workflowIdReusePolicy: a.workflowIdReusePolicy,
          retryPolicy: a.retryPolicy,
          cronSchedule: a.cronSchedule,
          header: a.header,
          memo: a.memo,
          searchAttributes: a.searchAttributes,
          requestId: randomUUID(),
          identity: parent.m.workflowId,
        },
        { parent: { namespace: parent.m.namespace, workflowId: parent.m.workflowId, runId: parent.runId, initiatedId } },
      ));
    } catch (err) {
      delete parent.m.children[initiatedId];
      const cause =
        err instanceof RpcError && err.code === GrpcStatus.ALREADY_EXISTS
          ? 'START_CHILD_WORKFLOW_EXECUTION_FAILED_CAUSE_WORKFLOW_ALREADY_EXISTS'
          : err instanceof RpcError && err.code === GrpcStatus.NOT_FOUND
            ? 'START_CHILD_WORKFLOW_EXECUTION_FAILED_CAUSE_NAMESPACE_NOT_FOUND'
            : 'START_CHILD_WORKFLOW_EXECUTION_FAILED_CAUSE_UNSPECIFIED';
      if (!(err instanceof RpcError)) this.log.error('starting child failed', { err: String(err) });
      this.addExternalEvents(parent, [
        {
          type: 'StartChildWorkflowExecutionFailed',
          attrs: {
            namespace: ns,
            workflowId: a.workflowId,
            workflowType: a.workflowType,
            cause,
            control: a.control,
            initiatedEventId: initiatedId,
          },
        },
      ]);
      return;
    }
    child.runId = started.runId;
    this.addExternalEvents(parent, [
      {
        type: 'ChildWorkflowExecutionStarted',
        attrs: {
          namespace: ns,
          initiatedEventId: initiatedId,
          workflowExecution: { workflowId: a.workflowId, runId: started.runId },
          workflowType: a.workflowType,
          header: a.header,
        },
      },
    ]);
  }

  private signalExternal(run: Run, initiatedId: number, a: Msg, ns: string): void {
    const exec = a.execution ?? {};
    let target: Run | undefined;
    try {
      target = this.runs.find(ns, exec);
    } catch {
      target = undefined;
    }
    if (target?.running && (!a.childWorkflowOnly || target.m.parent?.runId === run.runId)) {
      this.signal(target, {
        signalName: a.signalName,
        input: a.input,
        identity: run.m.workflowId,
        header: a.header,
        externalWorkflowExecution: { workflowId: run.m.workflowId, runId: run.runId },
      });
      this.addExternalEvents(run, [
        {
          type: 'ExternalWorkflowExecutionSignaled',
          attrs: { initiatedEventId: initiatedId, namespace: ns, workflowExecution: exec, control: a.control },
        },
      ]);
    } else {
      this.addExternalEvents(run, [
        {
          type: 'SignalExternalWorkflowExecutionFailed',
          attrs: {
            cause: 'SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE_EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND',
            workflowTaskCompletedEventId: 0,
            namespace: ns,
            workflowExecution: exec,
            initiatedEventId: initiatedId,
            control: a.control,
          },
        },
      ]);
    }
  }

  private cancelExternal(run: Run, initiatedId: number, exec: Msg, ns: string, control: unknown): void {
    let target: Run | undefined;
    try {
      target = this.runs.find(ns, exec);
    } catch {
      target = undefined;
    }
    if (target?.running) {
      this.requestCancel(target, {
        cause: 'requested by workflow',
        externalInitiatedEventId: initiatedId,
        externalWorkflowExecution: { workflowId: run.m.workflowId, runId: run.runId },
        identity: run.m.workflowId,
      });
      this.addExternalEvents(run, [
        {
          type: 'ExternalWorkflowExecutionCancelRequested',
          attrs: { initiatedEventId: initiatedId, namespace: ns, workflowExecution: exec },
        },
      ]);
    } else {
      this.addExternalEvents(run, [
        {
          type: 'RequestCancelExternalWorkflowExecutionFailed',
          attrs: {
            cause: 'CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE_EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND',
            workflowTaskCompletedEventId: 0,
            namespace: ns,
            workflowExecution: exec,
            initiatedEventId: initiatedId,
            control,
          },
        },
      ]);
    }
  }

  private materialize(task: TaskRef, identity: string): Msg | undefined {
    switch (task.kind) {
      case 'wft':
        return this.deliverWft(task.run, task.seq, identity, task.sticky === true);
      case 'act':
        return this.activities.deliver(task.run, task.scheduledId, task.attempt, identity);
      case 'query':
        return this.queries.deliver(task.queryId);
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // History reads

  waitForHistory(run: Run, fromLength: number, maxWaitMs: number, signal: PollSignal): Promise<void> {
    if (run.history.length > fromLength || !run.running || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        run.historyWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, maxWaitMs);
      run.historyWaiters.add(done);
      signal.onCancel(done);
    });
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Test service

  testSleep(ms: number, unlock: boolean): Promise<void> {
    return new Promise((resolve) => {
      const key = `test|sleep|${randomUUID()}`;
      if (unlock) this.clock.unlock();
      this.clock.set(key, this.now() + ms, () => {
        if (unlock) this.clock.lock();
        resolve();
      });
    });
  }

  deleteWorkflow(run: Run): void {
    if (run.running) this.terminate(run, 'deleted', undefined, 'server');
    this.deleteRun(run);
  }
}

