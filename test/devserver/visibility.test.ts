/**
 * Search attributes and the visibility queries support staff type into the Web UI: registration through the
 * OperatorService, upserts from workflow code, ListWorkflowExecutions / CountWorkflowExecutions with the query
 * subset, and clear INVALID_ARGUMENT answers for bad queries.
 */
import { describe, expect, it, beforeAll } from 'vitest';
import { registerSearchAttributes } from '../../src/temporal/connect.js';
import { realServerAddress, uid, visibilitySettled } from '../helpers/temporal.js';
import { useHarness } from './harness.js';

const h = useHarness();
const tag = uid('vis');
const ids: string[] = [];

async function list(where: string, orderBy = ''): Promise<string[]> {
  const out: string[] = [];
  for await (const w of h.env.client.workflow.list({ query: `(${where}) AND WorkflowId STARTS_WITH '${tag}' ${orderBy}` })) {
    out.push(w.workflowId);
  }
  return out;
}

beforeAll(async () => {
  await registerSearchAttributes(h.env.connection, h.env.namespace, { OrderStatus: 'Keyword', Amount: 'Int', Deadline: 'Datetime' });
  for (let i = 0; i < 4; i++) {
    const id = `${tag}-${i}`;
    ids.push(id);
    await h.env.client.workflow.start('statusTracker', { taskQueue: h.taskQueue, workflowId: id, args: [(i + 1) * 100] });
    await new Promise((r) => setTimeout(r, 5)); // distinct start times for ORDER BY
  }
  // Move #1 to 'active' and finish #3.
  await h.env.client.workflow.getHandle(ids[1]!).signal('advance', 'active');
  await h.env.client.workflow.getHandle(ids[3]!).signal('advance', 'success');
  await h.env.client.workflow.getHandle(ids[3]!).result();
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
    if ((await h.env.client.workflow.getHandle(ids[1]!).query('state')) === 'active') break;
    await new Promise((r) => setTimeout(r, 10));
  }
  await visibilitySettled();
});

describe('search attributes', () => {
  it('lists registered custom attributes through the OperatorService', async () => {
    const res = await h.env.connection.operatorService.listSearchAttributes({ namespace: h.env.namespace });
    expect(Object.keys(res.customAttributes ?? {})).toEqual(expect.arrayContaining(['OrderStatus', 'Amount', 'Deadline']));
    expect(Object.keys(res.systemAttributes ?? {})).toEqual(expect.arrayContaining(['WorkflowType', 'ExecutionStatus', 'StartTime']));
  });

  it('shows upserted attributes and memo in describe', async () => {
    const d = await h.env.client.workflow.getHandle(ids[1]!).describe();
    expect(d.searchAttributes.OrderStatus).toEqual(['active']);
    expect(d.searchAttributes.Amount).toEqual([200]);
    expect(d.memo).toEqual({ lastStatus: 'active' });
  });
});

