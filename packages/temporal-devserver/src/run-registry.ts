/** Every run the server holds, by run id and by workflow id. */
import { invalidArgument, notFound } from './errors.js';
import type { Msg } from './proto-util.js';
import type { Run } from './run.js';

export class RunRegistry {
  private readonly byId = new Map<string, Run>();
  /** `${namespace}\n${workflowId}` → runs of that id in start order (the last is the current run). */
  private readonly byWorkflow = new Map<string, Run[]>();
  /** The highest run sequence number so far: runs are numbered in start order, across restarts. */
  lastSeq = 0;

  private key(ns: string, workflowId: string): string {
    return `${ns}\n${workflowId}`;
  }

  nextSeq(): number {
    return ++this.lastSeq;
  }

  add(run: Run): void {
    this.byId.set(run.runId, run);
    const key = this.key(run.m.namespace, run.m.workflowId);
    const list = this.byWorkflow.get(key);
    if (list) list.push(run);
    else this.byWorkflow.set(key, [run]);
    this.lastSeq = Math.max(this.lastSeq, run.m.seq);
  }

  remove(run: Run): void {
    this.byId.delete(run.runId);
    const key = this.key(run.m.namespace, run.m.workflowId);
    const list = (this.byWorkflow.get(key) ?? []).filter((r) => r !== run);
    if (list.length > 0) this.byWorkflow.set(key, list);
    else this.byWorkflow.delete(key);
  }

  get(runId: string): Run | undefined {
    return this.byId.get(runId);
  }

  values(): IterableIterator<Run> {
    return this.byId.values();
  }

  current(ns: string, workflowId: string): Run | undefined {
    const list = this.byWorkflow.get(this.key(ns, workflowId));
    return list?.[list.length - 1];
  }

  /** Resolves `{workflowId, runId?}`; without a run id, the current run. */
  find(ns: string, execution: Msg | undefined): Run {
    const workflowId = execution?.workflowId as string | undefined;
    if (!workflowId) throw invalidArgument('workflowId is required');
    const runId = execution?.runId as string | undefined;
    if (runId) {
      const run = this.byId.get(runId);
      if (!run || run.m.workflowId !== workflowId || run.m.namespace !== ns) {
        throw notFound(`workflow execution not found for workflowId ${workflowId} and runId ${runId}`);
      }
      return run;
    }
    const run = this.current(ns, workflowId);
    if (!run) throw notFound(`workflow execution not found for workflowId ${workflowId}`);
    return run;
  }

  findRunning(ns: string, execution: Msg | undefined): Run {
    const run = this.find(ns, execution);
    if (!run.running) throw notFound('workflow execution already completed');
    return run;
  }
}
