import { ApplicationFailure, CompleteAsyncError, Context, sleep } from '@temporalio/activity';

export async function flaky(name: string): Promise<string> {
  const attempt = Context.current().info.attempt;
  if (attempt < 2) throw new Error(`transient failure on attempt ${attempt}`);
  return `hello ${name} (attempt ${attempt})`;
}

export async function echo(s: string): Promise<string> {
  return s;
}

/** Server time at which each attempt was scheduled, per key: lets tests check backoff intervals. */
export const attemptLog = new Map<string, { attempt: number; scheduledMs: number }[]>();

export async function failUntilAttempt(key: string, succeedOn: number, kind: string): Promise<string> {
  const info = Context.current().info;
  const log = attemptLog.get(key) ?? [];
  log.push({ attempt: info.attempt, scheduledMs: info.currentAttemptScheduledTimestampMs });
  attemptLog.set(key, log);
  if (info.attempt >= succeedOn) return `ok on attempt ${info.attempt}`;
  if (kind === 'nonRetryable') throw ApplicationFailure.create({ message: 'fatal', type: 'FatalError' });
  if (kind === 'nextRetryDelay') {
    throw ApplicationFailure.create({ message: 'slow down', type: 'RateLimited', nextRetryDelay: '2s' });
  }
  throw ApplicationFailure.create({ message: `failed attempt ${info.attempt}`, type: 'Transient' });
}

/** Sleeps past its start-to-close timeout on early attempts. */
export async function slowUntilAttempt(succeedOn: number, sleepMs: number): Promise<string> {
  const info = Context.current().info;
  if (info.attempt < succeedOn) await sleep(sleepMs);
  return `attempt ${info.attempt}`;
}

/** Heartbeats progress; on attempt 1 stops heartbeating after 2 beats so the heartbeat timeout fires. */
export async function resumable(): Promise<{ attempt: number; resumedFrom: number | undefined }> {
  const ctx = Context.current();
  const resumedFrom = ctx.info.heartbeatDetails as number | undefined;
  if (ctx.info.attempt === 1) {
    ctx.heartbeat(1);
    await sleep(50);
    ctx.heartbeat(2);
    await sleep(5000); // no more heartbeats: the server times this attempt out
  }
  return { attempt: ctx.info.attempt, resumedFrom };
}

export async function heartbeatUntilCancelled(): Promise<string> {
  const ctx = Context.current();
  for (;;) {
    ctx.heartbeat();
    try {
      await sleep(100);
    } catch (err) {
      cancelledActivities.push(ctx.info.activityId);
      throw err;
    }
  }
}
export const cancelledActivities: string[] = [];

export const asyncTokens = new Map<string, Uint8Array>();

export async function completeLater(key: string): Promise<string> {
  asyncTokens.set(key, Context.current().info.taskToken);
  throw new CompleteAsyncError();
}

/** Runs long on its first attempt (the server is killed meanwhile); later attempts return at once. */
export async function slowFirstAttempt(ms: number): Promise<number> {
  const info = Context.current().info;
  if (info.attempt === 1) await sleep(ms);
  return info.attempt;
}
