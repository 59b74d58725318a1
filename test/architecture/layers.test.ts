/**
 * The architecture as a test (docs/architecture.md): every folder of `src/` sits in a layer, imports point down only
 * (or across, inside one layer), and the folder graph has no cycle. A new folder has to be placed in `LAYERS` on
 * purpose. Type-only imports count: a type a lower layer needs belongs in a lower layer (`src/domain`).
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/process.js';

/** Bottom first. A module may import its own layer's folders and any layer below. */
export const LAYERS: { name: string; folders: string[] }[] = [
  { name: 'base utilities', folders: ['log.ts', 'logging.ts', 'dir-lock.ts', 'free-port.ts', 'tools.ts', 'metrics.ts', 'types'] },
  { name: 'self-contained libraries', folders: ['protocol', 'devserver', 'lnsim'] },
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

/** Every relative import of every source file (static, dynamic, type-only, re-exports), resolved to a file. */
function importEdges(): { from: string; to: string }[] {
  const edges: { from: string; to: string }[] = [];
  for (const file of sourceFiles(src)) {
    const info = ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true);
    for (const ref of info.importedFiles) {
      if (!ref.fileName.startsWith('.')) continue;
      const to = path.resolve(path.dirname(file), ref.fileName.replace(/\.js$/, '.ts'));
      edges.push({ from: file, to });
    }
  }
  return edges;
}

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

  it('keeps every source file under 500 lines (a longer one mixes concerns: split it along its seams)', () => {
    const long = sourceFiles(src)
      .map((f) => ({ file: path.relative(repoRoot, f), lines: fs.readFileSync(f, 'utf8').split('\n').length }))
      .filter((f) => f.lines > 500);
    expect(long).toEqual([]);
  });

  it('finds the violations it is there to find', () => {
    // The checks above would pass vacuously if the import scan found nothing: it must see known edges.
    const seen = new Set(edges.map((e) => `${folderOf(e.from)}→${folderOf(e.to)}`));
    expect(seen).toContain('activities→db');
    expect(seen).toContain('workflows/order→workflows/bond');
    const g = new Map([
      ['a', new Set(['b'])],
      ['b', new Set(['c'])],
      ['c', new Set(['a'])],
    ]);
    expect(findCycle(g)).toEqual(['a', 'b', 'c', 'a']);
  });
});
