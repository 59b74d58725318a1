/**
 * Activity tasks of the embedded server: scheduling with the completed retry policy and timeouts, hand-out to
 * pollers, heartbeats (details kept for the next attempt; cancellation delivered in the response), completion,
 * failure and retry with backoff, the four timeouts on the virtual clock, and recovery after a restart.
 */
import { randomUUID } from 'node:crypto';
import type { EngineContext } from './engine-context.js';
import { invalidArgument, notFound } from './errors.js';
import type { HistoryWriter } from './history-writer.js';
import { durationToMs, eventAttrField, msToDuration, msToTimestamp, type Msg } from './proto-util.js';
import type { ActivityState, BufferedEvent, RetryPolicyState, Run } from './run.js';
import type { RunRegistry } from './run-registry.js';
import { queueKey, type TaskQueues } from './task-queues.js';
import { decodeToken, encodeToken } from './tokens.js';

/** All that activity tasks use of the rest of the engine besides the shared {@link EngineContext}. */
export interface ActivityDeps {
  /** Resolves task tokens and ids to runs. */
  runs: Pick<RunRegistry, 'get' | 'find'>;
  /** Writes the events the workflow's own commands cause (scheduled, cancel requested). */
  history: Pick<HistoryWriter, 'append'>;
  /** Delivers an activity's outcome to the workflow (buffered while a workflow task runs). */
  addExternalEvents(run: Run, events: BufferedEvent[]): void;
  queues: Pick<TaskQueues, 'enqueue'>;
}

export class ActivityTasks {
  constructor(
    private readonly ctx: EngineContext,
    private readonly deps: ActivityDeps,
  ) {}

  /** After a restart: re-arm deadlines, re-queue scheduled attempts, retry the ones that were running. */
  recover(run: Run): void {
    for (const a of Object.values(run.m.activities)) {
      this.armTimers(run, a);
      if (a.state === 'started') {
        // Nobody holds this attempt any more: count it as a start-to-close timeout of the attempt.
        this.attemptTimedOut(run, a.scheduledId, a.attempt, 'TIMEOUT_TYPE_START_TO_CLOSE', true);
      } else if (a.state === 'scheduled') {
        this.enqueueAttempt(run, a);
      } else {
        this.armRetry(run, a);
      }
    }
  }

  schedule(run: Run, a: Msg, completedId: number): void {
    const s2c = durationToMs(a.scheduleToCloseTimeout);
    const st2c = durationToMs(a.startToCloseTimeout) || s2c;
    const s2s = durationToMs(a.scheduleToStartTimeout);
    const hb = durationToMs(a.heartbeatTimeout);
    const rp = a.retryPolicy ?? {};
    const initial = durationToMs(rp.initialInterval) || 1000;
    const retry: RetryPolicyState = {
      initialIntervalMs: initial,
      backoffCoefficient: rp.backoffCoefficient || 2,
      maximumIntervalMs: durationToMs(rp.maximumInterval) || 100 * initial,
      maximumAttempts: rp.maximumAttempts ?? 0,
      nonRetryableErrorTypes: rp.nonRetryableErrorTypes ?? [],
    };
    const taskQueue = a.taskQueue?.name || run.m.taskQueue;
    const scheduledId = this.deps.history.append(run, 'ActivityTaskScheduled', {
      activityId: a.activityId,
      activityType: a.activityType,
      taskQueue: { name: taskQueue, kind: 'TASK_QUEUE_KIND_NORMAL' },
      header: a.header,
      input: a.input,
      scheduleToCloseTimeout: msToDuration(s2c),
      scheduleToStartTimeout: msToDuration(s2s),
      startToCloseTimeout: msToDuration(st2c),
      heartbeatTimeout: msToDuration(hb),
      workflowTaskCompletedEventId: completedId,
      retryPolicy: {
        initialInterval: msToDuration(retry.initialIntervalMs),
        backoffCoefficient: retry.backoffCoefficient,
        maximumInterval: msToDuration(retry.maximumIntervalMs),
        maximumAttempts: retry.maximumAttempts,
        nonRetryableErrorTypes: retry.nonRetryableErrorTypes,
      },
      priority: a.priority,
    });
    const now = this.ctx.clock.now();
    const act: ActivityState = {
      scheduledId,
      activityId: a.activityId,
      activityType: a.activityType.name,
      taskQueue,
      attempt: 1,
      state: 'scheduled',
      scheduledTime: now,
      currentAttemptScheduledTime: now,
      cancelRequested: false,
      retry,
      scheduleToCloseMs: s2c,
      scheduleToStartMs: s2s,
      startToCloseMs: st2c,
      heartbeatMs: hb,
    };
    run.m.activities[scheduledId] = act;
    this.armTimers(run, act);
    this.enqueueAttempt(run, act);
  }

