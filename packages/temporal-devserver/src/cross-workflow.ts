/**
 * Workflows acting on other workflows: child workflows (start, parent-close policy, the result event for the
 * parent), signals and cancel requests to external workflows, and continue-as-new.
 *
 * A command here writes its "initiated" event at once; its effect on the other run is deferred until the completing
 * task's own events are written, and its outcome comes back to the initiating run as an external event.
 */
import { randomUUID } from 'node:crypto';
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { CommandContext } from './commands.js';
import type { EngineContext } from './engine-context.js';
import { RpcError, alreadyExists, notFound } from './errors.js';
import type { Executions } from './executions.js';
import type { HistoryWriter } from './history-writer.js';
import type { Namespaces } from './namespaces.js';
import { eventAttrField, msToDuration, type Msg } from './proto-util.js';
import type { BufferedEvent, ChildState, Run } from './run.js';
import type { RunRegistry } from './run-registry.js';

export interface CrossWorkflowDeps {
  runs: Pick<RunRegistry, 'get' | 'current' | 'find'>;
  namespaces: Pick<Namespaces, 'has' | 'encodeSearchAttributes'>;
  history: Pick<HistoryWriter, 'append'>;
  /** Delivers outcomes to the initiating run (buffered while a workflow task runs). */
  addExternalEvents(run: Run, events: BufferedEvent[]): void;
  executions: Pick<Executions, 'start' | 'close' | 'signal' | 'requestCancel' | 'terminate'>;
}

export class CrossWorkflow {
  constructor(
    private readonly ctx: Pick<EngineContext, 'log' | 'touch'>,
    private readonly deps: CrossWorkflowDeps,
  ) {}

  /** The StartChildWorkflowExecution command. */
  initiateChild(run: Run, a: Msg, c: CommandContext): void {
    const ns = a.namespace || run.m.namespace;
    const initiatedId = this.deps.history.append(run, 'StartChildWorkflowExecutionInitiated', {
      ...a,
      namespace: ns,
      workflowTaskCompletedEventId: c.completedId,
    });
    run.m.children[initiatedId] = {
      initiatedId,
      namespace: ns,
      workflowId: a.workflowId,
      workflowType: a.workflowType?.name,
      parentClosePolicy: a.parentClosePolicy ?? 'PARENT_CLOSE_POLICY_TERMINATE',
    };
    c.deferred.push(() => this.startChild(run, initiatedId, a, ns));
  }

  /** The SignalExternalWorkflowExecution command. */
  initiateExternalSignal(run: Run, a: Msg, c: CommandContext): void {
    const ns = a.namespace || run.m.namespace;
    const initiatedId = this.deps.history.append(run, 'SignalExternalWorkflowExecutionInitiated', {
      namespace: ns,
      workflowExecution: a.execution,
      signalName: a.signalName,
      input: a.input,
      control: a.control,
      childWorkflowOnly: a.childWorkflowOnly,
      header: a.header,
      workflowTaskCompletedEventId: c.completedId,
    });
    c.deferred.push(() => this.signalExternal(run, initiatedId, a, ns));
  }

  /** The RequestCancelExternalWorkflowExecution command. */
  initiateExternalCancel(run: Run, a: Msg, c: CommandContext): void {
    const ns = a.namespace || run.m.namespace;
    const execution = { workflowId: a.workflowId, runId: a.runId };
    const initiatedId = this.deps.history.append(run, 'RequestCancelExternalWorkflowExecutionInitiated', {
      namespace: ns,
      workflowExecution: execution,
      control: a.control,
      childWorkflowOnly: a.childWorkflowOnly,
      reason: a.reason,
      workflowTaskCompletedEventId: c.completedId,
    });
    c.deferred.push(() => this.cancelExternal(run, initiatedId, execution, ns, a.control));
  }