describe('list and count', () => {
  it('filters with =, !=, IN and STARTS_WITH on keyword attributes', async () => {
    expect(await list(`OrderStatus = 'active'`)).toEqual([ids[1]]);
    expect((await list(`OrderStatus != 'pending'`)).sort()).toEqual([ids[1], ids[3]].sort());
    expect((await list(`OrderStatus IN ('active', 'success')`)).sort()).toEqual([ids[1], ids[3]].sort());
    expect((await list(`WorkflowId STARTS_WITH '${tag}-2'`))).toEqual([ids[2]]);
  });

  it('compares Int and Datetime attributes with < and >', async () => {
    expect((await list(`Amount > 150 AND Amount < 350`)).sort()).toEqual([ids[1], ids[2]].sort());
    expect(await list(`Deadline < '2030-01-02T12:00:00Z'`)).toEqual([]);
    // Deadline day = amount % 28 + 1: 100→17, 200→5, 300→21, 400→9
    expect((await list(`Deadline < '2030-01-10T00:00:00Z'`)).sort()).toEqual([ids[1], ids[3]].sort());
  });

  it('filters on system attributes and combines with OR and parentheses', async () => {
    expect(await list(`ExecutionStatus = 'Completed'`)).toEqual([ids[3]]);
    expect((await list(`ExecutionStatus = 'Running' AND (OrderStatus = 'active' OR Amount = 100)`)).sort()).toEqual(
      [ids[0], ids[1]].sort(),
    );
    expect((await list(`WorkflowType = 'statusTracker'`)).length).toBe(4);
    const t = new Date(Date.now() - 3600_000).toISOString();
    expect((await list(`StartTime > '${t}'`)).length).toBe(4);
    // An open run's CloseTime compares as the far future (SQL visibility), and is also NULL.
    expect(await list(`CloseTime > '${t}' AND ExecutionStatus != 'Running'`)).toEqual([ids[3]]);
    expect((await list(`CloseTime > '${t}'`)).length).toBe(4);
    expect((await list(`CloseTime IS NULL`)).sort()).toEqual([ids[0], ids[1], ids[2]].sort());
  });

  // ORDER BY needs Elasticsearch on a real Temporal server (SQL visibility rejects it): embedded only.
  it.skipIf(realServerAddress)('orders results', async () => {
    expect(await list(`WorkflowType = 'statusTracker'`, 'ORDER BY Amount DESC')).toEqual([...ids].reverse());
    expect(await list(`WorkflowType = 'statusTracker'`, 'ORDER BY StartTime ASC')).toEqual(ids);
    expect(await list(`WorkflowType = 'statusTracker'`, 'ORDER BY OrderStatus ASC, Amount DESC')).toEqual([
      ids[1],
      ids[2],
      ids[0],
      ids[3],
    ]);
  });

  it('counts executions, grouped by status', async () => {
    const c = await h.env.client.workflow.count(`WorkflowId STARTS_WITH '${tag}'`);
    expect(c.count).toBe(4);
    const g = await h.env.client.workflow.count(`WorkflowId STARTS_WITH '${tag}' GROUP BY ExecutionStatus`);
    const groups = Object.fromEntries(g.groups.map((x) => [String(x.groupValues[0]), x.count]));
    expect(groups).toEqual({ Running: 3, Completed: 1 });
  });

  it('pages through results', async () => {
    const res = await h.env.connection.workflowService.listWorkflowExecutions({
      namespace: h.env.namespace,
      query: `WorkflowId STARTS_WITH '${tag}'`,
      pageSize: 3,
    });
    expect(res.executions).toHaveLength(3);
    const next = await h.env.connection.workflowService.listWorkflowExecutions({
      namespace: h.env.namespace,
      query: `WorkflowId STARTS_WITH '${tag}'`,
      pageSize: 3,
      nextPageToken: res.nextPageToken,
    });
    expect(next.executions).toHaveLength(1);
    expect(next.nextPageToken?.length ?? 0).toBe(0);
  });

  it('answers INVALID_ARGUMENT with a clear message for a bad query', async () => {
    const bad = async (query: string) => {
      const err = await h.env.connection.workflowService
        .listWorkflowExecutions({ namespace: h.env.namespace, query })
        .catch((e: unknown) => e);
      expect((err as { code: number }).code).toBe(3);
      // A real server words its messages differently; the code is what clients rely on.
      return realServerAddress ? '' : String((err as Error).message);
    };
    if (realServerAddress) return void (await Promise.all([bad(`NoSuchField = 'x'`), bad(`(OrderStatus = 'a'`)]));
    expect(await bad(`NoSuchField = 'x'`)).toMatch(/unknown search attribute "NoSuchField"/);
    expect(await bad(`OrderStatus = `)).toMatch(/expected a value/);
    expect(await bad(`Amount > 'lots'`)).toMatch(/Amount expects a number/);
    expect(await bad(`ExecutionStatus = 'Sleeping'`)).toMatch(/unknown ExecutionStatus/);
    expect(await bad(`(OrderStatus = 'a'`)).toMatch(/expected "\)"/);
  });
});
