/** The persistent state of one workflow run, and the shapes of its pending activities, timers and children. */
import { History } from './history.js';
import type { Msg } from './proto-util.js';

export type RunStatus = 'RUNNING' | 'COMPLETED' | 'FAILED' | 'CANCELED' | 'TERMINATED' | 'CONTINUED_AS_NEW' | 'TIMED_OUT';

export interface RetryPolicyState {
  initialIntervalMs: number;
  backoffCoefficient: number;
  maximumIntervalMs: number;
  maximumAttempts: number;
  nonRetryableErrorTypes: string[];
}

export interface ActivityState {
  scheduledId: number;
  activityId: string;
  activityType: string;
  taskQueue: string;
  attempt: number;
  state: 'scheduled' | 'started' | 'backoff';
  scheduledTime: number;
  currentAttemptScheduledTime: number;
  startedTime?: number;
  lastHeartbeatTime?: number;
  heartbeatDetails?: Msg;
  lastFailure?: Msg;
  lastAttemptCompleteTime?: number;
  retryAt?: number;
  cancelRequested: boolean;
  cancelRequestedId?: number;
  identity?: string;
  requestId?: string;
  retry: RetryPolicyState;
  scheduleToCloseMs: number;
  scheduleToStartMs: number;
  startToCloseMs: number;
  heartbeatMs: number;
}

export interface TimerState {
  timerId: string;
  startedId: number;
  fireAt: number;
}

export interface ChildState {
  initiatedId: number;
  namespace: string;
  workflowId: string;
  workflowType: string;
  runId?: string;
  startedId?: number;
  parentClosePolicy: string;
}

export interface WftState {
  /** Unique per run; identifies this task in queue references and task tokens. */
  seq: number;
  state: 'scheduled' | 'started';
  attempt: number;
  /** Attempts after the first are transient: their scheduled/started events reach history only on completion. */
  transient: boolean;
  scheduledId: number;
  startedId: number;
  scheduledTime: number;
  startedTime?: number;
  identity?: string;
  requestId?: string;
}

export interface BufferedEvent {
  type: string;
  attrs: Msg;
  /** Set `startedEventId` to the id of the event appended just before this one (lazy ActivityTaskStarted). */
  linkStarted?: boolean;
}

/** Everything about a run except its history; this is what a log record or snapshot stores beside new events. */
export interface RunMeta {
  seq: number;
  namespace: string;
  workflowId: string;
  runId: string;
  firstRunId: string;
  workflowType: string;
  taskQueue: string;
  status: RunStatus;
  startRequestId: string;
  startTime: number;
  executionTime: number;
  closeTime?: number;
  memo: Record<string, Msg>;
  searchAttributes: Record<string, unknown>;
  wftTimeoutMs: number;
  runTimeoutMs: number;
  executionTimeoutMs: number;
  executionDeadline?: number;
  runDeadline?: number;
  startDelayUntil?: number;
  attempt: number;
  parent?: { namespace: string; workflowId: string; runId: string; initiatedId: number };
  continuedFromRunId?: string;
  newRunId?: string;
  wft?: WftState;
  wftSeq: number;
  wftAttempt: number;
  wftRetryAt?: number;
  needWft: boolean;
  buffered: BufferedEvent[];
  lastStartedId: number;
  activities: Record<number, ActivityState>;
  timers: Record<string, TimerState>;
  children: Record<number, ChildState>;
  signalRequestIds: string[];
  cancelRequested: boolean;
  historySizeBytes: number;
  /** The sticky queue of the worker that has this run cached (set by its last completed workflow task). */
  sticky?: { queue: string; scheduleToStartMs: number };
}

export class Run {
  history = new History();
  /** Number of history events already written to the log. */
  persistedEvents = 0;
  historyWaiters = new Set<() => void>();
  pendingQueries: string[] = [];

  constructor(public m: RunMeta) {}

  get runId(): string {
    return this.m.runId;
  }

  get running(): boolean {
    return this.m.status === 'RUNNING';
  }

  /** Busy runs hold back time skipping: an outstanding workflow task, or an activity not in retry backoff. */
  get busy(): boolean {
    if (!this.running) return false;
    if (this.m.wft) return true;
    for (const a of Object.values(this.m.activities)) if (a.state !== 'backoff') return true;
    return false;
  }

  wakeHistoryWaiters(): void {
    const ws = [...this.historyWaiters];
    this.historyWaiters.clear();
    for (const w of ws) w();
  }
}
