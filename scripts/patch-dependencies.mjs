#!/usr/bin/env node
/**
 * Local fixes to exactly pinned dependencies, applied by `npm install` / `npm ci` (the root `postinstall`).
 *
 * Each patch is a literal text replacement in one file of one package version: idempotent (a marker says it is in
 * place), and never half-applied. When the installed version or text is not the one the patch was written for (an
 * upgrade), it prints why and leaves the file alone: the daemon then runs with the dependency's own behaviour, and
 * `test/architecture/dependency-patches.test.ts` fails until the patch is rewritten or dropped.
 *
 *   node scripts/patch-dependencies.mjs           apply (quietly when already applied)
 *   node scripts/patch-dependencies.mjs --check   exit 1 when a patch is not in place
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const PATCHES = [
  {
    name: 'workflow-stack-traces-switch',
    package: '@temporalio/worker',
    version: '1.24.0',
    file: 'lib/workflow/vm-shared.js',
    // The SDK installs a V8 promise hook in its workflow threads that captures and source-maps a stack trace for every
    // promise a workflow creates (for the `__stack_trace` query, the Web UI's Stack Trace tab): about half the CPU of
    // the order workflow (temporalio/sdk-typescript#1587, no option to turn it off). The daemon sets
    // TEMPORAL_WORKFLOW_STACK_TRACES from `[temporal] workflow_stack_traces` before it creates its worker.
    find: '            this.overridePrepareStackTrace();\n            this.setPromiseHook();\n',
    replace:
      '            this.overridePrepareStackTrace();\n' +
      '            // mostro-temporal patch workflow-stack-traces-switch (scripts/patch-dependencies.mjs)\n' +
      "            if (process.env.TEMPORAL_WORKFLOW_STACK_TRACES !== 'off')\n" +
      '                this.setPromiseHook();\n',
  },
];

const marker = (p) => `mostro-temporal patch ${p.name} `;

/**
 * 'applied' | 'already' | a sentence saying why the patch does not fit the installed package. Never throws: an
 * upgraded dependency must not make `npm install` fail. `nodeModules`: where the package is (tests).
 */
export function applyPatch(p, { write = true, nodeModules = path.join(root, 'node_modules') } = {}) {
  const dir = path.join(nodeModules, p.package);
  let version;
  try {
    version = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
  } catch {
    return `${p.package} is not installed`;
  }
  if (version !== p.version) return `${p.package} is ${version}, the patch is for ${p.version}`;
  const file = path.join(dir, p.file);
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return `${p.package}/${p.file} does not exist`;
  }
  if (text.includes(marker(p))) return 'already';
  const at = text.indexOf(p.find);
  if (at < 0 || text.indexOf(p.find, at + 1) >= 0) return `${p.package}/${p.file} does not contain the patched text exactly once`;
  if (write) {
    const tmp = `${file}.mostro-patch`;
    fs.writeFileSync(tmp, text.slice(0, at) + p.replace + text.slice(at + p.find.length));
    fs.renameSync(tmp, file);
  }
  return 'applied';
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes('--check');
  let missing = 0;
  for (const p of PATCHES) {
    const result = applyPatch(p, { write: !check });
    if (result === 'already') continue;
    if (result === 'applied' && !check) {
      console.log(`patch-dependencies: ${p.name} applied to ${p.package}/${p.file}`);
      continue;
    }
    missing++;
    console.warn(`patch-dependencies: ${p.name} not in place: ${result === 'applied' ? 'not yet applied' : result}`);
  }
  process.exit(check && missing > 0 ? 1 : 0);
}
