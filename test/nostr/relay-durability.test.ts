/**
 * The journaled local relay (the one `npm start` embeds) answers `OK` only once the event is on disk: a trader whose
 * message was acknowledged finds it again after the relay was killed, and — what a kill cannot show, since the page
 * cache survives it — the journal was `fdatasync`ed before the `OK` left, so it survives a power loss too. The
 * system calls of the relay process are read with strace.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { finalizeEvent, generateSecretKey } from 'nostr-tools/pure';
import { RelayPool, type RelayEvent } from '../../src/nostr/relay-pool.js';
import { repoRoot, spawnTs, type Spawned } from '../../support/process.js';

/** strace must exist and be allowed to trace (some containers forbid ptrace). `.ci/run` installs it. */
function straceWorks(): boolean {
  try {
    execFileSync('strace', ['-o', '/dev/null', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const procs: Spawned[] = [];
const traced: ReturnType<typeof spawn>[] = [];
afterEach(async () => {
  for (const p of procs.splice(0)) {
    if (p.child.exitCode === null && p.child.signalCode === null) {
      p.child.kill('SIGKILL');
      await p.exited;
    }
  }
  for (const c of traced.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

function startRelay(file: string): Spawned {
  const p = spawnTs('test/helpers/relay-main.ts', [file]);
  procs.push(p);
  return p;
}

/** The relay under strace; resolves with its URL and its pid (strace's child). */
async function startTracedRelay(file: string, trace: string): Promise<{ url: string; pid: number; exited: Promise<void> }> {
  const args = ['-f', '-qq', '-s', '400', '-e', 'trace=execve,write,writev,pwrite64,pwritev,fdatasync,fsync', '-o', trace];
  const child = spawn('strace', [...args, process.execPath, '--import', 'tsx', 'test/helpers/relay-main.ts', file], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  traced.push(child);
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`the traced relay did not start: ${out}`)), 60_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /^relay: (\S+)$/m.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
  });
  // strace's first line is the traced process starting: "<pid> execve(…".
  const pid = Number(/^(\d+) /.exec(fs.readFileSync(trace, 'utf8'))?.[1]);
  return { url, pid, exited };
}

async function storedEvents(url: string, filter: Record<string, unknown>): Promise<RelayEvent[]> {
  const pool = new RelayPool([url]);
  try {
    expect(await pool.ready(5000)).toBe(true);
    const got: RelayEvent[] = [];
    const sub = pool.subscribe({ filters: () => [filter], onEvent: (e) => void got.push(e as RelayEvent) });
    await new Promise((r) => setTimeout(r, 300));
    sub.close();
    return got;
  } finally {
    pool.close();
  }
}

describe.skipIf(!straceWorks())('journaled relay', () => {
  it('syncs the event to disk before it answers OK, and still has it after kill -9', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'relay-durable-'));
    const file = path.join(dir, 'relay-events.jsonl');
    const trace = path.join(dir, 'strace.log');
    const relay = await startTracedRelay(file, trace);
    const url = relay.url;

    const pool = new RelayPool([url]);
    const event = finalizeEvent({ kind: 14, created_at: Math.floor(Date.now() / 1000), tags: [['p', 'a'.repeat(64)]], content: 'release' }, generateSecretKey()) as RelayEvent;
    const published = await pool.publish(event);
    // The moment the OK arrives, the relay dies (strace then writes out what it saw and exits).
    process.kill(relay.pid, 'SIGKILL');
    pool.close();
    expect(published.accepted).toEqual([url]);
    await relay.exited;

    // strace escapes quotes: the OK frame reads ["OK","<id>",true,""] as [\"OK\",\"<id>\",true,…
    const lines = fs.readFileSync(trace, 'utf8').split('\n');
    const okAt = lines.findIndex((l) => l.includes(`OK\\",\\"${event.id}\\",true`));
    const journalAt = lines.findIndex((l) => l.includes(`\\"id\\":\\"${event.id}\\"`) && /\b(write|writev|pwrite64|pwritev)\(/.test(l));
    expect(okAt, 'the relay sent OK').toBeGreaterThanOrEqual(0);
    expect(journalAt, 'the relay wrote the event to its journal').toBeGreaterThanOrEqual(0);
    expect(journalAt).toBeLessThan(okAt);
    const fd = /\((\d+),/.exec(lines[journalAt]!)![1];
    const syncAt = lines.findIndex((l, i) => i > journalAt && new RegExp(`\\bf(data)?sync\\(${fd}\\b`).test(l));
    expect(syncAt, `no fdatasync of the journal (fd ${fd}) after the write`).toBeGreaterThan(journalAt);
    const tid = lines[syncAt]!.split(' ')[0];
    const syncDoneAt = / = 0$/.test(lines[syncAt]!)
      ? syncAt
      : lines.findIndex((l, i) => i > syncAt && l.startsWith(`${tid} `) && /<\.\.\. f(data)?sync resumed>.* = 0$/.test(l));
    expect(syncDoneAt, 'the sync completed').toBeGreaterThanOrEqual(syncAt);
    expect(syncDoneAt, 'the sync completed before the OK was sent').toBeLessThan(okAt);

    // And the acknowledged event is there after a restart on the same journal.
    const again = startRelay(file);
    const url2 = await again.line('relay', 60_000);
    expect((await storedEvents(url2, { ids: [event.id] })).map((e) => e.id)).toEqual([event.id]);
    fs.rmSync(dir, { recursive: true, force: true });
  }, 120_000);
});
