/**
 * Task queues and long polls. A queue holds references to tasks, not poll responses: a reference becomes a response
 * only when a poller takes it, through the engine's `materialize`, which answers undefined for a task that went stale
 * while it waited (its run closed, its attempt timed out) so the poller gets the next one instead.
 */
import type { VirtualClock } from './clock.js';
import type { PollSignal } from './engine-context.js';
import type { Msg } from './proto-util.js';
import type { Run } from './run.js';

export type TaskRef =
  | { kind: 'wft'; run: Run; seq: number; sticky?: boolean }
  | { kind: 'act'; run: Run; scheduledId: number; attempt: number }
  | { kind: 'query'; queryId: string };

export type QueueKind = 'wf' | 'act';

/** How long a worker that stopped polling is still listed by DescribeTaskQueue (the real server's 5 minutes). */
const POLLER_TTL_MS = 5 * 60_000;

interface Poller {
  identity: string;
  deliver: (resp: Msg) => void;
  isCancelled: () => boolean;
}

interface TaskQueue {
  tasks: TaskRef[];
  pollers: Poller[];
}

export function queueKey(kind: QueueKind, ns: string, name: string): string {
  return `${kind}|${ns}|${name}`;
}

/** The run's normal workflow task queue, where any worker gets its tasks with full history. */
export function workflowQueueKey(run: Run): string {
  return queueKey('wf', run.m.namespace, run.m.taskQueue);
}

export interface TaskQueueDeps {
  /** Turns a task reference into the poll response for `identity`, or undefined if the task is no longer current. */
  materialize(task: TaskRef, identity: string): Msg | undefined;
  /** A handed-out task is answered only once its start is persisted. */
  commit(): Promise<void>;
  clock: Pick<VirtualClock, 'requestSkipCheck'>;
  /** How long a poll parks before answering empty. */
  pollTimeoutMs: number;
}

export class TaskQueues {
  private readonly queues = new Map<string, TaskQueue>();
  /** Who polled each queue and when (wall clock), for DescribeTaskQueue: the Web UI's "Workers" tab and banner. */
  private readonly pollerHistory = new Map<string, Map<string, number>>();
  private closed = false;

  constructor(private readonly deps: TaskQueueDeps) {}

  private queue(key: string): TaskQueue {
    let q = this.queues.get(key);
    if (!q) {
      q = { tasks: [], pollers: [] };
      this.queues.set(key, q);
    }
    return q;
  }

  enqueue(key: string, task: TaskRef): void {
    if (this.closed) return;
    const q = this.queue(key);
    while (q.pollers.length > 0) {
      const p = q.pollers.shift()!;
      if (p.isCancelled()) continue;
      const resp = this.deps.materialize(task, p.identity);
      if (!resp) {
        q.pollers.unshift(p);
        return;
      }
      p.deliver(resp);
      return;
    }
    q.tasks.push(task);
  }

  /**
   * Long poll for a task. Resolves with a task, or `{}` after the poll timeout, on shutdown, or when the caller
   * goes away.
   */
  poll(kind: QueueKind, ns: string, queueName: string, identity: string, signal: PollSignal): Promise<Msg> {
    const key = queueKey(kind, ns, queueName);
    const q = this.queue(key);
    let seen = this.pollerHistory.get(key);
    if (!seen) this.pollerHistory.set(key, (seen = new Map()));
    seen.set(identity, Date.now());
    while (q.tasks.length > 0) {
      const task = q.tasks.shift()!;
      const resp = this.deps.materialize(task, identity);
      if (resp) return this.deps.commit().then(() => resp);
    }
    if (this.closed) return Promise.resolve({});
    return new Promise<Msg>((resolve) => {
      let done = false;
      const finish = (resp: Msg) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        const i = q.pollers.indexOf(poller);
        if (i >= 0) q.pollers.splice(i, 1);
        resolve(resp);
      };
      const poller: Poller = {
        identity,
        isCancelled: () => done || signal.cancelled(),
        deliver: (resp) => {
          done = true;
          clearTimeout(timer);
          void this.deps.commit().then(
            () => resolve(resp),
            () => resolve({}),
          );
        },
      };
      const timer = setTimeout(() => finish({}), this.deps.pollTimeoutMs);
      signal.onCancel(() => finish({}));
      q.pollers.push(poller);
      this.deps.clock.requestSkipCheck();
    });
  }

  /** Whether a worker polled the queue (or is parked on it) within `ms`. */
  polledWithin(key: string, ms: number): boolean {
    if ((this.queues.get(key)?.pollers.length ?? 0) > 0) return true;
    const now = Date.now();
    for (const at of this.pollerHistory.get(key)?.values() ?? []) if (now - at <= ms) return true;
    return false;
  }

  /**
   * The workers that polled a queue in the last {@link POLLER_TTL_MS} (as the real server keeps them), newest first;
   * a worker parked in a long poll counts as polling now.
   */
  describePollers(kind: QueueKind, ns: string, queueName: string): { identity: string; lastAccessTime: number }[] {
    const key = queueKey(kind, ns, queueName);
    const seen = this.pollerHistory.get(key);
    if (!seen) return [];
    const now = Date.now();
    for (const p of this.queues.get(key)?.pollers ?? []) seen.set(p.identity, now);
    const out: { identity: string; lastAccessTime: number }[] = [];
    for (const [identity, at] of seen) {
      if (now - at > POLLER_TTL_MS) seen.delete(identity);
      else out.push({ identity, lastAccessTime: at });
    }
    return out.sort((a, b) => b.lastAccessTime - a.lastAccessTime);
  }

  /** Drops a queue whose worker is gone: its waiting tasks go to `reroute`, then its parked pollers get `{}`. */
  retire(key: string, reroute: (task: TaskRef) => void): void {
    const q = this.queues.get(key);
    if (!q) return;
    for (const t of q.tasks.splice(0)) reroute(t);
    for (const p of q.pollers.splice(0)) p.deliver({});
    this.queues.delete(key);
  }

  /** Shutdown: parked pollers answer empty, and nothing is queued or handed out any more. */
  close(): void {
    this.closed = true;
    for (const q of this.queues.values()) {
      for (const p of q.pollers.splice(0)) p.deliver({});
    }
  }
}
