/**
 * Workflow tasks, following Temporal's rules (`temporal-devserver.md` §8): one outstanding task per run; events that
 * arrive while a task is started are buffered and written after its completion; attempts after the first are
 * transient, written to history only once one resolves, so a workflow stuck on a bug does not grow its history.
 *
 * A task goes to the sticky queue of the worker that has the run cached when that worker is alive (with only the new
 * events), else to the normal queue (with full history). Completing a task hands its commands to {@link Commands}.
 */
import { randomUUID } from 'node:crypto';
import { isCloseCommand, type Commands } from './commands.js';
import type { EngineContext } from './engine-context.js';
import { invalidArgument, notFound } from './errors.js';
import type { HistoryWriter } from './history-writer.js';
import { EncodedEvents, encodeEvent } from './history.js';
import { durationToMs, msToDuration, msToTimestamp, type Msg } from './proto-util.js';
import type { Queries } from './queries.js';
import type { BufferedEvent, Run, WftState } from './run.js';
import type { RunRegistry } from './run-registry.js';
import { queueKey, workflowQueueKey, type TaskQueues } from './task-queues.js';
import { decodeToken, encodeToken } from './tokens.js';

/** A sticky queue not polled for this long counts as gone: its worker's tasks go to the normal queue at once. */
const STICKY_POLLER_WINDOW_MS = 10_000;

export interface WorkflowTaskDeps {
  history: HistoryWriter;
  queues: Pick<TaskQueues, 'enqueue' | 'polledWithin' | 'retire'>;
  /** Resolves task tokens to runs. */
  runs: Pick<RunRegistry, 'get'>;
  /** Queries wait for the outstanding task; they are released when it resolves. */
  queries: Pick<Queries, 'releaseWaiting'>;
  commands: Pick<Commands, 'validate' | 'apply'>;
}

export class WorkflowTasks {
  /** Sticky queues whose worker shut down: never dispatch there again. */
  private readonly deadStickyQueues = new Set<string>();

  constructor(
    private readonly ctx: EngineContext,
    private readonly deps: WorkflowTaskDeps,
  ) {}

  private timerKey(run: Run, what: 'wft' | 'wftRetry' | 'stickyS2S'): string {
    return `${run.runId}|${what}`;
  }

  private stickyQueueKey(run: Run, queue: string): string {
    return queueKey('wf', run.m.namespace, `sticky:${queue}`);
  }

  /**
   * Adds events that come from outside the workflow (signal, activity result, timer, child result). While a
   * workflow task is started they are buffered until that task completes; otherwise they go into history and a
   * workflow task is scheduled.
   */
  addExternalEvents(run: Run, events: BufferedEvent[]): void {
    if (!run.running) return;
    if (run.m.wft?.state === 'started') {
      run.m.buffered.push(...events);
      run.m.needWft = true;
    } else {
      this.deps.history.appendAll(run, events);
      this.schedule(run);
    }
    this.ctx.touch(run);
  }

