/**
 * What a complete sell trade costs in Temporal terms — the activities and workflow tasks its history holds — so a
 * change that adds round trips to every trade shows here, not only in a benchmark. Through the real stack (relay,
 * ingress, Temporal, worker, simulated LND, PostgreSQL or PGlite).
 *
 * `RECORD_ORDER_HISTORY=1` also writes the history to test/fixtures/order-history-local-activities.json, the fixture the
 * replay test (test/unit/order-replay.test.ts) runs against later code.
 */
import fs from 'node:fs';
import path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestDaemon, fiatSentTrade } from '../helpers/daemon.js';

let d: TestDaemon;
beforeAll(async () => {
  d = await TestDaemon.start();
});
afterAll(async () => {
  await d?.close();
});

describe('a complete sell trade’s history', () => {
  it('runs the taker’s checks and the escrow’s creation and settlement as local activities: 7 activities and at most 14 workflow tasks, not 11 and 16–17', async () => {
    const seller = d.trader('seller');
    const buyer = d.trader('buyer');
    const { id, invoice } = await fiatSentTrade(d, seller, buyer, 10_000);
    await seller.send(1, { action: 'release', id, tradeIndex: null });
    await buyer.next(1, 'purchase-completed');
    await d.waitForStatus(id, 'success');

    const history = await d.env.client.workflow.getHandle(`order-${id}`).fetchHistory();
    const events = history.events ?? [];
    const activities = events.map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name).filter(Boolean);
    for (const local of ['pendingOrderExists', 'validateInvoice', 'createHoldInvoice', 'settleHoldInvoice']) expect(activities).not.toContain(local);
    expect(activities).toEqual(expect.arrayContaining(['payInvoice', 'commitDecision']));
    // They ran, inside the workflow tasks that asked for them, recorded as markers.
    const markers = events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity');
    expect(markers).toHaveLength(4);
    // A payout slower than the workflow's 5-s wait (a loaded machine) adds its tracker: one activity, one or two tasks.
    const trackers = activities.filter((a) => a === 'trackPayment').length;
    expect(activities.length - trackers).toBe(7);
    // Tasks: one per message or LND report and one per activity result; two inputs arriving together share one (12
    // when LND's settled report comes with the commit's result; the code before took 16–17).
    const tasks = events.filter((e) => e.workflowTaskCompletedEventAttributes).length;
    expect(tasks).toBeLessThanOrEqual(14 + 2 * trackers);
    expect(d.net.payments.get(invoice.hash)).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });

    if (process.env.RECORD_ORDER_HISTORY) {
      fs.writeFileSync(path.resolve(import.meta.dirname, '../fixtures/order-history-local-activities.json'), `${JSON.stringify(JSON.parse(historyToJSON(history)), null, 2)}\n`);
    }
  }, 60_000);
});
