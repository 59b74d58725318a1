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
