/**
 * The ingress's fairness primitives, judged by order, never by timing: a sender with one message waiting is served
 * within one round of a backlog from many senders; a flooding sender cannot hold more than its share; the priority
 * classes; per-key rate limits with bounded memory.
 */
import { describe, expect, it } from 'vitest';
import { FairQueue, TokenBuckets } from '../../src/ingress/fair-queue.js';

/** Pops and finishes every item, returning them in service order. */
function drain<T>(q: FairQueue<T>, maxClass?: number): T[] {
  const out: T[] = [];
  for (let next = q.pop(maxClass); next; next = q.pop(maxClass)) {
    out.push(next.item);
    q.done(next.sender);
  }
  return out;
}

describe('FairQueue', () => {
  it('serves a sender with one message within one round of a backlog from a hundred senders', () => {
    const q = new FairQueue<string>({ perSender: 16, total: 5000 });
    for (let i = 0; i < 10; i++) for (let k = 0; k < 100; k++) q.push(`hostile-${k}`, `hostile-${k}/${i}`);
    q.push('honest', 'honest');
    const order = drain(q);
    expect(order).toHaveLength(1001);
    // One item per sender per round: the honest message is the 101st at the latest, ahead of 900 hostile ones.
    expect(order.indexOf('honest')).toBeLessThanOrEqual(100);
  });

  it('keeps each sender’s messages in order and never hands out two of them at once', () => {
    const q = new FairQueue<string>({ perSender: 16, total: 100 });
    for (let i = 0; i < 5; i++) {
      q.push('a', `a${i}`);
      q.push('b', `b${i}`);
    }
    const first = q.pop()!;
    const second = q.pop()!;
    expect([first.item, second.item]).toEqual(['a0', 'b0']);
    expect(q.pop()).toBeUndefined(); // both senders are busy
    q.done('a');
    expect(q.pop()!.item).toBe('a1');
    q.done('b');
    q.done('a');
    expect(drain(q)).toEqual(['b1', 'a2', 'b2', 'a3', 'b3', 'a4', 'b4']);
  });

  it('refuses a flooding sender beyond its share', () => {
    const q = new FairQueue<number>({ perSender: 16, total: 5000 });
    const accepted = Array.from({ length: 300 }, (_, i) => q.push('flood', i).accepted).filter(Boolean).length;
    expect(accepted).toBe(16);
    expect(q.push('someone-else', 0).accepted).toBe(true);
  });

  it('when full, takes the newest message of the longest backlog rather than refuse a sender with less waiting', () => {
    const q = new FairQueue<string>({ perSender: 50, total: 60 });
    for (let i = 0; i < 50; i++) q.push('big', `big${i}`);
    for (let i = 0; i < 10; i++) q.push('small', `small${i}`);
    const r = q.push('newcomer', 'newcomer');
    expect(r).toEqual({ accepted: true, evicted: 'big49' });
    expect(q.size).toBe(60);
    // A sender that would have as many waiting as the longest does not push anyone out.
    const even = new FairQueue<string>({ perSender: 10, total: 4 });
    even.push('x', 'x0');
    even.push('x', 'x1');
    even.push('y', 'y0');
    even.push('y', 'y1');
    expect(even.push('y', 'y2')).toEqual({ accepted: false });
    // Work pushed with `force` (a catch-up, paced by its caller) is never evicted.
    const pinned = new FairQueue<string>({ perSender: 10, total: 2 });
    pinned.push('c', 'c0', 0, true);
    pinned.push('c', 'c1', 0, true);
    expect(pinned.push('d', 'd0')).toEqual({ accepted: false });
  });

  it('serves a class only when the classes before it have nothing waiting; a sender is in its head item’s class', () => {
    const q = new FairQueue<string>({ perSender: 16, total: 1000, classes: 3 });
    for (let k = 0; k < 20; k++) q.push(`doomed-${k}`, `doomed-${k}`, 2);
    for (let k = 0; k < 5; k++) q.push(`normal-${k}`, `normal-${k}`, 1);
    q.push('trade', 'trade', 0);
    // A cap below the last class: nothing of it is handed out.
    const upToNormal = drain(q, 1);
    expect(upToNormal).toEqual(['trade', 'normal-0', 'normal-1', 'normal-2', 'normal-3', 'normal-4']);
    q.push('late', 'late', 1);
    const rest = drain(q);
    expect(rest[0]).toBe('late');
    expect(rest).toHaveLength(21);
    // One sender whose head is doomed and whose next message is not: it stays in order.
    const mixed = new FairQueue<string>({ perSender: 16, total: 100, classes: 3 });
    mixed.push('m', 'm-doomed', 2);
    mixed.push('m', 'm-normal', 1);
    mixed.push('other', 'other', 1);
    expect(drain(mixed)).toEqual(['other', 'm-doomed', 'm-normal']);
  });
});

describe('TokenBuckets', () => {
  it('allows a burst, then the steady rate, per key', () => {
    let now = 0;
    const b = new TokenBuckets({ burst: 3, perSecond: 2 }, () => now);
    expect([b.take('k'), b.take('k'), b.take('k'), b.take('k')]).toEqual([true, true, true, false]);
    expect(b.take('other')).toBe(true);
    expect(b.has('k')).toBe(false);
    now += 500; // one token back
    expect(b.has('k')).toBe(true);
    expect([b.take('k'), b.take('k')]).toEqual([true, false]);
    now += 10_000; // never more than the burst
    expect([b.take('k'), b.take('k'), b.take('k'), b.take('k')]).toEqual([true, true, true, false]);
  });

  it('remembers a bounded number of keys, forgetting refilled ones first', () => {
    let now = 0;
    const b = new TokenBuckets({ burst: 2, perSecond: 1, maxKeys: 100 }, () => now);
    for (let i = 0; i < 100; i++) b.take(`old-${i}`);
    now += 5_000; // every old bucket has refilled: forgetting them loses nothing
    b.take('flooder');
    b.take('flooder');
    expect(b.size).toBe(1);
    expect(b.take('flooder')).toBe(false);
    for (let i = 0; i < 10_000; i++) b.take(`storm-${i}`);
    expect(b.size).toBeLessThanOrEqual(100);
  });
});