  /** Schedules a task, or notes that one is needed once the outstanding task, start delay or retry backoff is over. */
  schedule(run: Run): void {
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
      scheduledTime: this.ctx.clock.now(),
    };
    if (!transient) {
      m.wft.scheduledId = this.deps.history.append(run, 'WorkflowTaskScheduled', this.scheduledAttrs(run, attempt));
    }
    this.ctx.touch(run);
    // As the real server: a sticky queue nobody polled lately ("sticky worker unavailable") is skipped at once, with no
    // timeout recorded; one that was polled gets the task and the schedule-to-start wait below.
    const sticky =
      m.sticky &&
      !this.deadStickyQueues.has(m.sticky.queue) &&
      this.deps.queues.polledWithin(this.stickyQueueKey(run, m.sticky.queue), STICKY_POLLER_WINDOW_MS)
        ? m.sticky
        : undefined;
    if (sticky) {
      this.deps.queues.enqueue(this.stickyQueueKey(run, sticky.queue), { kind: 'wft', run, seq, sticky: true });
      this.armStickyScheduleToStart(run, seq, sticky.scheduleToStartMs);
    } else {
      m.sticky = undefined;
      this.deps.queues.enqueue(workflowQueueKey(run), { kind: 'wft', run, seq });
    }
  }

  /**
   * If the sticky worker does not pick the task up in time, any worker may take it with full history. As the real
   * server does, the timeout is recorded (WorkflowTaskTimedOut, SCHEDULE_TO_START) and a new task — not a retry: the
   * attempt does not grow — is scheduled on the normal queue.
   */
  private armStickyScheduleToStart(run: Run, seq: number, scheduleToStartMs: number): void {
    this.ctx.clock.set(this.timerKey(run, 'stickyS2S'), this.ctx.clock.now() + scheduleToStartMs, () => {
      const w = run.m.wft;
      if (!run.running || !w || w.seq !== seq || w.state !== 'scheduled') return;
      run.m.sticky = undefined;
      if (w.transient) {
        this.ctx.touch(run);
        this.deps.queues.enqueue(workflowQueueKey(run), { kind: 'wft', run, seq });
        return;
      }
      this.deps.history.append(run, 'WorkflowTaskTimedOut', {
        scheduledEventId: w.scheduledId,
        startedEventId: 0,
        timeoutType: 'TIMEOUT_TYPE_SCHEDULE_TO_START',
      });
      run.m.wft = undefined;
      this.schedule(run);
      this.ctx.touch(run);
    });
  }

  /** A worker shut down: its sticky queue is gone, so runs cached there get their tasks on the normal queue. */
  stickyQueueGone(ns: string, queue: string): void {
    this.deadStickyQueues.add(queue);
    this.deps.queues.retire(queueKey('wf', ns, `sticky:${queue}`), (t) => {
      if (t.kind !== 'wft') return;
      t.run.m.sticky = undefined;
      this.ctx.touch(t.run);
      this.deps.queues.enqueue(workflowQueueKey(t.run), { kind: 'wft', run: t.run, seq: t.seq });
    });
  }

  /** After a restart: the outstanding task, or the pending retry, of a run recovered from storage. */
  recover(run: Run): void {
    const m = run.m;
    // A workflow task handed out before the crash is lost with its worker: time it out now.
    if (m.wft?.state === 'started') {
      this.timedOut(run, m.wft.seq);
    } else if (m.wft?.state === 'scheduled') {
      m.sticky = undefined; // the worker's cache may be gone with the crash: full history on the normal queue
      this.deps.queues.enqueue(workflowQueueKey(run), { kind: 'wft', run, seq: m.wft.seq });
    } else if (m.wftRetryAt !== undefined) {
      this.armRetry(run);
    }
  }

  private scheduledAttrs(run: Run, attempt: number): Msg {
    return {
      taskQueue: { name: run.m.taskQueue, kind: 'TASK_QUEUE_KIND_NORMAL' },
      startToCloseTimeout: msToDuration(run.m.wftTimeoutMs),
      attempt,
    };
  }

  private startedAttrs(run: Run): Msg {
    const w = run.m.wft!;
    return {
      scheduledEventId: w.scheduledId,
      identity: w.identity,
      requestId: w.requestId,
      historySizeBytes: run.m.historySizeBytes,
    };
  }

  /** Hands a scheduled workflow task to a poller: writes WorkflowTaskStarted and builds the poll response. */
  deliver(run: Run, seq: number, identity: string, sticky: boolean): Msg | undefined {
    const w = run.m.wft;
    if (!run.running || !w || w.seq !== seq || w.state !== 'scheduled') return undefined;
    this.ctx.clock.cancel(this.timerKey(run, 'stickyS2S'));
    const now = this.ctx.clock.now();
    w.state = 'started';
    w.startedTime = now;
    w.identity = identity;
    w.requestId = randomUUID();
    let events: Uint8Array[];
    if (w.transient) {
      w.scheduledId = run.history.length + 1;
      w.startedId = run.history.length + 2;
      const scheduledAttrs = this.scheduledAttrs(run, w.attempt);
      const scheduled = { ...this.deps.history.nextEvent(run, 'WorkflowTaskScheduled', scheduledAttrs) };
      scheduled.eventTime = msToTimestamp(w.scheduledTime);
      const started = this.deps.history.nextEvent(run, 'WorkflowTaskStarted', this.startedAttrs(run));
      started.eventId = w.startedId;
      started.taskId = w.startedId;
      events = [...run.history.encodedSlice(), encodeEvent(scheduled), encodeEvent(started)];
    } else {
      w.startedId = this.deps.history.append(run, 'WorkflowTaskStarted', this.startedAttrs(run));
      // A sticky worker has the run cached: it gets only what happened since its last task, as from a Temporal
      // server (events after previousStartedEventId). On a cache miss sdk-core fetches the full history itself.
      events = run.history.encodedSlice(sticky && run.m.lastStartedId > 0 ? run.m.lastStartedId : 0);
    }
    this.ctx.clock.set(this.timerKey(run, 'wft'), now + run.m.wftTimeoutMs, () => {
      this.timedOut(run, seq);
      void this.ctx.commit();
    });
    this.ctx.touch(run);
    return {
      taskToken: encodeToken({ k: 'w', r: run.runId, q: seq }),
      workflowExecution: { workflowId: run.m.workflowId, runId: run.runId },
      workflowType: { name: run.m.workflowType },
      previousStartedEventId: run.m.lastStartedId,
      startedEventId: w.startedId,
      attempt: w.attempt,
      backlogCountHint: 0,
      history: new EncodedEvents(events),
      workflowExecutionTaskQueue: { name: run.m.taskQueue, kind: 'TASK_QUEUE_KIND_NORMAL' },
      scheduledTime: msToTimestamp(w.scheduledTime),
      startedTime: msToTimestamp(now),
      queries: {},
      messages: [],
    };
  }

  /** The run whose started task a token names; a stale token (task timed out, run closed) is not found. */
  private startedTask(token: Buffer): { run: Run; wft: WftState } {
    const t = decodeToken(token);
    if (t.k !== 'w') throw invalidArgument('not a workflow task token');
    const run = this.deps.runs.get(t.r);
    const w = run?.m.wft;
    if (!run || !run.running || !w || w.seq !== t.q || w.state !== 'started') {
      throw notFound('workflow task not found');
    }
    return { run, wft: w };
  }

  /** Writes the transient task's scheduled/started events, which reach history only once the task resolves. */
  private materializeTransient(run: Run): void {
    const w = run.m.wft!;
    if (!w.transient) return;
    const sid = this.deps.history.append(run, 'WorkflowTaskScheduled', this.scheduledAttrs(run, w.attempt));
    run.history.setEventTime(sid - 1, msToTimestamp(w.scheduledTime));
    w.scheduledId = sid;
    w.startedId = this.deps.history.append(run, 'WorkflowTaskStarted', this.startedAttrs(run));
    run.history.setEventTime(w.startedId - 1, msToTimestamp(w.startedTime ?? this.ctx.clock.now()));
    w.transient = false;
  }

  complete(req: Msg): void {
    const { run, wft: w } = this.startedTask(req.taskToken);
    const m = run.m;
    const commands = (req.commands ?? []) as Msg[];
    this.ctx.clock.cancel(this.timerKey(run, 'wft'));
    try {
      this.deps.commands.validate(run, commands);
    } catch (err) {
      // Recorded like a Temporal server does, then reported to the worker; the task is retried.
      const message = err instanceof Error ? err.message : String(err);
      if (!w.transient) {
        this.deps.history.append(run, 'WorkflowTaskFailed', {
          scheduledEventId: w.scheduledId,
          startedEventId: w.startedId,
          cause: message.startsWith('BadScheduleActivity')
            ? 'WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_ACTIVITY_ATTRIBUTES'
            : 'WORKFLOW_TASK_FAILED_CAUSE_BAD_SEARCH_ATTRIBUTES',
          failure: { message, source: 'Server' },
          identity: req.identity,
        });
      }
      this.retry(run);
      throw err;
    }
    if (m.buffered.length > 0 && commands.some(isCloseCommand)) {
      this.failForUnseenEvents(run, req.identity);
      return;
    }

    this.materializeTransient(run);
    const completedId = this.deps.history.append(run, 'WorkflowTaskCompleted', {
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
    const context = { completedId, identity: req.identity as string | undefined, deferred };
    for (const cmd of commands) {
      if (!run.running) break;
      this.deps.commands.apply(run, cmd, context);
    }
    // The events that arrived during the task follow its command events; effects on other runs come after both.
    if (run.running) {
      const flushed = this.deps.history.flushBuffered(run);
      if (flushed > 0) m.needWft = true;
    }
    for (const d of deferred) d();
    if (run.running && m.needWft) this.schedule(run);
    this.ctx.touch(run);
    this.deps.queries.releaseWaiting(run);
  }

  /** New events arrived while the workflow decided to close: the task fails so that the workflow sees them first. */
  private failForUnseenEvents(run: Run, identity: string | undefined): void {
    const m = run.m;
    const w = m.wft!;
    this.materializeTransient(run);
    this.deps.history.append(run, 'WorkflowTaskFailed', {
      scheduledEventId: w.scheduledId,
      startedEventId: w.startedId,
      cause: 'WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND',
      identity,
    });
    m.wft = undefined;
    m.wftAttempt = 1;
    m.sticky = undefined;
    this.deps.history.flushBuffered(run);
    this.schedule(run);
    this.deps.queries.releaseWaiting(run);
  }

  fail(req: Msg): void {
    const { run, wft: w } = this.startedTask(req.taskToken);
    this.ctx.clock.cancel(this.timerKey(run, 'wft'));
    this.ctx.log.warn('workflow task failed', {
      workflowId: run.m.workflowId,
      attempt: w.attempt,
      cause: req.cause,
      failure: req.failure?.message,
    });
    if (!w.transient) {
      this.deps.history.append(run, 'WorkflowTaskFailed', {
        scheduledEventId: w.scheduledId,
        startedEventId: w.startedId,
        cause: req.cause,
        failure: req.failure,
        identity: req.identity,
        binaryChecksum: req.binaryChecksum,
      });
    }
    this.retry(run);
  }

  private timedOut(run: Run, seq: number): void {
    const w = run.m.wft;
    if (!run.running || !w || w.seq !== seq || w.state !== 'started') return;
    this.ctx.clock.cancel(this.timerKey(run, 'wft'));
    this.ctx.log.warn('workflow task timed out', { workflowId: run.m.workflowId, attempt: w.attempt });
    if (!w.transient) {
      this.deps.history.append(run, 'WorkflowTaskTimedOut', {
        scheduledEventId: w.scheduledId,
        startedEventId: w.startedId,
        timeoutType: 'TIMEOUT_TYPE_START_TO_CLOSE',
      });
    }
    this.retry(run);
  }

  /** The next attempt runs after a backoff (1 s per attempt, at most 10 s), on the normal queue. */
  private retry(run: Run): void {
    const m = run.m;
    const attempt = m.wft!.attempt;
    m.wft = undefined;
    m.sticky = undefined;
    this.deps.history.flushBuffered(run);
    m.wftAttempt = attempt + 1;
    m.needWft = true;
    m.wftRetryAt = this.ctx.clock.now() + Math.min(1000 * attempt, 10_000);
    this.armRetry(run);
    this.ctx.touch(run);
    this.deps.queries.releaseWaiting(run);
  }

  private armRetry(run: Run): void {
    this.ctx.clock.set(this.timerKey(run, 'wftRetry'), run.m.wftRetryAt!, () => {
      run.m.wftRetryAt = undefined;
      this.schedule(run);
      this.ctx.touch(run);
      void this.ctx.commit();
    });
  }
}
