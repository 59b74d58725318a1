/**
 * The architecture as a test (docs/architecture.md): every folder of `src/` sits in a layer, imports point down only
 * (or across, inside one layer), and the folder graph has no cycle. A new folder has to be placed in `LAYERS` on
 * purpose. Type-only imports count: a type a lower layer needs belongs in a lower layer (`src/domain`). The libraries
 * under `packages/` stand alone: they import nothing of the product, only what their package.json declares, and the
 * product reaches them by package name only.
 */
import fs from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../support/process.js';

/** Bottom first. A module may import its own layer's folders and any layer below. */
export const LAYERS: { name: string; folders: string[] }[] = [
  { name: 'base utilities', folders: ['log.ts', 'logging.ts', 'free-port.ts', 'tools.ts', 'metrics.ts', 'types'] },
  { name: 'domain types and rules', folders: ['domain'] },
  { name: 'infrastructure', folders: ['db', 'lightning', 'nostr', 'price', 'temporal'] },
  { name: 'activities', folders: ['activities'] },
  { name: 'workflow contracts shared by order and bond workflows', folders: ['workflows/shared'] },
  { name: 'bond payout workflow', folders: ['workflows/bond'] },
  { name: 'order workflow', folders: ['workflows/order'] },
  { name: 'workflow bundle entry', folders: ['workflows'] },
  { name: 'edges: ingress, admin RPC, clients, workers, configuration', folders: ['ingress', 'rpc', 'client', 'workers', 'config'] },
  { name: 'applications', folders: ['admin', 'daemon', 'main.ts'] },
];

const src = path.join(repoRoot, 'src');

/** The folder a source file belongs to: its top-level folder (or file), `workflows/<sub>` inside workflows. */
export function folderOf(file: string): string {
  const parts = path.relative(src, file).split(path.sep);
  if (parts.length === 1) return parts[0]!;
  if (parts[0] === 'workflows' && parts.length > 2) return `workflows/${parts[1]}`;
  return parts[0]!;
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return /\.(ts|mts)$/.test(e.name) ? [p] : [];
  });
}

/** Every import specifier of a file (static, dynamic, type-only, re-exports). */
const specifiersOf = (file: string): string[] => ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true).importedFiles.map((r) => r.fileName);

/** Every relative import of every source file, resolved to a file. */
function importEdges(): { from: string; to: string }[] {
  const edges: { from: string; to: string }[] = [];
  for (const file of sourceFiles(src)) {
    for (const spec of specifiersOf(file)) {
      if (!spec.startsWith('.')) continue;
      edges.push({ from: file, to: path.resolve(path.dirname(file), spec.replace(/\.js$/, '.ts')) });
    }
  }
  return edges;
}

const packagesDir = path.join(repoRoot, 'packages');
const packages = fs.readdirSync(packagesDir).map((name) => {
  const dir = path.join(packagesDir, name);
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
    name: string;
    dependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
  };
  return { dir, manifest };
});
const nodeBuiltins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
/** `@scope/name/sub/path` → `@scope/name`, `name/sub` → `name`. */
const packageNameOf = (spec: string): string => spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/');

const rankOf = (folder: string): number => LAYERS.findIndex((l) => l.folders.includes(folder));

/** The folder pairs of a cycle in a directed graph, or null (depth-first search). */
function findCycle(graph: Map<string, Set<string>>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string): string[] | null => {
    state.set(n, 'open');
    stack.push(n);
    for (const m of graph.get(n) ?? []) {
      if (state.get(m) === 'open') return [...stack.slice(stack.indexOf(m)), m];
      if (!state.has(m)) {
        const c = visit(m);
        if (c) return c;
      }
    }
    stack.pop();
    state.set(n, 'done');
    return null;
  };
  for (const n of graph.keys()) {
    if (state.has(n)) continue;
    const c = visit(n);
    if (c) return c;
  }
  return null;
}