  /** Offers the activity's current attempt to the pollers of its task queue. */
  private enqueueAttempt(run: Run, act: ActivityState): void {
    this.deps.queues.enqueue(queueKey('act', run.m.namespace, act.taskQueue), {
      kind: 'act',
      run,
      scheduledId: act.scheduledId,
      attempt: act.attempt,
    });
  }

  private key(run: Run, sid: number, what: string): string {
    return `${run.runId}|act|${sid}|${what}`;
  }

  /** Schedule-to-close (whole activity) and schedule-to-start (this attempt) deadlines. */
  private armTimers(run: Run, act: ActivityState): void {
    const sid = act.scheduledId;
    if (act.scheduleToCloseMs > 0) {
      this.ctx.clock.set(this.key(run, sid, 's2c'), act.scheduledTime + act.scheduleToCloseMs, () => {
        this.scheduleToCloseTimedOut(run, sid);
        void this.ctx.commit();
      });
    }
    if (act.scheduleToStartMs > 0 && act.state === 'scheduled') {
      const attempt = act.attempt;
      this.ctx.clock.set(this.key(run, sid, 's2s'), act.currentAttemptScheduledTime + act.scheduleToStartMs, () => {
        this.attemptTimedOut(run, sid, attempt, 'TIMEOUT_TYPE_SCHEDULE_TO_START', false);
        void this.ctx.commit();
      });
    }
  }

  private armAttemptTimers(run: Run, act: ActivityState): void {
    const sid = act.scheduledId;
    const attempt = act.attempt;
    this.ctx.clock.cancel(this.key(run, sid, 's2s'));
    if (act.startToCloseMs > 0) {
      this.ctx.clock.set(this.key(run, sid, 'st2c'), act.startedTime! + act.startToCloseMs, () => {
        this.attemptTimedOut(run, sid, attempt, 'TIMEOUT_TYPE_START_TO_CLOSE', true);
        void this.ctx.commit();
      });
    }
    this.armHeartbeatTimer(run, act);
  }

  private armHeartbeatTimer(run: Run, act: ActivityState): void {
    if (act.heartbeatMs <= 0 || act.state !== 'started') return;
    const sid = act.scheduledId;
    const attempt = act.attempt;
    // A new attempt gets a full heartbeat period even if the previous one heartbeated recently.
    const base = Math.max(act.lastHeartbeatTime ?? 0, act.startedTime!);
    this.ctx.clock.set(this.key(run, sid, 'hb'), base + act.heartbeatMs, () => {
      this.attemptTimedOut(run, sid, attempt, 'TIMEOUT_TYPE_HEARTBEAT', true);
      void this.ctx.commit();
    });
  }

  private armRetry(run: Run, act: ActivityState): void {
    const sid = act.scheduledId;
    this.ctx.clock.set(this.key(run, sid, 'retry'), act.retryAt!, () => {
      const cur = run.m.activities[sid];
      if (!run.running || cur !== act || act.state !== 'backoff') return;
      act.state = 'scheduled';
      act.retryAt = undefined;
      act.currentAttemptScheduledTime = this.ctx.clock.now();
      this.armTimers(run, act);
      this.ctx.touch(run);
      this.enqueueAttempt(run, act);
      void this.ctx.commit();
    });
  }

  deliver(run: Run, sid: number, attempt: number, identity: string): Msg | undefined {
    const act = run.m.activities[sid];
    if (!run.running || !act || act.attempt !== attempt || act.state !== 'scheduled') return undefined;
    const now = this.ctx.clock.now();
    act.state = 'started';
    act.startedTime = now;
    act.identity = identity;
    act.requestId = randomUUID();
    this.armAttemptTimers(run, act);
    this.ctx.touch(run);
    const sched = run.history.get(sid - 1)![eventAttrField('ActivityTaskScheduled')] as Msg;
    return {
      taskToken: encodeToken({ k: 'a', r: run.runId, s: sid, a: attempt }),
      workflowNamespace: run.m.namespace,
      workflowType: { name: run.m.workflowType },
      workflowExecution: { workflowId: run.m.workflowId, runId: run.runId },
      activityType: sched.activityType,
      activityId: act.activityId,
      header: sched.header,
      input: sched.input,
      heartbeatDetails: act.heartbeatDetails,
      scheduledTime: msToTimestamp(act.scheduledTime),
      currentAttemptScheduledTime: msToTimestamp(act.currentAttemptScheduledTime),
      startedTime: msToTimestamp(now),
      attempt,
      scheduleToCloseTimeout: msToDuration(act.scheduleToCloseMs),
      startToCloseTimeout: msToDuration(act.startToCloseMs),
      heartbeatTimeout: msToDuration(act.heartbeatMs),
      retryPolicy: sched.retryPolicy,
      priority: sched.priority,
    };
  }

