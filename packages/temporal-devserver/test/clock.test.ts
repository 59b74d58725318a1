import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../src/clock.js';

const clock = (opts: { autoSkip?: boolean; idle?: () => boolean } = {}) =>
  new VirtualClock({
    autoSkip: opts.autoSkip ?? false,
    timeSkipping: true,
    isIdle: opts.idle ?? (() => true),
    onSkip: () => {},
    onError: (e) => {
      throw e;
    },
  });

describe('virtual clock', () => {
  it('fires timers in order of their virtual time when skipping', async () => {
    const c = clock({ autoSkip: true });
    const fired: string[] = [];
    const start = c.now();
    c.set('b', start + 2 * 86_400_000, () => fired.push('b'));
    c.set('a', start + 86_400_000, () => fired.push('a'));
    c.set('c', start + 3 * 86_400_000, () => fired.push('c'));
    c.cancel('c');
    await new Promise((r) => setTimeout(r, 50));
    expect(fired).toEqual(['a', 'b']);
    expect(c.now() - start).toBeGreaterThanOrEqual(2 * 86_400_000);
    c.close();
  });

  it('does not skip while busy or locked', async () => {
    let idle = false;
    const c = clock({ idle: () => idle });
    let fired = false;
    c.set('t', c.now() + 3600_000, () => (fired = true));
    c.unlock(); // lock counter 1 → 0: skipping allowed, but the system is busy
    await new Promise((r) => setTimeout(r, 30));
    expect(fired).toBe(false);
    c.lock();
    idle = true;
    c.requestSkipCheck();
    await new Promise((r) => setTimeout(r, 30));
    expect(fired).toBe(false); // idle, but locked
    c.unlock();
    await new Promise((r) => setTimeout(r, 30));
    expect(fired).toBe(true);
    c.close();
  });

  it('fires in real time without skipping', async () => {
    const c = clock();
    const t0 = Date.now();
    await new Promise<void>((resolve) => c.set('t', c.now() + 100, resolve));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(95);
    c.close();
  });

  it("cancels a run's timers by prefix, and only those, whether or not others of its run already fired", async () => {
    const c = clock();
    const fired: string[] = [];
    const far = c.now() + 3600_000;
    for (const k of ['r1|act|5|timeout', 'r1|act|5|retry', 'r1|act|50|timeout', 'r1|wft', 'r2|act|5|timeout', 'r10|act|5|timeout']) c.set(k, far, () => fired.push(k));
    c.set('r1|soon', c.now(), () => fired.push('r1|soon'));
    await new Promise((r) => setTimeout(r, 30));
    expect(fired).toEqual(['r1|soon']);
    c.cancelPrefix('r1|act|5|');
    expect(['r1|act|5|timeout', 'r1|act|5|retry', 'r1|act|50|timeout', 'r1|wft', 'r2|act|5|timeout', 'r10|act|5|timeout'].map((k) => c.has(k))).toEqual([false, false, true, true, true, true]);
    c.cancelPrefix('r1|');
    expect(c.size).toBe(2);
    c.set('r1|again', far, () => undefined);
    expect(c.has('r1|again')).toBe(true);
    c.cancelPrefix('r');
    expect(c.size).toBe(0);
    c.close();
  });
});