describe('architecture', () => {
  const edges = importEdges();
  const folders = new Set(sourceFiles(src).map(folderOf));

  it('places every folder of src/ in a layer', () => {
    expect([...folders].filter((f) => rankOf(f) < 0)).toEqual([]);
  });

  it('imports point down (or across one layer), never up', () => {
    const upward = edges
      .filter((e) => folderOf(e.from) !== folderOf(e.to) && rankOf(folderOf(e.to)) > rankOf(folderOf(e.from)))
      .map((e) => `${path.relative(repoRoot, e.from)} (${LAYERS[rankOf(folderOf(e.from))]!.name}) → ${path.relative(repoRoot, e.to)} (${LAYERS[rankOf(folderOf(e.to))]!.name})`);
    expect(upward).toEqual([]);
  });

  it('has no cycle between folders', () => {
    const graph = new Map<string, Set<string>>();
    for (const e of edges) {
      const [a, b] = [folderOf(e.from), folderOf(e.to)];
      if (a === b) continue;
      if (!graph.has(a)) graph.set(a, new Set());
      graph.get(a)!.add(b);
    }
    expect(findCycle(graph)).toBeNull();
  });

  it('keeps every package to itself: relative imports stay inside it, anything else is declared in its package.json', () => {
    const strays: string[] = [];
    for (const { dir, manifest } of packages) {
      const declared = new Set([...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.devDependencies ?? {})]);
      const runtime = new Set(Object.keys(manifest.dependencies ?? {}));
      for (const folder of ['src', 'test']) {
        if (!fs.existsSync(path.join(dir, folder))) continue;
        for (const file of sourceFiles(path.join(dir, folder))) {
          for (const spec of specifiersOf(file)) {
            const where = `${path.relative(repoRoot, file)} → ${spec}`;
            if (spec.startsWith('.')) {
              if (path.relative(dir, path.resolve(path.dirname(file), spec)).startsWith('..')) strays.push(`${where} (outside ${manifest.name})`);
            } else if (!nodeBuiltins.has(spec) && !(folder === 'src' ? runtime : declared).has(packageNameOf(spec))) {
              strays.push(`${where} (not a ${folder === 'src' ? 'dependency' : 'dependency or devDependency'} of ${manifest.name})`);
            }
          }
        }
      }
    }
    expect(strays).toEqual([]);
  });

  it('reaches the packages by name, never by a path into them', () => {
    const reachIns = ['src', 'support', 'test', 'bench', 'scripts']
      .flatMap((folder) => sourceFiles(path.join(repoRoot, folder)))
      .flatMap((file) =>
        specifiersOf(file)
          .filter((spec) => spec.startsWith('.') && path.resolve(path.dirname(file), spec).startsWith(packagesDir + path.sep))
          .map((spec) => `${path.relative(repoRoot, file)} → ${spec}`),
      );
    expect(reachIns).toEqual([]);
  });

  it('keeps the product out of test code: src imports only src (and the generated database client), and benchmarks and scripts use support/, not test/', () => {
    const outside = (from: string, allowed: string[]) =>
      sourceFiles(path.join(repoRoot, from)).flatMap((file) =>
        specifiersOf(file)
          .filter((spec) => spec.startsWith('.'))
          .map((spec) => path.relative(repoRoot, path.resolve(path.dirname(file), spec)))
          .filter((target) => !allowed.some((a) => target.startsWith(`${a}/`) || target === a))
          .map((target) => `${path.relative(repoRoot, file)} → ${target}`),
      );
    expect(outside('src', ['src', 'generated'])).toEqual([]);
    expect(outside('support', ['src', 'support'])).toEqual([]);
    expect([...outside('bench', ['src', 'support', 'bench']), ...outside('scripts', ['src', 'support', 'scripts'])]).toEqual([]);
  });

  it('keeps every source file under 500 lines (a longer one mixes concerns: split it along its seams)', () => {
    const long = [src, ...packages.map((p) => path.join(p.dir, 'src'))]
      .flatMap(sourceFiles)
      .map((f) => ({ file: path.relative(repoRoot, f), lines: fs.readFileSync(f, 'utf8').split('\n').length }))
      .filter((f) => f.lines > 500);
    expect(long).toEqual([]);
  });

  it('finds the violations it is there to find', () => {
    // The checks above would pass vacuously if the import scan found nothing: it must see known edges.
    const seen = new Set(edges.map((e) => `${folderOf(e.from)}→${folderOf(e.to)}`));
    expect(seen).toContain('activities→db');
    expect(seen).toContain('workflows/order→workflows/bond');
    expect(packages.map((p) => p.manifest.name).sort()).toEqual(['@mostro/dir-lock', '@mostro/lnsim', '@mostro/protocol', '@mostro/secp256k1-native', '@mostro/temporal-devserver']);
    expect(specifiersOf(path.join(packagesDir, 'lnsim', 'src', 'journal.ts'))).toContain('@mostro/dir-lock');
    const g = new Map([
      ['a', new Set(['b'])],
      ['b', new Set(['c'])],
      ['c', new Set(['a'])],
    ]);
    expect(findCycle(g)).toEqual(['a', 'b', 'c', 'a']);
  });
});
