/**
 * Activity semantics on the embedded server: retry policy (intervals, backoff, maximum interval, maximum attempts,
 * non-retryable types, nextRetryDelay), timeouts (start-to-close, heartbeat, schedule-to-close), heartbeat details
 * carried to the next attempt, local activities, asynchronous completion.
 */
import { ActivityFailure, ApplicationFailure, TimeoutFailure, TimeoutType, RetryState } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { uid } from '../helpers/temporal.js';
import { attemptLog, asyncTokens } from './activities.js';
import { eventTypes, useHarness } from './harness.js';

const h = useHarness();

const activityFailureOf = (err: unknown): ActivityFailure => {
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const cause = (err as WorkflowFailedError).cause;
  expect(cause).toBeInstanceOf(ActivityFailure);
  return cause as ActivityFailure;
};

const run = (fn: string, options: object, ...args: unknown[]) =>
  h.env.client.workflow.execute('activityWithOptions', {
    taskQueue: h.taskQueue,
    workflowId: uid(fn),
    args: [fn, options, ...args],
  });

describe('retry policy', () => {
  it('backs off by initial interval × coefficient, capped at the maximum interval', async () => {
    const id = uid('backoff');
    const res = await h.env.client.workflow.execute('retryProbe', { taskQueue: h.taskQueue, workflowId: id, args: ['plain', 5] });
    expect(res.result).toBe('ok on attempt 5');
    const log = attemptLog.get(id)!;
    expect(log.map((l) => l.attempt)).toEqual([1, 2, 3, 4, 5]);
    const gaps = log.slice(1).map((l, i) => l.scheduledMs - log[i]!.scheduledMs);
    // 1 s initial, ×2, capped at 3 s — in server time. Each gap also holds the failed attempt's delivery, run and
    // report (a busy machine stretches those to hundreds of ms; the real server's timers add up to ~1 s), so the
    // lower bound is exact and the upper one is loose — still well short of the uncapped 4 s and 8 s.
    [1000, 2000, 3000, 3000].forEach((backoff, i) => {
      expect(gaps[i]).toBeGreaterThanOrEqual(backoff);
      expect(gaps[i]).toBeLessThan(backoff + 1500);
    });
  });

  it('stops at maximumAttempts with the last failure', async () => {
    const id = uid('maxattempts');
    const err = await h.env.client.workflow
      .execute('retryProbe', { taskQueue: h.taskQueue, workflowId: id, args: ['plain', 99] })
      .catch((e: unknown) => e);
    const af = activityFailureOf(err);
    expect(af.retryState).toBe(RetryState.MAXIMUM_ATTEMPTS_REACHED);
    expect((af.cause as ApplicationFailure).message).toBe('failed attempt 6');
    expect(attemptLog.get(id)!.length).toBe(6);
  });

  it('does not retry a non-retryable error type', async () => {
    const id = uid('nonretry');
    const err = await h.env.client.workflow
      .execute('retryProbe', { taskQueue: h.taskQueue, workflowId: id, args: ['nonRetryable', 3] })
      .catch((e: unknown) => e);
    const af = activityFailureOf(err);
    expect(af.retryState).toBe(RetryState.NON_RETRYABLE_FAILURE);
    expect((af.cause as ApplicationFailure).type).toBe('FatalError');
    expect(attemptLog.get(id)!.length).toBe(1);
  });

  it('honours nextRetryDelay from the failure', async () => {
    const id = uid('nextdelay');
    const res = await h.env.client.workflow.execute('retryProbe', { taskQueue: h.taskQueue, workflowId: id, args: ['nextRetryDelay', 2] });
    expect(res.result).toBe('ok on attempt 2');
    const [a, b] = attemptLog.get(id)!;
    expect(b!.scheduledMs - a!.scheduledMs).toBeGreaterThanOrEqual(2000);
    expect(b!.scheduledMs - a!.scheduledMs).toBeLessThan(2100);
  });
});

