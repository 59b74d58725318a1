/**
 * Our patches of pinned dependencies (scripts/patch-dependencies.mjs, run by `npm install`) are all in place. After a
 * dependency upgrade the script leaves a patch it no longer fits unapplied (and says why) without failing the install:
 * the first test then fails until the patch is rewritten for the new version or dropped.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';

interface Patch {
  name: string;
  package: string;
  version: string;
  file: string;
  find: string;
  replace: string;
}
const { PATCHES, applyPatch } = (await import('../../scripts/patch-dependencies.mjs' as string)) as {
  PATCHES: Patch[];
  applyPatch(p: Patch, o?: { write?: boolean; nodeModules?: string }): string;
};

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

it('applies each patch once to the version it was written for, and leaves another version or layout alone', () => {
  for (const p of PATCHES) {
    const installed = fs.readFileSync(path.join('node_modules', p.package, p.file), 'utf8');
    const original = installed.replace(p.replace, p.find); // the file as the registry ships it
    expect(original).not.toBe(installed);
    const nm = fs.mkdtempSync(path.join(os.tmpdir(), 'mostro-patch-'));
    try {
      const dir = path.join(nm, p.package);
      const file = path.join(dir, p.file);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      const install = (version: string, text: string | null) => {
        fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ version }));
        if (text === null) fs.rmSync(file, { force: true });
        else fs.writeFileSync(file, text);
      };

      install(p.version, original);
      expect(applyPatch(p, { write: false, nodeModules: nm })).toBe('applied');
      expect(fs.readFileSync(file, 'utf8')).toBe(original); // --check writes nothing
      expect(applyPatch(p, { nodeModules: nm })).toBe('applied');
      expect(fs.readFileSync(file, 'utf8')).toBe(installed);
      expect(applyPatch(p, { nodeModules: nm })).toBe('already');
      expect(fs.readFileSync(file, 'utf8')).toBe(installed);

      install('99.0.0', original);
      expect(applyPatch(p, { nodeModules: nm })).toBe(`${p.package} is 99.0.0, the patch is for ${p.version}`);
      expect(fs.readFileSync(file, 'utf8')).toBe(original);

      install(p.version, original.replace(p.find, ''));
      expect(applyPatch(p, { nodeModules: nm })).toMatch(/does not contain the patched text exactly once/);

      install(p.version, null);
      expect(applyPatch(p, { nodeModules: nm })).toMatch(/does not exist/);
      expect(applyPatch(p, { nodeModules: path.join(nm, 'nowhere') })).toBe(`${p.package} is not installed`);
    } finally {
      fs.rmSync(nm, { recursive: true, force: true });
    }
  }
});
