/**
 * Conformance against the reference, side by side (issue 17): the scenarios of ./scenarios.ts run once against
 * mostrod (crates.io `mostro` 0.18.8, the newest release on mostro-core 0.14) and once against this daemon, on the
 * same relay, Lightning network and settings. Every message each party receives is recorded and the two transcripts
 * are compared message by message: action, request id, trade index, id and every payload field, in order. A
 * difference fails the suite unless docs/conformance.md allows it, with its reason.
 *
 * Skipped (with the reason) when mostrod is not built (scripts/tools.sh install mostrod); under CI=true that is a
 * failure instead. `CONFORMANCE_REPORT=<file>` writes both transcripts and the differences to `<file>.<transport>`.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Transport } from '@mostro/protocol';
import { installHint, tool } from '../../src/tools.js';
import { compare, startMostrod, startThisDaemon, startWorld, Transcript, type DaemonUnderTest, type Entry, type World } from '../helpers/conformance.js';
import { SCENARIOS } from './scenarios.js';

const mostrod = tool('mostrod');
if (!mostrod.installed && process.env.CI === 'true') throw new Error(`CI: the conformance suite needs mostrod. ${installHint(mostrod)}`);

/** The allowed differences: the `conformance-allow` block of docs/conformance.md, `scenario party action path — reason`. */
function allowList(): { pattern: RegExp; reason: string; line: string }[] {
  const doc = fs.readFileSync(new URL('../../docs/conformance.md', import.meta.url), 'utf8');
  const block = /```conformance-allow\n([\s\S]*?)```/.exec(doc)?.[1] ?? '';
  return block
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((line) => {
      const [spec, reason] = line.split(/\s+—\s+/);
      if (!spec || !reason) throw new Error(`docs/conformance.md: an allowed difference needs a reason after " — ": ${line}`);
      const glob = spec.trim().split(/\s+/).map((w) => w.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')).join(' ');
      return { pattern: new RegExp(`^${glob}$`), reason, line };
    });
}

describe('the transcript comparison', () => {
  const e = (to: string, action: string, payload: unknown = null): Entry => ({ to, action, request_id: '1', trade_index: null, id: '<id1>', payload });
  it('notices a changed field, a missing message and another order of messages', () => {
    const ref = [e('seller#1', 'new-order', { order: { amount: 1 } }), e('seller#1', 'rate'), e('buyer#1', 'released'), e('buyer#1', 'purchase-completed')];
    expect(compare('s', ref, ref)).toEqual([]);
    expect(compare('s', ref, [e('seller#1', 'new-order', { order: { amount: 2 } }), ...ref.slice(1)])).toEqual(['s seller#1 new-order payload.order.amount: mostrod 1 | this daemon 2']);
    expect(compare('s', ref, ref.slice(0, 3))).toEqual(['s buyer#1 purchase-completed #1: mostrod purchase-completed | this daemon (nothing)']);
    expect(compare('s', ref, [...ref.slice(0, 2), ref[3]!, ref[2]!])).toHaveLength(2);
  });
});

/**
 * Protocol v2 (`nip44`, both daemons' default) with every scenario; protocol v1 (`gift-wrap`, opt-in in mostrod 0.18
 * and removed in 0.19) with the ones whose messages differ most between the transports' clients.
 */
const RUNS: { transport: Transport; scenarios: typeof SCENARIOS }[] = [
  { transport: 'nip44', scenarios: SCENARIOS },
  { transport: 'gift-wrap', scenarios: SCENARIOS.filter((s) => ['sell', 'dispute settled by the admin', 'bad input'].includes(s.name)) },
];

describe.skipIf(!mostrod.installed).each(RUNS)(`conformance with mostrod ${mostrod.version} on $transport${mostrod.installed ? '' : ` (skipped: ${installHint(mostrod)})`}`, ({ transport, scenarios }) => {
  let world: World;
  let ref: DaemonUnderTest;
  let ours: DaemonUnderTest;
  const report: string[] = [];

  beforeAll(async () => {
    world = await startWorld();
    [ref, ours] = await Promise.all([startMostrod(world, transport), startThisDaemon(world, transport)]);
  }, 300_000);
  afterAll(async () => {
    await ref?.stop();
    await ours?.stop();
    await world?.close();
    if (process.env.CONFORMANCE_REPORT) fs.writeFileSync(`${process.env.CONFORMANCE_REPORT}.${transport}`, report.join('\n'));
  }, 60_000);

  async function transcriptOf(daemon: DaemonUnderTest, run: (t: Transcript, w: World) => Promise<void>): Promise<Entry[]> {
    const t = new Transcript(world, daemon);
    try {
      await run(t, world);
      // Anything still on its way (a rating invitation after the last reply, …).
      await new Promise((r) => setTimeout(r, 1500));
      return t.entries();
    } catch (err) {
      throw new Error(`${daemon.name}: ${(err as Error).message}\nreceived so far:\n${t.entries().map((e) => JSON.stringify(e)).join('\n')}\n--- ${daemon.name} output ---\n${daemon.output().slice(-6000)}`);
    } finally {
      t.close();
    }
  }

  it.each(scenarios.map((s) => [s.name, s] as const))('%s: the same messages from both daemons', async (_name, s) => {
    const a = await transcriptOf(ref, s.run);
    const b = await transcriptOf(ours, s.run);
    const allowed = allowList();
    const diffs = compare(transport === 'nip44' ? s.name : `${s.name} (gift-wrap)`, a, b);
    const unexplained = diffs.filter((d) => !allowed.some((x) => x.pattern.test(d.split(':')[0]!)));
    report.push(`## ${s.name}`, '### mostrod', ...a.map((e) => JSON.stringify(e)), '### this daemon', ...b.map((e) => JSON.stringify(e)), '### differences', ...diffs, '');
    expect(unexplained, `differences not in docs/conformance.md:\n${unexplained.join('\n')}`).toEqual([]);
    // Each party heard something in every scenario (a transcript of silence would compare equal).
    expect(a.length).toBeGreaterThan(0);
  }, 240_000);
});
