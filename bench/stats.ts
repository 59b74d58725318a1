/** Small measurement helpers shared by the benchmarks. */
import fs from 'node:fs';
import os from 'node:os';

/** Resident set size of a process, in MB (Linux /proc). */
export function rssMb(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}

/** The p-th percentile (nearest rank) of a sample. */
export function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

/** CPU time (user + system, all threads) a process has used so far, in seconds (Linux /proc, 100 ticks/s). */
export function cpuSecs(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** The line every benchmark starts with: what it ran on. */
export function machineLine(extra = ''): string {
  return `machine: ${os.cpus().length} × ${os.cpus()[0]?.model}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}${extra}`;
}

/**
 * CPU seconds per thread of a process so far, summed by thread name (Linux /proc/<pid>/task): the main thread,
 * Node's worker threads (the SDK's workflow threads, the intake's gates), libuv's pool, V8's helpers, the Temporal
 * core's tokio runtime. Threads that ended are not counted.
 */
export function cpuByThread(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let tasks: string[] = [];
  try {
    tasks = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tasks) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const secs = (Number(fields[11]) + Number(fields[12])) / 100;
      const key = tid === String(pid) ? `main (${name})` : name;
      out.set(key, (out.get(key) ?? 0) + secs);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}

/** The per-thread CPU used between two `cpuByThread` readings, in ms per unit (e.g. per trade), largest first. */
export function threadBreakdown(before: Map<string, number>, after: Map<string, number>, units: number): string {
  const rows = [...after].map(([k, v]) => [k, ((v - (before.get(k) ?? 0)) * 1000) / units] as const).filter(([, ms]) => ms >= 0.5);
  rows.sort((a, b) => b[1] - a[1]);
  return rows.map(([k, ms]) => `${k} ${ms.toFixed(1)}`).join(', ');
}