  /** Resolves an activity task token (or workflow/activity id) to the started attempt it names. */
  started(token: Buffer | undefined, byId?: { ns: string; workflowId: string; runId?: string; activityId: string }) {
    let run: Run | undefined;
    let act: ActivityState | undefined;
    if (byId) {
      run = this.deps.runs.find(byId.ns, { workflowId: byId.workflowId, runId: byId.runId });
      act = Object.values(run.m.activities).find((a) => a.activityId === byId.activityId);
    } else {
      const t = decodeToken(token);
      if (t.k !== 'a') throw invalidArgument('not an activity task token');
      run = this.deps.runs.get(t.r);
      act = run?.m.activities[t.s];
      if (act && act.attempt !== t.a) act = undefined;
    }
    if (!run || !run.running || !act || act.state !== 'started') throw notFound('activity task not found');
    return { run, act };
  }

  /**
   * The RequestCancelActivityTask command. A started attempt learns of it from its next heartbeat response and reports
   * the cancellation itself; an activity not running at the moment is canceled at once.
   */
  requestCancel(run: Run, sid: number, completedId: number, identity: string | undefined): void {
    const reqId = this.deps.history.append(run, 'ActivityTaskCancelRequested', {
      scheduledEventId: sid,
      workflowTaskCompletedEventId: completedId,
    });
    const act = run.m.activities[sid];
    if (!act) return;
    if (act.state === 'started') {
      act.cancelRequested = true;
      act.cancelRequestedId = reqId;
    } else {
      this.remove(run, act);
      this.deps.history.append(run, 'ActivityTaskCanceled', {
        scheduledEventId: sid,
        startedEventId: 0,
        latestCancelRequestedEventId: reqId,
        identity,
      });
      run.m.needWft = true;
    }
  }

  private remove(run: Run, act: ActivityState): void {
    this.ctx.clock.cancelPrefix(`${run.runId}|act|${act.scheduledId}|`);
    delete run.m.activities[act.scheduledId];
  }

  /** Lazy ActivityTaskStarted immediately followed by the terminal event (rule 7). */
  private outcome(run: Run, act: ActivityState, type: string, attrs: Msg, withStarted = true): void {
    this.remove(run, act);
    const events: BufferedEvent[] = [];
    if (withStarted) {
      events.push({
        type: 'ActivityTaskStarted',
        attrs: {
          scheduledEventId: act.scheduledId,
          identity: act.identity,
          requestId: act.requestId,
          attempt: act.attempt,
          lastFailure: act.lastFailure,
        },
      });
    }
    events.push({
      type,
      attrs: { ...attrs, scheduledEventId: act.scheduledId, startedEventId: 0 },
      linkStarted: withStarted,
    });
    this.deps.addExternalEvents(run, events);
  }

  complete(run: Run, act: ActivityState, result: Msg | undefined, identity?: string): void {
    this.outcome(run, act, 'ActivityTaskCompleted', { result, identity });
  }

  cancel(run: Run, act: ActivityState, details: Msg | undefined, identity?: string): void {
    this.outcome(run, act, 'ActivityTaskCanceled', {
      details,
      latestCancelRequestedEventId: act.cancelRequestedId ?? 0,
      identity,
    });
  }

  fail(run: Run, act: ActivityState, failure: Msg, identity?: string, lastHeartbeatDetails?: Msg): void {
    if (lastHeartbeatDetails) act.heartbeatDetails = lastHeartbeatDetails;
    const info = failure?.applicationFailureInfo;
    const nonRetryable =
      Boolean(info?.nonRetryable) || (info?.type && act.retry.nonRetryableErrorTypes.includes(info.type as string));
    const nextDelay = info?.nextRetryDelay ? durationToMs(info.nextRetryDelay) : undefined;
    this.retryOrClose(run, act, failure, nonRetryable ? 'RETRY_STATE_NON_RETRYABLE_FAILURE' : undefined, nextDelay, (retryState) =>
      this.outcome(run, act, 'ActivityTaskFailed', { failure, identity, retryState }),
    );
  }

