/**
 * Our patches of pinned dependencies (scripts/patch-dependencies.mjs, run by `npm install`) are all in place. After a
 * dependency upgrade the script leaves a patch it no longer fits unapplied (and says why): this fails until the patch
 * is rewritten for the new version or dropped.
 */
import { execFileSync } from 'node:child_process';
import { expect, it } from 'vitest';

it('every dependency patch is applied to the installed packages', () => {
  let out = '';
  try {
    out = execFileSync(process.execPath, ['scripts/patch-dependencies.mjs', '--check'], { encoding: 'utf8', stdio: 'pipe' });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string };
    out = `${e.stdout ?? ''}${e.stderr ?? ''}`;
    expect.fail(out);
  }
  expect(out).toBe('');
});
