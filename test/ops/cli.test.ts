/** The `mostro` command line: usage, bad input answered with exit code 2 and what is wrong, `temporal:dev`. */
import { describe, expect, it } from 'vitest';
import { spawnTs } from '../../support/process.js';

describe('mostro command line', () => {
  it('lists every command on --help', async () => {
    const p = spawnTs('src/main.ts', ['--help']);
    expect(await p.exited).toBe(0);
    for (const c of ['start', 'worker', 'ingress', 'temporal:dev', 'admin', '--data-dir', '--config', '--ephemeral-ports']) expect(p.output()).toContain(c);
  });

  // Three cold starts of the CLI (tsx loads the whole daemon): seconds each on an idle machine, tens of seconds on a
  // loaded one.
  it('answers an unknown command, an unknown option and a bad settings file with exit code 2', { timeout: 180_000 }, async () => {
    const unknown = spawnTs('src/main.ts', ['trade']);
    expect(await unknown.exited).toBe(2);
    expect(unknown.output()).toContain('Unknown command "trade"');
    const option = spawnTs('src/main.ts', ['start', '--colour']);
    expect(await option.exited).toBe(2);
    expect(option.output()).toMatch(/Unknown option '--colour'/);
    const config = spawnTs('src/main.ts', ['start', '--config', '/nonexistent/settings.toml']);
    expect(await config.exited).toBe(2);
    expect(config.output()).toContain('mostro: invalid configuration:\n  /nonexistent/settings.toml: no such file');
  });

  it('temporal:dev runs the embedded server alone until SIGTERM', async () => {
    const p = spawnTs('src/main.ts', ['temporal:dev', '--port', '0']);
    expect(await p.line('address', 30_000)).toMatch(/^127\.0\.0\.1:\d+$/);
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
  });
});
