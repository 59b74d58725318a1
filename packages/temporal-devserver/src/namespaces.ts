/** Namespaces (id, retention) and the custom search attributes registered in each. */
import { randomUUID } from 'node:crypto';
import { alreadyExists, invalidArgument, notFound } from './errors.js';
import { jsonPayload, type Msg } from './proto-util.js';
import type { GlobalState } from './store.js';
import { SYSTEM_ATTRIBUTES, type SaType } from './visibility.js';

export interface NamespaceInfo {
  id: string;
  retentionMs: number;
}

export class Namespaces {
  private readonly byName = new Map<string, NamespaceInfo>();
  /** Custom search attributes per namespace. */
  private readonly attributes = new Map<string, Record<string, SaType>>();

  constructor(
    private readonly defaultRetentionMs: number,
    /** Namespaces are global state: persisted with the next commit. */
    private readonly changed: () => void,
  ) {}

  ensure(name: string, retentionMs = this.defaultRetentionMs): void {
    if (this.byName.has(name)) return;
    this.byName.set(name, { id: randomUUID(), retentionMs });
    // A new namespace has no custom search attributes, as on the real server (CLI 1.5 / server 1.29): the older
    // dev servers' CustomKeywordField & co. are gone there too.
    this.attributes.set(name, {});
    this.changed();
  }

  require(name: string | undefined): string {
    if (!name) throw invalidArgument('namespace is required');
    if (!this.byName.has(name)) throw notFound(`namespace ${name} is not found`);
    return name;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  get(name: string): NamespaceInfo | undefined {
    return this.byName.get(name);
  }

  /** Names in registration order (`default` first). */
  names(): string[] {
    return [...this.byName.keys()];
  }

  nameOfId(id: string): string | undefined {
    return [...this.byName].find(([, v]) => v.id === id)?.[0];
  }

  setRetention(name: string, retentionMs: number): void {
    this.byName.get(name)!.retentionMs = retentionMs;
    this.changed();
  }

  /** How long closed runs of the namespace are kept. */
  retentionOf(name: string): number {
    return this.byName.get(name)?.retentionMs ?? this.defaultRetentionMs;
  }

  customAttributes(ns: string): Record<string, SaType> {
    return this.attributes.get(ns) ?? {};
  }

  addSearchAttributes(ns: string, attrs: Record<string, SaType>): void {
    const cur = { ...this.customAttributes(ns) };
    for (const [name, type] of Object.entries(attrs)) {
      if (SYSTEM_ATTRIBUTES[name]) throw invalidArgument(`search attribute ${name} is reserved by system`);
      if (cur[name] && cur[name] !== type) {
        throw alreadyExists(`search attribute ${name} already exists with type ${cur[name]}`);
      }
      cur[name] = type;
    }
    this.attributes.set(ns, cur);
    this.changed();
  }

  removeSearchAttributes(ns: string, names: string[]): void {
    const cur = { ...this.customAttributes(ns) };
    for (const n of names) {
      if (!cur[n]) throw notFound(`search attribute ${n} doesn't exist`);
      delete cur[n];
    }
    this.attributes.set(ns, cur);
    this.changed();
  }

  fieldType(ns: string, name: string): SaType | undefined {
    return SYSTEM_ATTRIBUTES[name] ?? this.customAttributes(ns)[name];
  }

  /** Search attributes a workflow may set: the custom ones plus the SDK-maintained system lists. */
  writableAttributes(ns: string): Record<string, SaType> {
    return { ...this.customAttributes(ns), TemporalChangeVersion: 'KeywordList', BuildIds: 'KeywordList' };
  }

  encodeSearchAttributes(ns: string, values: Record<string, unknown>): Msg {
    const indexedFields: Msg = {};
    for (const [name, v] of Object.entries(values)) {
      indexedFields[name] = jsonPayload(v, this.fieldType(ns, name) ?? 'Keyword');
    }
    return { indexedFields };
  }

  snapshot(): Pick<GlobalState, 'namespaces' | 'searchAttributes'> {
    return { namespaces: Object.fromEntries(this.byName), searchAttributes: Object.fromEntries(this.attributes) };
  }

  restore(state: Pick<GlobalState, 'namespaces' | 'searchAttributes'>): void {
    for (const [name, ns] of Object.entries(state.namespaces)) this.byName.set(name, ns);
    for (const [ns, attrs] of Object.entries(state.searchAttributes)) {
      this.attributes.set(ns, attrs as Record<string, SaType>);
    }
  }
}
