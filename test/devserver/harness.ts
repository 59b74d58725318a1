/** One embedded server (or real server) and one worker per test file, shared by its tests. */
import type { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, expect } from 'vitest';
import * as activities from './activities.js';
import { createTemporalTestEnv, pathOf, uid, type TemporalTestEnv } from '../helpers/temporal.js';
import type { DevServerOptions } from '@mostro/temporal-devserver';

export const workflowsPath = pathOf(new URL('./workflows/index.ts', import.meta.url).href);
export const fixedWorkflowsPath = pathOf(new URL('./workflows/fixed.ts', import.meta.url).href);

export interface Harness {
  env: TemporalTestEnv;
  taskQueue: string;
  worker: Worker;
}

export function useHarness(opts: Omit<DevServerOptions, 'port'> = {}): Harness {
  const h = {} as Harness;
  let running: Promise<void>;
  beforeAll(async () => {
    h.env = await createTemporalTestEnv(opts);
    h.taskQueue = uid('tq');
    h.worker = await h.env.worker({ taskQueue: h.taskQueue, workflowsPath, activities });
    running = h.worker.run();
  });
  afterAll(async () => {
    if (h.worker) {
      h.worker.shutdown();
      await running;
    }
    // Nothing the SDK did during the suite may have reached an RPC the embedded server lacks.
    const unimplemented = h.env?.server?.unimplementedCalls ?? [];
    await h.env?.teardown();
    expect(unimplemented).toEqual([]);
  });
  return h;
}

/** Event types of a workflow's history, without the EVENT_TYPE_ prefix. */
export async function eventTypes(env: TemporalTestEnv, workflowId: string, runId?: string): Promise<string[]> {
  const history = await env.client.workflow.getHandle(workflowId, runId).fetchHistory();
  return (history.events ?? []).map((e) => String(eventTypeName(e.eventType)));
}

function eventTypeName(t: unknown): string {
  // The client decodes enums as numbers; map through the proto enum.
  return typeof t === 'number' ? EVENT_NAMES[t] ?? String(t) : String(t).replace(/^EVENT_TYPE_/, '');
}

import proto from '@temporalio/proto';
const { temporal } = proto;
const EVENT_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(temporal.api.enums.v1.EventType)
    .filter(([, v]) => typeof v === 'number')
    .map(([k, v]) => [v as number, k.replace(/^EVENT_TYPE_/, '')]),
);
