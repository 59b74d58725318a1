/**
 * Workflow queries. A query is a task on the run's normal workflow queue, answered by a worker replaying the
 * history. While the run has a workflow task outstanding it waits, so that it sees that task's outcome.
 */
import { randomUUID } from 'node:crypto';
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { PollSignal } from './engine-context.js';
import { RpcError, invalidArgument, notFound } from './errors.js';
import type { Msg } from './proto-util.js';
import type { Run } from './run.js';
import { workflowQueueKey, type TaskQueues } from './task-queues.js';
import { decodeToken, encodeToken } from './tokens.js';

interface PendingQuery {
  id: string;
  run: Run;
  query: Msg;
  dispatched: boolean;
  resolve: (r: Msg) => void;
  reject: (e: unknown) => void;
}

export class Queries {
  private readonly pending = new Map<string, PendingQuery>();

  constructor(private readonly queues: Pick<TaskQueues, 'enqueue'>) {}

  /** Unanswered queries; the clock does not skip time while a worker is yet to answer one. */
  get size(): number {
    return this.pending.size;
  }

  query(run: Run, query: Msg, signal: PollSignal, timeoutMs: number): Promise<Msg> {
    const id = randomUUID();
    return new Promise<Msg>((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(new RpcError(GrpcStatus.DEADLINE_EXCEEDED, 'query timed out: no worker answered'));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.pending.delete(id);
        const i = run.pendingQueries.indexOf(id);
        if (i >= 0) run.pendingQueries.splice(i, 1);
      };
      this.pending.set(id, {
        id,
        run,
        query,
        dispatched: false,
        resolve: (r) => {
          cleanup();
          resolve(r);
        },
        reject: (e) => {
          cleanup();
          reject(e);
        },
      });
      signal.onCancel(() => {
        cleanup();
        reject(new RpcError(GrpcStatus.CANCELLED, 'query cancelled'));
      });
      if (run.m.wft) run.pendingQueries.push(id);
      else this.dispatch(id);
    });
  }

  /** After a workflow task resolves (or the run closes): hand out the queries that waited for it. */
  releaseWaiting(run: Run): void {
    if (run.m.wft) return;
    const ids = run.pendingQueries.splice(0);
    for (const id of ids) this.dispatch(id);
  }

  private dispatch(id: string): void {
    const q = this.pending.get(id);
    if (!q) return;
    q.dispatched = true;
    this.queues.enqueue(workflowQueueKey(q.run), { kind: 'query', queryId: id });
  }

  /** The poll response for a query task; undefined if the query is already over (answered, timed out, cancelled). */
  deliver(id: string): Msg | undefined {
    const q = this.pending.get(id);
    if (!q) return undefined;
    const run = q.run;
    return {
      taskToken: encodeToken({ k: 'q', id }),
      workflowExecution: { workflowId: run.m.workflowId, runId: run.runId },
      workflowType: { name: run.m.workflowType },
      previousStartedEventId: run.m.lastStartedId,
      startedEventId: 0,
      attempt: 1,
      backlogCountHint: 0,
      history: { events: run.history.slice() },
      query: q.query,
      workflowExecutionTaskQueue: { name: run.m.taskQueue, kind: 'TASK_QUEUE_KIND_NORMAL' },
      queries: {},
      messages: [],
    };
  }

  answer(req: Msg): void {
    const t = decodeToken(req.taskToken);
    if (t.k !== 'q') throw invalidArgument('not a query task token');
    const q = this.pending.get(t.id);
    if (!q) throw notFound('query not found');
    if (req.completedType === 'QUERY_RESULT_TYPE_ANSWERED') q.resolve({ queryResult: req.queryResult });
    else q.reject(invalidArgument(req.errorMessage || 'query failed'));
  }

  /** Shutdown: every waiting caller gets UNAVAILABLE. */
  close(): void {
    for (const q of this.pending.values()) q.reject(new RpcError(GrpcStatus.UNAVAILABLE, 'server shutting down'));
    this.pending.clear();
  }
}
