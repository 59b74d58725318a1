/**
 * Builds build/secp256k1.node from src/addon.c against the system's libsecp256k1 (Debian: libsecp256k1-dev) and the
 * Node-API headers that come with Node. Run by `npm install`; without a compiler, the headers or the library it says
 * so in one line and succeeds — the daemon then uses libsecp256k1 compiled to WebAssembly instead.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.join(here, 'build', 'secp256k1.node');
const nodeInclude = [process.env.npm_config_nodedir && path.join(process.env.npm_config_nodedir, 'include', 'node'), path.join(path.dirname(path.dirname(process.execPath)), 'include', 'node')]
  .filter(Boolean)
  .find((d) => fs.existsSync(path.join(d, 'node_api.h')));

function skip(reason) {
  console.log(`@mostro/secp256k1-native: not built (${reason}); the WebAssembly libsecp256k1 is used instead`);
  fs.rmSync(out, { force: true });
  process.exit(0);
}

if (!nodeInclude) skip("no Node-API headers (node_api.h) next to this Node");
const cc = process.env.CC || 'cc';
fs.mkdirSync(path.dirname(out), { recursive: true });
const tmp = `${out}.${process.pid}.tmp`;
try {
  execFileSync(cc, ['-O2', '-shared', '-fPIC', '-Wall', '-Werror', `-I${nodeInclude}`, path.join(here, 'src', 'addon.c'), '-o', tmp, '-lsecp256k1'], { stdio: ['ignore', 'pipe', 'pipe'] });
} catch (err) {
  fs.rmSync(tmp, { force: true });
  const detail = String(err.stderr ?? err.message).split('\n').find((l) => /error|not found|cannot find/i.test(l)) ?? String(err.message);
  skip(/secp256k1[a-z_]*\.h/.test(detail) || /-lsecp256k1/.test(detail) ? `libsecp256k1 not installed: apt-get install libsecp256k1-dev` : `${cc}: ${detail.trim()}`);
}
fs.renameSync(tmp, out);
console.log(`@mostro/secp256k1-native: built ${path.relative(process.cwd(), out)}`);
