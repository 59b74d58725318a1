/** Bad input never crashes the server: unknown RPCs, undecodable bytes, missing fields; long polls end on shutdown. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Connection } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { startDevServer } from '@mostro/temporal-devserver';
import { realServerAddress } from '../helpers/temporal.js';

const raw = (address: string) => new grpc.Client(address, grpc.credentials.createInsecure());

function call(client: grpc.Client, method: string, body: Buffer): Promise<{ code: number; details: string }> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      method,
      (b: Buffer) => b,
      (b: Buffer) => b,
      body,
      (err) => resolve({ code: err?.code ?? 0, details: err?.details ?? '' }),
    );
  });
}

describe.skipIf(realServerAddress)('robustness', () => {
  it('answers UNIMPLEMENTED for RPCs it does not implement, and keeps serving', async () => {
    const server = await startDevServer({ log: 'silent' });
    const client = raw(server.address);
    try {
      const res = await call(client, '/temporal.api.workflowservice.v1.WorkflowService/CreateSchedule', Buffer.alloc(0));
      expect(res.code).toBe(grpc.status.UNIMPLEMENTED);
      expect(res.details).toMatch(/CreateSchedule is not implemented/);
      expect(server.unimplementedCalls).toEqual(['WorkflowService/CreateSchedule']);
      const unknown = await call(client, '/temporal.api.workflowservice.v1.WorkflowService/NoSuchMethod', Buffer.alloc(0));
      expect(unknown.code).toBe(grpc.status.UNIMPLEMENTED);
      const ok = await call(client, '/temporal.api.workflowservice.v1.WorkflowService/GetSystemInfo', Buffer.alloc(0));
      expect(ok.code).toBe(0);
    } finally {
      client.close();
      await server.close();
    }
  });

  it('answers INVALID_ARGUMENT for undecodable requests and missing required fields', async () => {
    const server = await startDevServer({ log: 'silent' });
    const client = raw(server.address);
    const connection = await Connection.connect({ address: server.address });
    try {
      const garbage = await call(
        client,
        '/temporal.api.workflowservice.v1.WorkflowService/StartWorkflowExecution',
        Buffer.from([0x08, 0xff]), // a varint cut off mid-way
      );
      expect(garbage.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(garbage.details).toMatch(/malformed request/);
      const noId = await connection.workflowService
        .startWorkflowExecution({ namespace: 'default', workflowType: { name: 'x' }, taskQueue: { name: 'q' } })
        .catch((e: { code: number; details: string }) => e);
      expect(noId).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: 'workflowId is required' });
      const noNs = await connection.workflowService
        .describeWorkflowExecution({ namespace: 'nope', execution: { workflowId: 'x' } })
        .catch((e: { code: number; details: string }) => e);
      expect(noNs).toMatchObject({ code: grpc.status.NOT_FOUND, details: 'namespace nope is not found' });
      const badToken = await connection.workflowService
        .respondActivityTaskCompleted({ taskToken: Buffer.from('not a token') })
        .catch((e: { code: number; details: string }) => e);
      expect(badToken).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: 'malformed task token' });
      // Still healthy.
      const info = await connection.workflowService.getSystemInfo({});
      expect(info.serverVersion).toMatch(/embedded/);
    } finally {
      client.close();
      await connection.close();
      await server.close();
    }
  });

  it('ends parked long polls promptly on shutdown', async () => {
    const server = await startDevServer({ log: 'silent' });
    const connection = await Connection.connect({ address: server.address });
    try {
      const poll = connection.withDeadline(Date.now() + 70_000, () =>
        connection.workflowService.pollWorkflowTaskQueue({ namespace: 'default', taskQueue: { name: 'idle' }, identity: 't' }),
      );
      const history = connection.workflowService.getWorkflowExecutionHistory({
        namespace: 'default',
        execution: { workflowId: (await connection.workflowService.startWorkflowExecution({
          namespace: 'default',
          workflowId: 'w',
          workflowType: { name: 'x' },
          taskQueue: { name: 'elsewhere' },
        })) && 'w' },
        waitNewEvent: true,
        historyEventFilterType: 2, // CLOSE_EVENT
      });
      await new Promise((r) => setTimeout(r, 100));
      const t0 = Date.now();
      await server.close();
      const [p] = await Promise.allSettled([poll, history]);
      expect(p.status).toBe('fulfilled');
      expect(Date.now() - t0).toBeLessThan(15_000); // not the long polls' own timeouts (20 s and 50 s)
    } finally {
      await connection.close();
    }
  });
});

describe.skipIf(realServerAddress)('retention', () => {
  it('deletes closed workflows after the retention period and keeps running ones', async () => {
    const server = await startDevServer({ log: 'silent', retentionMs: 3600_000 });
    const connection = await Connection.connect({ address: server.address });
    try {
      const start = (workflowId: string) =>
        connection.workflowService.startWorkflowExecution({
          namespace: 'default',
          workflowId,
          workflowType: { name: 'x' },
          taskQueue: { name: 'nobody' },
        });
      await start('closed');
      await start('open');
      await connection.workflowService.terminateWorkflowExecution({ namespace: 'default', workflowExecution: { workflowId: 'closed' } });
      expect(server.engine.sweepRetention()).toBe(0); // not old enough yet
      server.engine.clock.offset += 2 * 3600_000;
      expect(server.engine.sweepRetention()).toBe(1);
      const gone = await connection.workflowService
        .describeWorkflowExecution({ namespace: 'default', execution: { workflowId: 'closed' } })
        .catch((e: { code: number }) => e);
      expect(gone).toMatchObject({ code: grpc.status.NOT_FOUND });
      const open = await connection.workflowService.describeWorkflowExecution({ namespace: 'default', execution: { workflowId: 'open' } });
      expect(open.workflowExecutionInfo?.execution?.workflowId).toBe('open');
    } finally {
      await connection.close();
      await server.close();
    }
  });
});

describe.skipIf(realServerAddress)('every RPC on an empty request', () => {
  it('answers each with a gRPC status other than INTERNAL and stays up', async () => {
    const server = await startDevServer({ log: 'silent', pollTimeoutMs: 200, historyLongPollMs: 200 });
    const client = raw(server.address);
    try {
      const { loadServices } = await import('@mostro/temporal-devserver');
      const services = loadServices();
      const results: Record<string, number> = {};
      for (const [svc, def] of Object.entries(services)) {
        for (const m of Object.values(def as grpc.ServiceDefinition)) {
          const res = await call(client, m.path, Buffer.alloc(0));
          results[`${svc}${m.path}`] = res.code;
        }
      }
      const internal = Object.entries(results).filter(([, code]) => code === grpc.status.INTERNAL);
      expect(internal).toEqual([]);
      expect(Object.keys(results).length).toBeGreaterThan(130);
      const ok = await call(client, '/temporal.api.workflowservice.v1.WorkflowService/GetSystemInfo', Buffer.alloc(0));
      expect(ok.code).toBe(0);
    } finally {
      client.close();
      await server.close();
    }
  });
});

describe.skipIf(realServerAddress)('data directory', () => {
  it('refuses a second server on a directory in use, naming the owner', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tdev-lock-'));
    const first = await startDevServer({ log: 'silent', dataDir: dir });
    try {
      await expect(startDevServer({ log: 'silent', dataDir: dir })).rejects.toThrow(`data directory ${dir} is in use by another process (pid ${process.pid})`);
    } finally {
      await first.close();
    }
    // Released on close: the directory opens again.
    await (await startDevServer({ log: 'silent', dataDir: dir })).close();
  });

  it('compacts its log into snapshots and recovers from a crash image taken at any time', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tdev-compact-'));
    const server = await startDevServer({ log: 'silent', dataDir: dir, compactBytes: 8 * 1024, fsync: false });
    const connection = await Connection.connect({ address: server.address });
    const image = fs.mkdtempSync(path.join(os.tmpdir(), 'tdev-image-'));
    try {
      for (let i = 0; i < 40; i++) {
        await connection.workflowService.startWorkflowExecution({
          namespace: 'default',
          workflowId: `w${i}`,
          workflowType: { name: 'x' },
          taskQueue: { name: 'nobody' },
        });
        if (i % 3 === 0) {
          await connection.workflowService.terminateWorkflowExecution({ namespace: 'default', workflowExecution: { workflowId: `w${i}` } });
        }
      }
      const files = fs.readdirSync(dir);
      expect(files).toContain('snapshot.json');
      expect(files.some((f) => /^log-[1-9]\d*\.jsonl$/.test(f))).toBe(true); // at least one compaction happened
      // What a SIGKILL leaves behind: the files as they are now, without the clean-shutdown snapshot.
      for (const f of files) fs.copyFileSync(path.join(dir, f), path.join(image, f));
    } finally {
      await connection.close();
      await server.close();
    }
    const recovered = await startDevServer({ log: 'silent', dataDir: image });
    const c2 = await Connection.connect({ address: recovered.address });
    try {
      const count = await c2.workflowService.countWorkflowExecutions({ namespace: 'default', query: '' });
      expect(Number(count.count)).toBe(40);
      const running = await c2.workflowService.countWorkflowExecutions({ namespace: 'default', query: `ExecutionStatus = 'Running'` });
      expect(Number(running.count)).toBe(26);
    } finally {
      await c2.close();
      await recovered.close();
    }
  });
});
