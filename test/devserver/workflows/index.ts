import * as wf from '@temporalio/workflow';
import type * as activities from '../activities.js';

const acts = wf.proxyActivities<typeof activities>({
  startToCloseTimeout: '10s',
  retry: { initialInterval: '200ms', backoffCoefficient: 2 },
});

export const unblock = wf.defineSignal<[string]>('unblock');
export const state = wf.defineQuery<string>('state');

export async function greet(name: string): Promise<string> {
  return await acts.flaky(name);
}

export async function signalQuery(): Promise<string> {
  let phase = 'calling activity';
  let got: string | undefined;
  wf.setHandler(state, () => phase);
  wf.setHandler(unblock, (v) => {
    got = v;
  });
  await acts.echo('x');
  phase = 'sleeping';
  await wf.sleep('300ms');
  phase = 'waiting for signal';
  await wf.condition(() => got !== undefined);
  phase = 'done';
  return `got ${got}`;
}

export async function longSleep(): Promise<number> {
  const start = Date.now();
  await wf.sleep('3 days');
  return Date.now() - start;
}
