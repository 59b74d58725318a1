/**
 * `npm install` never fails for want of the native library: without a compiler (or libsecp256k1-dev) the build says
 * so in one line and succeeds, and the loader reports why there is no addon, so the daemon falls back to WebAssembly.
 * Run on a copy of the package, so the installed addon is left alone.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const pkg = fileURLToPath(new URL('..', import.meta.url));
const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'secp256k1-native-'));
fs.cpSync(path.join(pkg, 'src'), path.join(copy, 'src'), { recursive: true });
fs.copyFileSync(path.join(pkg, 'build.mjs'), path.join(copy, 'build.mjs'));
fs.copyFileSync(path.join(pkg, 'package.json'), path.join(copy, 'package.json'));
afterAll(() => fs.rmSync(copy, { recursive: true, force: true }));

const addon = path.join(copy, 'build', 'secp256k1.node');
const build = (env: NodeJS.ProcessEnv) => spawnSync(process.execPath, ['build.mjs'], { cwd: copy, env: { ...process.env, ...env }, encoding: 'utf8' });
/** What the loader of the copy says, in a fresh process (it caches its answer). */
const loaderSays = () =>
  JSON.parse(
    execFileSync(process.execPath, ['--import', 'tsx', '-e', `import('${path.join(copy, 'src', 'index.ts')}').then((m) => { const r = m.loadNative(); console.log(JSON.stringify(r.ok ? { ok: true, fns: Object.keys(r.lib).sort() } : r)); })`], {
      cwd: pkg,
      encoding: 'utf8',
    }),
  ) as { ok: boolean; reason?: string; fns?: string[] };

describe('building the addon', () => {
  it('without a compiler: one line saying so, success, and a loader that says why there is no addon', () => {
    const r = build({ CC: path.join(copy, 'no-such-compiler') });
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    expect(r.stdout).toMatch(/not built \(.*\); the WebAssembly libsecp256k1 is used instead/);
    expect(fs.existsSync(addon)).toBe(false);
    expect(loaderSays()).toEqual({ ok: false, reason: expect.stringMatching(/not built at install time.*libsecp256k1-dev/) });
  });

  it.skipIf(!fs.existsSync('/usr/include/secp256k1_schnorrsig.h') && process.env.CI !== 'true')('with cc and libsecp256k1-dev: an addon the loader loads', () => {
    const r = build({});
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('built build/secp256k1.node');
    expect(loaderSays()).toEqual({ ok: true, fns: ['sharedX', 'signSchnorr', 'verifySchnorr', 'xOnlyPublicKey'] });
  });
});
