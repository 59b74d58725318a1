/**
 * The embedded Temporal engine, driven by the RPC handlers in `handlers.ts`. All state changes are synchronous; every
 * change marks the run dirty in the store, and handlers await `store.commit()` before answering.
 *
 * This class composes the parts and owns what spans them all: recovery after a restart, persistence, retention,
 * the idle tracking that time skipping waits on, and shutdown. The parts:
 *
 * - workflow-tasks.ts: the workflow-task lifecycle, and the buffering of events that arrive while a task runs;
 * - commands.ts: a completed task's commands, one handler per type, each delegating to the owner of the state;
 * - executions.ts: start, signal, cancel request, termination, close;
 * - cross-workflow.ts: child workflows, external signals and cancels, continue-as-new;
 * - workflow-timers.ts, activity-tasks.ts, queries.ts, task-queues.ts;
 * - run-registry.ts, namespaces.ts, history-writer.ts.
 *
 * Each part gets the shared {@link EngineContext} (this engine) and declares, as its `…Deps`, the few members of the
 * others it uses. The three dependencies that point back (a task's commands act on runs; a closed run acts on related
 * runs; a queued task is turned into a poll response by its owner) are wired below as late-bound callbacks.
 */
import { randomUUID } from 'node:crypto';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { ActivityTasks } from './activity-tasks.js';
import { VirtualClock } from './clock.js';
import { Commands } from './commands.js';
import { CrossWorkflow } from './cross-workflow.js';
import type { EngineContext, PollSignal } from './engine-context.js';
import { RpcError } from './errors.js';
import { Executions } from './executions.js';
import { History } from './history.js';
import { HistoryWriter } from './history-writer.js';
import { Namespaces } from './namespaces.js';
import type { Msg } from './proto-util.js';
import { Queries } from './queries.js';
import { Run, type BufferedEvent } from './run.js';
import { RunRegistry } from './run-registry.js';
import type { GlobalState, LoadedState, Store } from './store.js';
import { TaskQueues, type TaskRef } from './task-queues.js';
import { WorkflowTasks } from './workflow-tasks.js';
import { WorkflowTimers } from './workflow-timers.js';

import type { Logger } from './logger.js';

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

export class Engine implements EngineContext {
  readonly clock: VirtualClock;
  readonly runs = new RunRegistry();
  readonly namespaces: Namespaces;
  readonly queues: TaskQueues;
  readonly queries: Queries;
  readonly workflowTasks: WorkflowTasks;
  readonly executions: Executions;
  readonly activities: ActivityTasks;
  private readonly timers: WorkflowTimers;
  /** Runs with a workflow task outstanding or an activity not in retry backoff: time skipping waits for them. */
  private readonly busyRuns = new Set<Run>();
  private closed = false;
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
    const { runs, namespaces, queues, queries } = this;
    const history = new HistoryWriter(this.clock);
    this.workflowTasks = new WorkflowTasks(this, {
      history,
      queues,
      runs,
      queries,
      commands: {
        validate: (run, cmds) => commands.validate(run, cmds),
        apply: (run, cmd, c) => commands.apply(run, cmd, c),
      },
    });
    const addExternalEvents = (run: Run, events: BufferedEvent[]) => this.workflowTasks.addExternalEvents(run, events);
    this.activities = new ActivityTasks(this, { runs, history, addExternalEvents, queues });
    this.timers = new WorkflowTimers(this, { history, addExternalEvents });
    this.executions = new Executions(this, {
      runs,
      namespaces,
      history,
      workflowTasks: this.workflowTasks,
      queries,
      onClosed: (run, children) => crossWorkflow.runClosed(run, children),
    });
    const crossWorkflow = new CrossWorkflow(this, {
      runs,
      namespaces,
      history,
      addExternalEvents,
      executions: this.executions,
    });
    const commands = new Commands(this, {
      history,
      namespaces,
      activities: this.activities,
      timers: this.timers,
      executions: this.executions,
      crossWorkflow,
    });

    this.namespaces.ensure('default');
  }

  get store(): Store {
    return this.opts.store;
  }

  get log(): Logger {
    return this.opts.log;
  }

  now(): number {
    return this.clock.now();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** A queued task as the poll response for `identity`; undefined if it went stale while it waited. */
  private materialize(task: TaskRef, identity: string): Msg | undefined {
    switch (task.kind) {
      case 'wft':
        return this.workflowTasks.deliver(task.run, task.seq, identity, task.sticky === true);
      case 'act':
        return this.activities.deliver(task.run, task.scheduledId, task.attempt, identity);
      case 'query':
        return this.queries.deliver(task.queryId);
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Persistence and recovery

  commit(): Promise<void> {
    return this.opts.store.commit().catch((err: unknown) => {
      this.opts.log.error('persisting state failed', { err: String(err) });
      throw new RpcError(GrpcStatus.UNAVAILABLE, 'persisting state failed');
    });
  }

  touch(run: Run): void {
    this.opts.store.markRun(run);
    if (run.busy) this.busyRuns.add(run);
    else this.busyRuns.delete(run);
    this.clock.requestSkipCheck();
  }

  private isIdle(): boolean {
    return this.busyRuns.size === 0 && this.queries.size === 0;
  }

  private globalState(): GlobalState {
    return {
      clockOffset: this.clock.offset,
      runSeq: this.runs.lastSeq,
      ...this.namespaces.snapshot(),
    };
  }

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
    if (m.wft || m.wftRetryAt !== undefined) this.workflowTasks.recover(run);
    else if (m.startDelayUntil !== undefined) this.executions.armStartDelay(run);
    else if (m.needWft) this.workflowTasks.schedule(run);
    this.timers.recover(run);
    this.activities.recover(run);
    this.executions.armTimeout(run);
    this.touch(run);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Retention and deletion

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

  deleteWorkflow(run: Run): void {
    if (run.running) this.executions.terminate(run, 'deleted', undefined, 'server');
    this.deleteRun(run);
  }

  private deleteRun(run: Run): void {
    this.runs.remove(run);
    this.busyRuns.delete(run);
    this.clock.cancelPrefix(`${run.runId}|`);
    this.opts.store.markDeleted(run.runId);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // History long polls, test service, shutdown

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

  async shutdown(): Promise<void> {
    this.closed = true;
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    this.queues.close();
    for (const run of this.runs.values()) run.wakeHistoryWaiters();
    this.queries.close();
    this.clock.close();
    await this.opts.store.close();
  }
}
