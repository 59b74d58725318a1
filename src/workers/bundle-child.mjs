/**
 * Child process of bundle.ts: bundles the workflow code (webpack compiles its TypeScript) into a file and exits,
 * taking the bundler's memory with it.   node bundle-child.mjs <workflowsPath> <out>
 */
import fs from 'node:fs';
import { DefaultLogger, bundleWorkflowCode } from '@temporalio/worker';

const [workflowsPath, out] = process.argv.slice(2);
if (!workflowsPath || !out) throw new Error('usage: bundle-child.mjs <workflowsPath> <out>');
const { code } = await bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') });
fs.writeFileSync(out, code);
process.exit(0);
