/**
 * A throwaway PostgreSQL cluster from the Debian binaries (toolchain.md §4): initdb into a temporary directory,
 * started on a free port on 127.0.0.1 with fsync off. Used by the test setup when DATABASE_URL is not given.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { freePort } from '../src/free-port.js';

function pgBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root) ? fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, 'bin', 'initdb'))) : [];
  if (versions.length === 0) {
    throw new Error(
      'PostgreSQL server binaries not found under /usr/lib/postgresql: install them (apt-get install postgresql) or set DATABASE_URL',
    );
  }
  versions.sort((a, b) => Number(a) - Number(b));
  return path.join(root, versions[versions.length - 1]!, 'bin');
}


export async function startThrowawayPostgres(): Promise<{ url: string; stop(): Promise<void> }> {
  const bin = pgBin();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mostro-pg-'));
  const data = path.join(dir, 'data');
  const port = await freePort();
  const asRoot = process.getuid?.() === 0;
  // initdb refuses to run as root: run the server tools as the postgres user then.
  const run = (cmd: string, args: string[]) => {
    if (asRoot) {
      execFileSync('su', ['postgres', '-c', [path.join(bin, cmd), ...args].map((a) => `'${a}'`).join(' ')], { stdio: 'pipe' });
    } else {
      execFileSync(path.join(bin, cmd), args, { stdio: 'pipe' });
    }
  };
  fs.chmodSync(dir, 0o777);
  if (asRoot) execFileSync('chown', ['postgres:postgres', dir]);
  run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8']);
  run('pg_ctl', [
    '-D', data, '-l', path.join(dir, 'server.log'), '-w', '-o',
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off`,
    'start',
  ]);
  return {
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    stop: async () => {
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** True when PostgreSQL server binaries are installed. */
export function haveServerBinaries(): boolean {
  try {
    pgBin();
    return true;
  } catch {
    return false;
  }
}

/** A new, empty database on the server of `baseUrl`; every test file gets its own. */
export async function freshDatabaseUrl(baseUrl: string): Promise<string> {
  const name = `t_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  const client = new pg.Client({ connectionString: baseUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const u = new URL(baseUrl);
  u.pathname = `/${name}`;
  return u.toString();
}
