/**
 * Writes events into a run's history: numbered in order, stamped with virtual time. Events that arrived while a
 * workflow task was started wait in `run.m.buffered` until the workflow-task lifecycle flushes them here.
 */
import type { VirtualClock } from './clock.js';
import { eventAttrField, eventTypeName, msToTimestamp, type Msg } from './proto-util.js';
import type { BufferedEvent, Run } from './run.js';

export class HistoryWriter {
  constructor(private readonly clock: Pick<VirtualClock, 'now'>) {}

  /** The event that would be appended next (transient workflow-task events are built without being written). */
  nextEvent(run: Run, type: string, attrs: Msg): Msg {
    return {
      eventId: run.history.length + 1,
      eventTime: msToTimestamp(this.clock.now()),
      eventType: eventTypeName(type),
      taskId: run.history.length + 1,
      [eventAttrField(type)]: attrs,
    };
  }

  /** Appends straight to history (events the server itself orders: commands, task events). Returns the event id. */
  append(run: Run, type: string, attrs: Msg): number {
    const ev = this.nextEvent(run, type, attrs);
    run.history.push(ev);
    run.m.historySizeBytes += 64;
    run.wakeHistoryWaiters();
    return ev.eventId as number;
  }

  /** Appends events from outside the workflow, resolving the ids they refer to once those are known. */
  appendAll(run: Run, events: BufferedEvent[]): void {
    let prev = 0;
    for (const e of events) {
      const attrs = e.linkStarted ? { ...e.attrs, startedEventId: prev } : e.attrs;
      prev = this.append(run, e.type, attrs);
      if (e.type === 'ChildWorkflowExecutionStarted') {
        const child = run.m.children[attrs.initiatedEventId as number];
        if (child) child.startedId = prev;
      }
    }
  }

  /** Writes the events buffered while a workflow task was started; returns how many there were. */
  flushBuffered(run: Run): number {
    const buf = run.m.buffered;
    if (buf.length === 0) return 0;
    run.m.buffered = [];
    this.appendAll(run, buf);
    return buf.length;
  }
}
