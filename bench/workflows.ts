import * as wf from '@temporalio/workflow';
import type * as activities from './activities.js';

const { noop, mark } = wf.proxyActivities<typeof activities>({ startToCloseTimeout: '30s' });

export const ping = wf.defineSignal<[number]>('ping');

/** start → one activity → complete */
export async function oneActivity(): Promise<void> {
  await noop();
}

/** Each signal runs one activity; used for signal → activity latency. */
export async function pingPong(count: number): Promise<void> {
  const queue: number[] = [];
  wf.setHandler(ping, (seq) => void queue.push(seq));
  for (let done = 0; done < count; done++) {
    await wf.condition(() => queue.length > 0);
    await mark(queue.shift()!);
  }
}

/** Waits for one signal: an idle open workflow. */
export async function idle(): Promise<void> {
  let got = false;
  wf.setHandler(ping, () => void (got = true));
  await wf.condition(() => got);
}
