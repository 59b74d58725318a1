/**
 * The ingress journal on PostgreSQL and PGlite: what the ingress asks before admitting an event (seen? done?) and
 * records after, with the calls of one event-loop turn sharing one statement each — duplicates in a batch, a begin
 * after a finish, and batches larger than one statement's limit included.
 */
import { expect, it } from 'vitest';
import { DbIngressJournal } from '../../src/db/ingress-journal.js';
import { describeEachDatabase } from '../helpers/databases.js';

describeEachDatabase((database) => {
  it('answers null, admitting, then done; a repeated or late begin never takes done back', async () => {
    const j = new DbIngressJournal(database().prisma, 'f'.repeat(64));
    expect(await j.state('a1')).toBeNull();
    await Promise.all([j.begin('a1', 1_800_000_000), j.begin('a2', 1_800_000_001), j.begin('a1', 1_800_000_000)]);
    expect(await Promise.all(['a1', 'a2', 'a3'].map((id) => j.state(id)))).toEqual(['admitting', 'admitting', null]);
    // A finish without a begin (an event refused before admission) and the same event finished twice in one turn.
    await Promise.all([j.finish('a1', 1_800_000_000), j.finish('a1', 1_800_000_000), j.finish('a3', 1_800_000_002)]);
    await j.begin('a1', 1_800_000_000);
    expect(await Promise.all(['a1', 'a2', 'a3', 'a1'].map((id) => j.state(id)))).toEqual(['done', 'admitting', 'done', 'done']);
    expect(await j.prune(1_800_000_001)).toBe(1);
    expect(await j.state('a1')).toBeNull();
  });

  it('a flood: 1,200 events in one turn, each answered for itself', async () => {
    const j = new DbIngressJournal(database().prisma, 'e'.repeat(64));
    const ids = Array.from({ length: 1200 }, (_, i) => `f${i}`);
    await Promise.all(ids.map((id, i) => (i % 2 === 0 ? j.begin(id, 1_800_000_000 + i) : j.finish(id, 1_800_000_000 + i))));
    const states = await Promise.all(ids.map((id) => j.state(id)));
    expect(states.filter((s) => s === 'admitting')).toHaveLength(600);
    expect(states.filter((s) => s === 'done')).toHaveLength(600);
    expect(states[0]).toBe('admitting');
    expect(states[1]).toBe('done');
  });
});
