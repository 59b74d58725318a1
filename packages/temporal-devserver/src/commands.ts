/**
 * The commands of a completed workflow task: validated all together first (as a Temporal server does, a bad command
 * fails the task before any is applied), then applied in order, each by the handler for its type. The handlers
 * delegate to the module owning the state a command changes; the ones that only write an event or update the run's
 * own memo and search attributes are here.
 */
import type { ActivityTasks } from './activity-tasks.js';
import type { CrossWorkflow } from './cross-workflow.js';
import type { EngineContext } from './engine-context.js';
import { invalidArgument } from './errors.js';
import type { Executions } from './executions.js';
import type { HistoryWriter } from './history-writer.js';
import type { Namespaces } from './namespaces.js';
import { commandAttrField, durationToMs, type Msg } from './proto-util.js';
import type { Run, RunStatus } from './run.js';
import { decodeSearchAttributes } from './visibility.js';
import type { WorkflowTimers } from './workflow-timers.js';

/** What a command's handler knows of the task that carried it. */
export interface CommandContext {
  /** The WorkflowTaskCompleted event id, recorded on the events commands write. */
  completedId: number;
  identity: string | undefined;
  /** Effects on other runs, run once the task's own events and its buffered events are written. */
  deferred: (() => void)[];
}

/** Applies one command, given its attributes (`startTimerCommandAttributes` & co., `{}` when absent). */
type CommandHandler = (run: Run, attrs: Msg, c: CommandContext) => void;

const CLOSE_COMMANDS = new Set([
  'COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION',
  'COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION',
  'COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION',
  'COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION',
]);

/** Whether the command ends the run (it must not while events the workflow has not seen are waiting). */
export function isCloseCommand(cmd: Msg): boolean {
  return CLOSE_COMMANDS.has(cmd.commandType);
}

export interface CommandDeps {
  history: Pick<HistoryWriter, 'append'>;
  namespaces: Pick<Namespaces, 'writableAttributes'>;
  activities: Pick<ActivityTasks, 'schedule' | 'requestCancel'>;
  timers: Pick<WorkflowTimers, 'start' | 'cancel'>;
  executions: Pick<Executions, 'close'>;
  crossWorkflow: Pick<
    CrossWorkflow,
    'continueAsNew' | 'initiateChild' | 'initiateExternalSignal' | 'initiateExternalCancel'
  >;
}

export class Commands {
  private readonly handlers: ReadonlyMap<string, CommandHandler>;

  constructor(
    private readonly ctx: Pick<EngineContext, 'log'>,
    private readonly deps: CommandDeps,
  ) {
    const { activities, timers, executions, crossWorkflow } = deps;
    const closeAs = (status: RunStatus, eventType: string, attrs: (a: Msg) => Msg): CommandHandler => {
      return (run, a, c) =>
        executions.close(run, status, eventType, { ...attrs(a), workflowTaskCompletedEventId: c.completedId });
    };
    this.handlers = new Map<string, CommandHandler>([
      ['COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK', (run, a, c) => activities.schedule(run, a, c.completedId)],
      [
        'COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK',
        (run, a, c) => activities.requestCancel(run, Number(a.scheduledEventId), c.completedId, c.identity),
      ],
      ['COMMAND_TYPE_START_TIMER', (run, a, c) => timers.start(run, a, c.completedId)],
      ['COMMAND_TYPE_CANCEL_TIMER', (run, a, c) => timers.cancel(run, a.timerId as string, c.completedId, c.identity)],
      [
        'COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION',
        closeAs('COMPLETED', 'WorkflowExecutionCompleted', (a) => ({ result: a.result })),
      ],
      [
        'COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION',
        closeAs('FAILED', 'WorkflowExecutionFailed', (a) => ({
          failure: a.failure,
          retryState: 'RETRY_STATE_RETRY_POLICY_NOT_SET',
        })),
      ],
      [
        'COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION',
        closeAs('CANCELED', 'WorkflowExecutionCanceled', (a) => ({ details: a.details })),
      ],
      [
        'COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION',
        (run, a, c) => crossWorkflow.continueAsNew(run, a, c.completedId),
      ],
      ['COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION', (run, a, c) => crossWorkflow.initiateChild(run, a, c)],
      [
        'COMMAND_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION',
        (run, a, c) => crossWorkflow.initiateExternalSignal(run, a, c),
      ],
      [
        'COMMAND_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION',
        (run, a, c) => crossWorkflow.initiateExternalCancel(run, a, c),
      ],
      ['COMMAND_TYPE_RECORD_MARKER', (run, a, c) => this.recordMarker(run, a, c)],
      [
        'COMMAND_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES',
        (run, a, c) => this.upsertSearchAttributes(run, a.searchAttributes, c),
      ],
      ['COMMAND_TYPE_MODIFY_WORKFLOW_PROPERTIES', (run, a, c) => this.upsertMemo(run, a.upsertedMemo, c)],
    ]);
  }

  /** Rejects commands the server cannot apply before any of them is applied, as a Temporal server does. */
  validate(run: Run, commands: Msg[]): void {
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
          this.deps.namespaces.writableAttributes(run.m.namespace),
        );
      }
    }
  }

  apply(run: Run, cmd: Msg, c: CommandContext): void {
    const type = cmd.commandType as string;
    const handler = this.handlers.get(type);
    if (handler) handler(run, cmd[commandAttrField(type)] ?? {}, c);
    else this.ctx.log.error('unsupported command ignored', { commandType: type, workflowId: run.m.workflowId });
  }

  private recordMarker(run: Run, a: Msg, c: CommandContext): void {
    this.deps.history.append(run, 'MarkerRecorded', {
      markerName: a.markerName,
      details: a.details,
      header: a.header,
      failure: a.failure,
      workflowTaskCompletedEventId: c.completedId,
    });
  }

  /** A null value removes the attribute. */
  private upsertSearchAttributes(run: Run, sa: Msg | undefined, c: CommandContext): void {
    const m = run.m;
    const values = decodeSearchAttributes(sa?.indexedFields, this.deps.namespaces.writableAttributes(m.namespace));
    for (const [k, v] of Object.entries(values)) {
      if (v === null) delete m.searchAttributes[k];
      else m.searchAttributes[k] = v;
    }
    this.deps.history.append(run, 'UpsertWorkflowSearchAttributes', {
      searchAttributes: sa,
      workflowTaskCompletedEventId: c.completedId,
    });
  }

  /** An empty or null payload removes the memo field. */
  private upsertMemo(run: Run, memo: Msg | undefined, c: CommandContext): void {
    const m = run.m;
    for (const [k, v] of Object.entries((memo?.fields ?? {}) as Record<string, Msg>)) {
      const empty = !v?.data || Buffer.from(v.data).toString() === 'null';
      if (empty) delete m.memo[k];
      else m.memo[k] = v;
    }
    this.deps.history.append(run, 'WorkflowPropertiesModified', {
      upsertedMemo: memo,
      workflowTaskCompletedEventId: c.completedId,
    });
  }
}
