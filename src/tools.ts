/**
 * The real counterparts built by `scripts/tools.sh install` (the Temporal CLI with its server, the Temporal Web UI
 * server, btcd and LND for the regtest network, ...): where the script put them. The pins live in
 * `scripts/tools.versions`, read by both (its header describes the line format).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const versionsFile = fileURLToPath(new URL('../scripts/tools.versions', import.meta.url));

export type ToolName = 'temporal' | 'temporal-ui-server' | 'btcd' | 'btcctl' | 'lnd' | 'lncli' | 'mostro-cli' | 'mostrod';

export interface Tool {
  name: ToolName;
  /** The pinned Go package (or, for a module build, the module; for a cargo build, the crate), e.g. `github.com/temporalio/cli/cmd/temporal`. */
  goPackage: string;
  version: string;
  /** Where `scripts/tools.sh install` puts (or put) the binary. */
  binary: string;
  installed: boolean;
  /** The pin whose build makes this binary: `name` itself, or e.g. `lnd` for `lncli` (`lncli=from:lnd`). */
  builtBy: string;
}

/** `$MOSTRO_TOOLS_CACHE`, else `${XDG_CACHE_HOME:-~/.cache}/mostro-tools` (as the script computes it). */
export function toolsCache(env: NodeJS.ProcessEnv = process.env): string {
  return env.MOSTRO_TOOLS_CACHE || path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'mostro-tools');
}

/** The words after `name=` on the pin's line. */
function pin(name: string): string[] {
  const line = fs
    .readFileSync(versionsFile, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}=`));
  if (!line) throw new Error(`scripts/tools.versions has no pin for ${name}`);
  return line.slice(name.length + 1).trim().split(/\s+/);
}

export function tool(name: ToolName, env: NodeJS.ProcessEnv = process.env): Tool {
  let words = pin(name);
  let builtBy: string = name;
  if (words[0]!.startsWith('from:')) {
    builtBy = words[0]!.slice('from:'.length);
    words = pin(builtBy);
  }
  const spec = words[0]!;
  const at = spec.lastIndexOf('@');
  const goPackage = spec.slice(0, at);
  const version = spec.slice(at + 1);
  const dir = path.join(toolsCache(env), `${builtBy}-${version}`);
  // `go install` names the binary after the package; a module build (`build` method), a cargo build and their
  // further binaries are named after their pins.
  const moduleBuild = builtBy !== name || words[1] === 'build' || words[1] === 'cargo';
  const binary = path.join(dir, 'bin', moduleBuild ? name : goPackage.slice(goPackage.lastIndexOf('/') + 1));
  const installed = fs.existsSync(path.join(dir, '.complete')) && isExecutable(binary);
  return { name, goPackage, version, binary, installed, builtBy };
}

/** What to tell a person whose machine lacks the tool. */
export function installHint(t: Tool): string {
  const needs = t.name === 'mostro-cli' || t.name === 'mostrod' ? 'Rust cargo and crates.io' : 'Go 1.26+ and the Go module proxy';
  return `${t.name} ${t.version} is not installed (looked for ${t.binary}); build it once with: scripts/tools.sh install ${t.builtBy} (needs ${needs})`;
}

function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
