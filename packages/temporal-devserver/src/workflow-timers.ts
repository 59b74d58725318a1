/** Timers a workflow starts (`sleep`, `condition` with a timeout): started, canceled, fired on the virtual clock. */
import { durationToMs, type Msg } from './proto-util.js';
import type { EngineContext } from './engine-context.js';
import type { HistoryWriter } from './history-writer.js';
import type { BufferedEvent, Run } from './run.js';

export interface WorkflowTimerDeps {
  history: Pick<HistoryWriter, 'append'>;
  /** Delivers TimerFired to the workflow (buffered while a workflow task runs). */
  addExternalEvents(run: Run, events: BufferedEvent[]): void;
}

export class WorkflowTimers {
  constructor(
    private readonly ctx: Pick<EngineContext, 'clock' | 'commit'>,
    private readonly deps: WorkflowTimerDeps,
  ) {}

  private key(run: Run, timerId: string): string {
    return `${run.runId}|timer|${timerId}`;
  }

  /** The StartTimer command. */
  start(run: Run, a: Msg, completedId: number): void {
    const ms = durationToMs(a.startToFireTimeout);
    const startedId = this.deps.history.append(run, 'TimerStarted', {
      timerId: a.timerId,
      startToFireTimeout: a.startToFireTimeout,
      workflowTaskCompletedEventId: completedId,
    });
    const fireAt = this.ctx.clock.now() + ms;
    run.m.timers[a.timerId] = { timerId: a.timerId, startedId, fireAt };
    this.arm(run, a.timerId, fireAt);
  }

  /** The CancelTimer command. */
  cancel(run: Run, timerId: string, completedId: number, identity: string | undefined): void {
    const m = run.m;
    const t = m.timers[timerId];
    let startedId = t?.startedId;
    if (t) {
      this.ctx.clock.cancel(this.key(run, timerId));
      delete m.timers[timerId];
    } else {
      // The timer fired while this task ran: drop its buffered TimerFired, the workflow chose to cancel.
      const i = m.buffered.findIndex((b) => b.type === 'TimerFired' && b.attrs.timerId === timerId);
      if (i < 0) return;
      startedId = m.buffered[i]!.attrs.startedEventId as number;
      m.buffered.splice(i, 1);
    }
    this.deps.history.append(run, 'TimerCanceled', {
      timerId,
      startedEventId: startedId,
      workflowTaskCompletedEventId: completedId,
      identity,
    });
  }

  /** After a restart: the run's pending timers back on the clock. */
  recover(run: Run): void {
    for (const t of Object.values(run.m.timers)) this.arm(run, t.timerId, t.fireAt);
  }

  private arm(run: Run, timerId: string, fireAt: number): void {
    this.ctx.clock.set(this.key(run, timerId), fireAt, () => {
      const t = run.m.timers[timerId];
      if (!run.running || !t) return;
      delete run.m.timers[timerId];
      this.deps.addExternalEvents(run, [{ type: 'TimerFired', attrs: { timerId, startedEventId: t.startedId } }]);
      void this.ctx.commit();
    });
  }
}