  /**
   * The ContinueAsNewWorkflowExecution command: closes the run and starts its successor, with the same workflow id,
   * carrying memo and search attributes over.
   */
  continueAsNew(run: Run, a: Msg, completedId: number): void {
    const m = run.m;
    const newRunId = randomUUID();
    const taskQueue = a.taskQueue?.name ? a.taskQueue : { name: m.taskQueue, kind: 'TASK_QUEUE_KIND_NORMAL' };
    const memo = a.memo ?? { fields: m.memo };
    const searchAttributes = a.searchAttributes ?? this.deps.namespaces.encodeSearchAttributes(m.namespace, m.searchAttributes);
    this.deps.executions.close(run, 'CONTINUED_AS_NEW', 'WorkflowExecutionContinuedAsNew', {
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
    this.deps.executions.start(
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
    // A continued child is still its parent's child: the parent waits for the new run's result.
    if (m.parent) {
      const parent = this.deps.runs.get(m.parent.runId);
      const child = parent?.m.children[m.parent.initiatedId];
      if (child) {
        child.runId = newRunId;
        this.ctx.touch(parent!);
      }
    }
  }

  /** A run closed: the parent-close policy for its children still running, then the result event for its parent. */
  runClosed(run: Run, children: ChildState[]): void {
    for (const c of children) {
      if (!c.runId || c.parentClosePolicy === 'PARENT_CLOSE_POLICY_ABANDON') continue;
      const child = this.deps.runs.current(c.namespace, c.workflowId);
      if (!child?.running || child.m.parent?.runId !== run.runId) continue;
      if (c.parentClosePolicy === 'PARENT_CLOSE_POLICY_REQUEST_CANCEL') {
        this.deps.executions.requestCancel(child, { cause: 'by parent close policy', identity: 'server' });
      } else {
        this.deps.executions.terminate(child, 'by parent close policy', undefined, 'server');
      }
    }
    // A continued run's successor reports to the parent instead.
    if (run.m.status !== 'CONTINUED_AS_NEW') this.notifyParent(run);
  }

  private startChild(parent: Run, initiatedId: number, a: Msg, ns: string): void {
    if (!parent.running) return;
    const child = parent.m.children[initiatedId];
    if (!child) return;
    let started: Run;
    try {
      if (!this.deps.namespaces.has(ns)) throw notFound(`namespace ${ns} is not found`);
      const existing = this.deps.runs.current(ns, a.workflowId);
      if (existing?.running) throw alreadyExists('child workflow already running');
      ({ run: started } = this.deps.executions.start(
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
      if (!(err instanceof RpcError)) this.ctx.log.error('starting child failed', { err: String(err) });
      this.deps.addExternalEvents(parent, [
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
    this.deps.addExternalEvents(parent, [
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

  /** The run an external signal or cancel request is for, if there is one. */
  private findTarget(ns: string, exec: Msg): Run | undefined {
    try {
      return this.deps.runs.find(ns, exec);
    } catch {
      return undefined;
    }
  }

  private signalExternal(run: Run, initiatedId: number, a: Msg, ns: string): void {
    const exec = a.execution ?? {};
    const target = this.findTarget(ns, exec);
    if (target?.running && (!a.childWorkflowOnly || target.m.parent?.runId === run.runId)) {
      this.deps.executions.signal(target, {
        signalName: a.signalName,
        input: a.input,
        identity: run.m.workflowId,
        header: a.header,
        externalWorkflowExecution: { workflowId: run.m.workflowId, runId: run.runId },
      });
      this.deps.addExternalEvents(run, [
        {
          type: 'ExternalWorkflowExecutionSignaled',
          attrs: { initiatedEventId: initiatedId, namespace: ns, workflowExecution: exec, control: a.control },
        },
      ]);
    } else {
      this.deps.addExternalEvents(run, [
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
    const target = this.findTarget(ns, exec);
    if (target?.running) {
      this.deps.executions.requestCancel(target, {
        cause: 'requested by workflow',
        externalInitiatedEventId: initiatedId,
        externalWorkflowExecution: { workflowId: run.m.workflowId, runId: run.runId },
        identity: run.m.workflowId,
      });
      this.deps.addExternalEvents(run, [
        {
          type: 'ExternalWorkflowExecutionCancelRequested',
          attrs: { initiatedEventId: initiatedId, namespace: ns, workflowExecution: exec },
        },
      ]);
    } else {
      this.deps.addExternalEvents(run, [
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

  /** The child's closing event, as the matching ChildWorkflowExecution* event in its parent's history. */
  private notifyParent(run: Run): void {
    const p = run.m.parent;
    if (!p) return;
    const parent = this.deps.runs.get(p.runId);
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
    this.deps.addExternalEvents(parent, [ev]);
  }
}
