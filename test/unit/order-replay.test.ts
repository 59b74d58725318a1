/**
 * Running workflows survive code changes: a history recorded by the order workflow before a change replays against
 * today's code without a nondeterminism error (changes are guarded with `patched()`), and so does one recorded now.
 *
 * Fixtures: test/fixtures/order-history-*.json, a complete sell trade (new-order → take-sell with invoice → escrow →
 * fiat-sent → release → payout), each recorded by the code of its name's time; order-history-bonds.json, a sell order
 * under `apply_to = "both"` (maker bond, taker bond, dispute, admin-cancel slashing the buyer, linger, close) and
 * bond-payout-history.json, the payout of that slashed bond (request, the seller's invoice, payment);
 * order-history-local-activities.json (test/e2e/order-history-shape.test.ts records it with RECORD_ORDER_HISTORY=1);
 * order-history-payout-in-flight.json, a payout held in flight, rechecked on the 30-s clock, a new invoice refused.
 */
import fs from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { ORDER_WORKFLOWS_PATH } from '../helpers/order-worker.js';
import { workflowBundle } from '../helpers/temporal.js';

const fixture = (name: string) => historyFromJSON(JSON.parse(fs.readFileSync(path.resolve(import.meta.dirname, '../fixtures', name), 'utf8')));

describe('order workflow histories replay against the current code', () => {
  it.each([
    { name: 'before-one-commit', what: 'recorded before decisions were committed in one activity', has: 'projectOrder', lacks: 'commitDecision' },
    { name: 'one-commit', what: 'recorded with one commit per decision, the taker’s checks as activities', has: 'pendingOrderExists', lacks: 'projectOrder' },
    { name: 'local-activities', what: 'recorded by the current code (checks and the escrow’s calls as local activities)', has: 'commitDecision', lacks: 'createHoldInvoice' },
  ])('one $what', async ({ name, has, lacks }) => {
    const history = fixture(`order-history-${name}.json`);
    const types = (history.events ?? []).map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name).filter(Boolean);
    expect(types).toContain(has);
    expect(types).not.toContain(lacks);
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle(ORDER_WORKFLOWS_PATH) }, history, `order-${name}`);
  }, 60_000);

  it('one whose payout stayed in flight (rechecked every 30 s, a new invoice refused meanwhile) before the payout tracker', async () => {
    const history = fixture('order-history-payout-in-flight.json');
    const events = history.events ?? [];
    const types = events.map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name).filter(Boolean);
    expect(types.filter((t) => t === 'payInvoice')).toHaveLength(2);
    expect(types).not.toContain('trackPayment');
    expect(events.map((e) => e.workflowExecutionSignaledEventAttributes?.signalName)).toContain('add-invoice');
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle(ORDER_WORKFLOWS_PATH) }, history, 'order-payout-in-flight');
  }, 60_000);

  it('one with maker and taker bonds and a dispute slash, and the payout of the slashed bond', async () => {
    const bundle = { workflowBundle: await workflowBundle(ORDER_WORKFLOWS_PATH) };
    const order = fixture('order-history-bonds.json');
    const started = (h: typeof order) => h.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name;
    expect(started(order)).toBe('orderWorkflow');
    const signals = (order.events ?? []).map((e) => e.workflowExecutionSignaledEventAttributes?.signalName).filter(Boolean);
    expect(signals).toEqual(expect.arrayContaining(['hold-invoice-accepted', 'take-sell', 'dispute', 'admin-take-dispute', 'admin-cancel']));
    await Worker.runReplayHistory(bundle, order, 'order-bonds');
    const payout = fixture('bond-payout-history.json');
    expect(started(payout)).toBe('bondPayoutWorkflow');
    await Worker.runReplayHistory(bundle, payout, 'bond-payout');
  }, 60_000);
});