  private retryOrClose(
    run: Run,
    act: ActivityState,
    failure: Msg,
    forcedState: string | undefined,
    nextDelayMs: number | undefined,
    close: (retryState: string) => void,
  ): void {
    const r = act.retry;
    let retryState = forcedState;
    const delay =
      nextDelayMs ??
      Math.min(r.initialIntervalMs * Math.pow(r.backoffCoefficient, act.attempt - 1), r.maximumIntervalMs);
    if (!retryState && r.maximumAttempts > 0 && act.attempt >= r.maximumAttempts) {
      retryState = 'RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED';
    }
    if (!retryState && act.scheduleToCloseMs > 0 && this.ctx.clock.now() + delay >= act.scheduledTime + act.scheduleToCloseMs) {
      retryState = 'RETRY_STATE_TIMEOUT';
    }
    if (retryState) {
      close(retryState);
      return;
    }
    this.ctx.clock.cancel(this.key(run, act.scheduledId, 'st2c'));
    this.ctx.clock.cancel(this.key(run, act.scheduledId, 'hb'));
    this.ctx.clock.cancel(this.key(run, act.scheduledId, 's2s'));
    act.state = 'backoff';
    act.attempt += 1;
    act.lastFailure = failure;
    act.lastAttemptCompleteTime = this.ctx.clock.now();
    act.retryAt = this.ctx.clock.now() + delay;
    act.startedTime = undefined;
    this.armRetry(run, act);
    this.ctx.touch(run);
  }

  private timeoutFailure(type: string, act: ActivityState): Msg {
    const name = { TIMEOUT_TYPE_START_TO_CLOSE: 'StartToClose', TIMEOUT_TYPE_HEARTBEAT: 'Heartbeat', TIMEOUT_TYPE_SCHEDULE_TO_START: 'ScheduleToStart', TIMEOUT_TYPE_SCHEDULE_TO_CLOSE: 'ScheduleToClose' }[type];
    return {
      message: `activity ${name} timeout`,
      source: 'Server',
      timeoutFailureInfo: { timeoutType: type, lastHeartbeatDetails: act.heartbeatDetails },
      // The last application failure explains the timeout; earlier timeouts do not nest.
      cause: act.lastFailure?.timeoutFailureInfo ? act.lastFailure.cause : act.lastFailure,
    };
  }

  private attemptTimedOut(run: Run, sid: number, attempt: number, type: string, wasStarted: boolean): void {
    const act = run.m.activities[sid];
    if (!run.running || !act || act.attempt !== attempt) return;
    if (wasStarted ? act.state !== 'started' : act.state !== 'scheduled') return;
    const failure = this.timeoutFailure(type, act);
    this.ctx.log.info('activity attempt timed out', { workflowId: run.m.workflowId, activityId: act.activityId, type, attempt });
    // Schedule-to-start is not retried (the task never reached a worker), as in Temporal.
    const forced = type === 'TIMEOUT_TYPE_SCHEDULE_TO_START' ? 'RETRY_STATE_TIMEOUT' : undefined;
    this.retryOrClose(run, act, failure, forced, undefined, (retryState) =>
      this.outcome(run, act, 'ActivityTaskTimedOut', { failure, retryState }, wasStarted),
    );
  }

  private scheduleToCloseTimedOut(run: Run, sid: number): void {
    const act = run.m.activities[sid];
    if (!run.running || !act) return;
    const failure = this.timeoutFailure('TIMEOUT_TYPE_SCHEDULE_TO_CLOSE', act);
    this.outcome(
      run,
      act,
      'ActivityTaskTimedOut',
      { failure, retryState: 'RETRY_STATE_TIMEOUT' },
      act.state !== 'scheduled' || act.attempt > 1,
    );
  }

  heartbeat(run: Run, act: ActivityState, details: Msg | undefined): { cancelRequested: boolean } {
    if (details) act.heartbeatDetails = details;
    act.lastHeartbeatTime = this.ctx.clock.now();
    this.armHeartbeatTimer(run, act);
    this.ctx.touch(run);
    return { cancelRequested: act.cancelRequested };
  }
}