describe('timeouts and heartbeats', () => {
  it('retries an attempt that exceeds start-to-close', async () => {
    const res = await run('slowUntilAttempt', { startToCloseTimeout: '300ms', retry: { initialInterval: '10ms' } }, 2, 2000);
    expect(res).toBe('attempt 2');
  });

  it('fails with a start-to-close TimeoutFailure when retries are exhausted', async () => {
    const err = await run(
      'slowUntilAttempt',
      { startToCloseTimeout: '200ms', retry: { initialInterval: '10ms', maximumAttempts: 2 } },
      9,
      // Far beyond the timeout: a loaded real server has been seen to process a 200 ms timeout after a 1 s attempt
      // had already reported its result.
      5000,
    ).catch((e: unknown) => e);
    const af = activityFailureOf(err);
    expect(af.retryState).toBe(RetryState.MAXIMUM_ATTEMPTS_REACHED);
    expect(af.cause).toBeInstanceOf(TimeoutFailure);
    expect((af.cause as TimeoutFailure).timeoutType).toBe(TimeoutType.START_TO_CLOSE);
  });

  it('times out a silent attempt by heartbeat and hands its last details to the next attempt', async () => {
    const res = await run('resumable', {
      startToCloseTimeout: '30s',
      heartbeatTimeout: '500ms',
      retry: { initialInterval: '10ms' },
    });
    expect(res).toEqual({ attempt: 2, resumedFrom: 2 });
  });

  it('bounds all attempts by schedule-to-close', async () => {
    const err = await run(
      'slowUntilAttempt',
      { scheduleToCloseTimeout: '700ms', startToCloseTimeout: '300ms', retry: { initialInterval: '10ms' } },
      99,
      5000,
    ).catch((e: unknown) => e);
    const af = activityFailureOf(err);
    expect(af.cause).toBeInstanceOf(TimeoutFailure);
    expect([TimeoutType.SCHEDULE_TO_CLOSE, TimeoutType.START_TO_CLOSE]).toContain((af.cause as TimeoutFailure).timeoutType);
    expect(af.retryState).toBe(RetryState.TIMEOUT);
  });
});

describe('local and asynchronous activities', () => {
  it('records a local activity as a marker', async () => {
    const id = uid('local');
    expect(await h.env.client.workflow.execute('localActivity', { taskQueue: h.taskQueue, workflowId: id, args: ['la'] })).toBe('la');
    const types = await eventTypes(h.env, id);
    expect(types).toContain('MARKER_RECORDED');
    expect(types).not.toContain('ACTIVITY_TASK_SCHEDULED');
  });

  it('completes an activity asynchronously by task token and by id', async () => {
    const key = uid('async');
    const handle = await h.env.client.workflow.start('activityWithOptions', {
      taskQueue: h.taskQueue,
      workflowId: key,
      args: ['completeLater', { startToCloseTimeout: '1 hour', activityId: 'async-1' }, key],
    });
    for (let i = 0; i < 200 && !asyncTokens.has(key); i++) await new Promise((r) => setTimeout(r, 10));
    await h.env.client.activity.heartbeat(asyncTokens.get(key)!, 'still working');
    await h.env.client.activity.complete(asyncTokens.get(key)!, 'done by token');
    expect(await handle.result()).toBe('done by token');

    const key2 = uid('async');
    const handle2 = await h.env.client.workflow.start('activityWithOptions', {
      taskQueue: h.taskQueue,
      workflowId: key2,
      args: ['completeLater', { startToCloseTimeout: '1 hour', activityId: 'async-2' }, key2],
    });
    for (let i = 0; i < 200 && !asyncTokens.has(key2); i++) await new Promise((r) => setTimeout(r, 10));
    await h.env.client.activity.complete({ workflowId: key2, activityId: 'async-2' }, 'done by id');
    expect(await handle2.result()).toBe('done by id');
    // A second completion of the same activity is refused.
    await expect(h.env.client.activity.complete(asyncTokens.get(key2)!, 'twice')).rejects.toThrow();
  });
});
