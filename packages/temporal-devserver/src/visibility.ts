/**
 * Search-attribute registry and the subset of Temporal's visibility query language that support staff use:
 * `=, !=, <, >, <=, >=, IN, NOT IN, BETWEEN … AND …, STARTS_WITH, IS NULL, IS NOT NULL`, `AND`, `OR`, `NOT`,
 * parentheses and `ORDER BY`. Parsing errors are thrown as INVALID_ARGUMENT with a message naming the problem.
 */
import { invalidArgument } from './errors.js';
import { decodePayload, type Msg } from './proto-util.js';

export type SaType = 'Keyword' | 'Text' | 'Int' | 'Double' | 'Bool' | 'Datetime' | 'KeywordList';

const ENUM_TO_TYPE: Record<string, SaType> = {
  INDEXED_VALUE_TYPE_KEYWORD: 'Keyword',
  INDEXED_VALUE_TYPE_TEXT: 'Text',
  INDEXED_VALUE_TYPE_INT: 'Int',
  INDEXED_VALUE_TYPE_DOUBLE: 'Double',
  INDEXED_VALUE_TYPE_BOOL: 'Bool',
  INDEXED_VALUE_TYPE_DATETIME: 'Datetime',
  INDEXED_VALUE_TYPE_KEYWORD_LIST: 'KeywordList',
};

export function saTypeFromEnum(e: string | number): SaType {
  const t = ENUM_TO_TYPE[String(e)];
  if (!t) throw invalidArgument(`unknown search attribute type ${String(e)}`);
  return t;
}

export function saTypeToEnum(t: SaType): string {
  return Object.entries(ENUM_TO_TYPE).find(([, v]) => v === t)![0];
}

export function parseSaType(name: string): SaType {
  const t = Object.values(ENUM_TO_TYPE).find((v) => v.toLowerCase() === name.toLowerCase());
  if (!t) throw new Error(`unknown search attribute type "${name}" (expected one of ${Object.values(ENUM_TO_TYPE).join(', ')})`);
  return t;
}

export const SYSTEM_ATTRIBUTES: Record<string, SaType> = {
  WorkflowType: 'Keyword',
  WorkflowId: 'Keyword',
  RunId: 'Keyword',
  ExecutionStatus: 'Keyword',
  TaskQueue: 'Keyword',
  StartTime: 'Datetime',
  CloseTime: 'Datetime',
  ExecutionTime: 'Datetime',
  ExecutionDuration: 'Int',
  HistoryLength: 'Int',
  ParentWorkflowId: 'Keyword',
  ParentRunId: 'Keyword',
  RootWorkflowId: 'Keyword',
  TemporalChangeVersion: 'KeywordList',
  BuildIds: 'KeywordList',
};

export const STATUS_NAMES: Record<string, string> = {
  RUNNING: 'Running',
  COMPLETED: 'Completed',
  FAILED: 'Failed',
  CANCELED: 'Canceled',
  TERMINATED: 'Terminated',
  CONTINUED_AS_NEW: 'ContinuedAsNew',
  TIMED_OUT: 'TimedOut',
};

/** Validates and normalises a search-attribute map from a request: unknown names and wrong types are rejected. */
export function decodeSearchAttributes(
  indexedFields: Record<string, Msg> | undefined,
  registry: Record<string, SaType>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, payload] of Object.entries(indexedFields ?? {})) {
    const type = registry[name];
    if (!type) throw invalidArgument(`search attribute ${name} is not defined`);
    let value: unknown;
    try {
      value = decodePayload(payload);
    } catch {
      throw invalidArgument(`invalid value for search attribute ${name}: not JSON`);
    }
    out[name] = coerce(name, type, value);
  }
  return out;
}

function coerce(name: string, type: SaType, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (Array.isArray(value)) {
    if (value.length === 0) return null;
    if (type === 'KeywordList' || type === 'Keyword' || type === 'Text') return value.map(String);
    if (value.length === 1) return coerce(name, type, value[0]);
    throw invalidArgument(`search attribute ${name} of type ${type} cannot hold a list`);
  }
  switch (type) {
    case 'Keyword':
    case 'Text':
      return String(value);
    case 'KeywordList':
      return [String(value)];
    case 'Int':
    case 'Double':
      if (typeof value !== 'number') throw invalidArgument(`search attribute ${name} expects a number`);
      return value;
    case 'Bool':
      if (typeof value !== 'boolean') throw invalidArgument(`search attribute ${name} expects a boolean`);
      return value;
    case 'Datetime': {
      const t = typeof value === 'string' ? Date.parse(value) : NaN;
      if (Number.isNaN(t)) throw invalidArgument(`search attribute ${name} expects an RFC 3339 date-time`);
      return new Date(t).toISOString();
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Query language

type Value = string | number | boolean | null;
type Expr =
  | { op: 'and' | 'or'; left: Expr; right: Expr }
  | { op: 'not'; expr: Expr }
  | { op: 'cmp'; field: string; cmp: '=' | '!=' | '<' | '>' | '<=' | '>='; value: Value }
  | { op: 'in'; field: string; values: Value[]; negate: boolean }
  | { op: 'between'; field: string; low: Value; high: Value }
  | { op: 'startsWith'; field: string; prefix: string }
  | { op: 'isNull'; field: string; negate: boolean };

export interface ParsedQuery {
  where?: Expr;
  orderBy: { field: string; desc: boolean }[];
  groupBy?: string;
}

/** A row the query is evaluated on: field name → value (Datetime as epoch ms, lists as arrays). */
export type Row = Record<string, unknown>;

interface Token {
  kind: 'ident' | 'string' | 'number' | 'op' | 'lparen' | 'rparen' | 'comma' | 'eof';
  text: string;
  pos: number;
}

function tokenize(q: string): Token[] {
  const toks: Token[] = [];
  let i = 0;
  while (i < q.length) {
    const c = q[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const start = i;
    if (c === "'" || c === '"') {
      let s = '';
      i++;
      while (i < q.length && q[i] !== c) {
        if (q[i] === '\\' && i + 1 < q.length) i++;
        s += q[i];
        i++;
      }
      if (i >= q.length) throw invalidArgument(`invalid query: unterminated string starting at position ${start}`);
      i++;
      toks.push({ kind: 'string', text: s, pos: start });
    } else if (c === '`') {
      const end = q.indexOf('`', i + 1);
      if (end < 0) throw invalidArgument(`invalid query: unterminated identifier at position ${start}`);
      toks.push({ kind: 'ident', text: q.slice(i + 1, end), pos: start });
      i = end + 1;
    } else if (c === '(') {
      toks.push({ kind: 'lparen', text: c, pos: i++ });
    } else if (c === ')') {
      toks.push({ kind: 'rparen', text: c, pos: i++ });
    } else if (c === ',') {
      toks.push({ kind: 'comma', text: c, pos: i++ });
    } else if ('=!<>'.includes(c)) {
      let op = c;
      if ((c === '!' || c === '<' || c === '>') && q[i + 1] === '=') op += '=';
      else if (c === '<' && q[i + 1] === '>') op = '!=';
      if (op === '!') throw invalidArgument(`invalid query: unexpected "!" at position ${i}`);
      i += op === '!=' && c === '<' ? 2 : op.length;
      toks.push({ kind: 'op', text: op, pos: start });
    } else if (/[0-9-]/.test(c)) {
      const m = /^-?\d+(\.\d+)?/.exec(q.slice(i));
      if (!m) throw invalidArgument(`invalid query: unexpected "${c}" at position ${i}`);
      toks.push({ kind: 'number', text: m[0], pos: start });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(q.slice(i))!;
      toks.push({ kind: 'ident', text: m[0], pos: start });
      i += m[0].length;
    } else {
      throw invalidArgument(`invalid query: unexpected "${c}" at position ${i}`);
    }
  }
  toks.push({ kind: 'eof', text: '', pos: q.length });
  return toks;
}

export function parseQuery(query: string, fieldType: (name: string) => SaType | undefined): ParsedQuery {
  const toks = tokenize(query);
  let p = 0;
  const peek = () => toks[p]!;
  const next = () => toks[p++]!;
  const isKw = (t: Token, kw: string) => t.kind === 'ident' && t.text.toUpperCase() === kw;
  const expectKw = (kw: string) => {
    const t = next();
    if (!isKw(t, kw)) throw invalidArgument(`invalid query: expected ${kw} at position ${t.pos}`);
  };

  const field = (): { name: string; type: SaType } => {
    const t = next();
    if (t.kind !== 'ident') throw invalidArgument(`invalid query: expected a search attribute name at position ${t.pos}`);
    const type = fieldType(t.text);
    if (!type) throw invalidArgument(`invalid query: unknown search attribute "${t.text}"`);
    return { name: t.text, type };
  };

  const value = (f: { name: string; type: SaType }): Value => {
    const t = next();
    let v: Value;
    if (t.kind === 'string') v = t.text;
    else if (t.kind === 'number') v = Number(t.text);
    else if (t.kind === 'ident' && /^(true|false)$/i.test(t.text)) v = t.text.toLowerCase() === 'true';
    else throw invalidArgument(`invalid query: expected a value for ${f.name} at position ${t.pos}`);
    return normaliseValue(f, v);
  };

  const primary = (): Expr => {
    const t = peek();
    if (t.kind === 'lparen') {
      next();
      const e = orExpr();
      const r = next();
      if (r.kind !== 'rparen') throw invalidArgument(`invalid query: expected ")" at position ${r.pos}`);
      return e;
    }
    if (isKw(t, 'NOT')) {
      next();
      return { op: 'not', expr: primary() };
    }
    const f = field();
    const o = next();
    if (o.kind === 'op') {
      return { op: 'cmp', field: f.name, cmp: o.text as '=', value: value(f) };
    }
    if (isKw(o, 'IN') || (isKw(o, 'NOT') && isKw(peek(), 'IN'))) {
      const negate = isKw(o, 'NOT');
      if (negate) next();
      const l = next();
      if (l.kind !== 'lparen') throw invalidArgument(`invalid query: expected "(" after IN at position ${l.pos}`);
      const values: Value[] = [value(f)];
      while (peek().kind === 'comma') {
        next();
        values.push(value(f));
      }
      const r = next();
      if (r.kind !== 'rparen') throw invalidArgument(`invalid query: expected ")" at position ${r.pos}`);
      return { op: 'in', field: f.name, values, negate };
    }
    if (isKw(o, 'BETWEEN')) {
      const low = value(f);
      expectKw('AND');
      return { op: 'between', field: f.name, low, high: value(f) };
    }
    if (isKw(o, 'STARTS_WITH')) {
      const v = next();
      if (v.kind !== 'string') throw invalidArgument(`invalid query: STARTS_WITH expects a string at position ${v.pos}`);
      return { op: 'startsWith', field: f.name, prefix: v.text };
    }
    if (isKw(o, 'IS')) {
      let negate = false;
      if (isKw(peek(), 'NOT')) {
        next();
        negate = true;
      }
      expectKw('NULL');
      return { op: 'isNull', field: f.name, negate };
    }
    throw invalidArgument(`invalid query: expected an operator after ${f.name} at position ${o.pos}`);
  };

  const andExpr = (): Expr => {
    let left = primary();
    while (isKw(peek(), 'AND')) {
      next();
      left = { op: 'and', left, right: primary() };
    }
    return left;
  };
  const orExpr = (): Expr => {
    let left = andExpr();
    while (isKw(peek(), 'OR')) {
      next();
      left = { op: 'or', left, right: andExpr() };
    }
    return left;
  };

  const result: ParsedQuery = { orderBy: [] };
  if (peek().kind !== 'eof' && !isKw(peek(), 'ORDER') && !isKw(peek(), 'GROUP')) result.where = orExpr();
  if (isKw(peek(), 'GROUP')) {
    next();
    expectKw('BY');
    const f = field();
    if (f.name !== 'ExecutionStatus') throw invalidArgument('invalid query: GROUP BY supports only ExecutionStatus');
    result.groupBy = f.name;
  }
  if (isKw(peek(), 'ORDER')) {
    next();
    expectKw('BY');
    for (;;) {
      const f = field();
      let desc = false;
      if (isKw(peek(), 'DESC')) {
        next();
        desc = true;
      } else if (isKw(peek(), 'ASC')) next();
      result.orderBy.push({ field: f.name, desc });
      if (peek().kind !== 'comma') break;
      next();
    }
  }
  const end = peek();
  if (end.kind !== 'eof') throw invalidArgument(`invalid query: unexpected "${end.text}" at position ${end.pos}`);
  return result;
}

function normaliseValue(f: { name: string; type: SaType }, v: Value): Value {
  switch (f.type) {
    case 'Datetime': {
      if (typeof v === 'number') return v;
      const t = Date.parse(String(v));
      if (Number.isNaN(t)) throw invalidArgument(`invalid query: "${String(v)}" is not a date-time for ${f.name}`);
      return t;
    }
    case 'Int':
    case 'Double':
      if (typeof v !== 'number') throw invalidArgument(`invalid query: ${f.name} expects a number`);
      return v;
    case 'Bool':
      if (typeof v !== 'boolean') throw invalidArgument(`invalid query: ${f.name} expects true or false`);
      return v;
    default:
      if (typeof v !== 'string') throw invalidArgument(`invalid query: ${f.name} expects a string`);
      if (f.name === 'ExecutionStatus' && !Object.values(STATUS_NAMES).includes(v)) {
        throw invalidArgument(
          `invalid query: unknown ExecutionStatus "${v}" (expected one of ${Object.values(STATUS_NAMES).join(', ')})`,
        );
      }
      return v;
  }
}

/** 9999-12-31T23:59:59Z: what SQL visibility compares an open run's CloseTime as. */
const OPEN_CLOSE_TIME = Date.UTC(9999, 11, 31, 23, 59, 59);

function compare(a: unknown, b: Value): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}

export function evaluate(e: Expr | undefined, row: Row): boolean {
  if (!e) return true;
  switch (e.op) {
    case 'and':
      return evaluate(e.left, row) && evaluate(e.right, row);
    case 'or':
      return evaluate(e.left, row) || evaluate(e.right, row);
    case 'not':
      return !evaluate(e.expr, row);
    case 'isNull': {
      const v = row[e.field];
      const isNull = v === undefined || v === null;
      return e.negate ? !isNull : isNull;
    }
    default: {
      // The real server's SQL visibility stores an open run's CloseTime as the far future: `CloseTime > t` matches
      // running workflows there (while `CloseTime IS NULL` matches them too, as above).
      const raw = e.field === 'CloseTime' && row[e.field] === undefined ? OPEN_CLOSE_TIME : row[e.field];
      if (raw === undefined || raw === null) return e.op === 'cmp' && e.cmp === '!=' ? true : e.op === 'in' && e.negate;
      const vals = Array.isArray(raw) ? raw : [raw];
      const any = (pred: (v: unknown) => boolean) => vals.some(pred);
      switch (e.op) {
        case 'cmp':
          switch (e.cmp) {
            case '=':
              return any((v) => compare(v, e.value) === 0);
            case '!=':
              return !any((v) => compare(v, e.value) === 0);
            case '<':
              return any((v) => compare(v, e.value) < 0);
            case '>':
              return any((v) => compare(v, e.value) > 0);
            case '<=':
              return any((v) => compare(v, e.value) <= 0);
            case '>=':
              return any((v) => compare(v, e.value) >= 0);
          }
          return false;
        case 'in': {
          const hit = any((v) => e.values.some((x) => compare(v, x) === 0));
          return e.negate ? !hit : hit;
        }
        case 'between':
          return any((v) => compare(v, e.low) >= 0 && compare(v, e.high) <= 0);
        case 'startsWith':
          return any((v) => String(v).startsWith(e.prefix));
      }
    }
  }
}

export function sortRows<T extends { row: Row }>(items: T[], orderBy: ParsedQuery['orderBy']): T[] {
  const keys = orderBy.length > 0 ? orderBy : [{ field: 'StartTime', desc: true }, { field: 'RunId', desc: false }];
  return items.sort((a, b) => {
    for (const k of keys) {
      const va = a.row[k.field];
      const vb = b.row[k.field];
      if (va === vb) continue;
      // Missing values sort last whatever the direction, as in Temporal's SQL visibility.
      if (va === undefined || va === null) return 1;
      if (vb === undefined || vb === null) return -1;
      const c = compare(va, vb as Value);
      if (c !== 0) return k.desc ? -c : c;
    }
    return 0;
  });
}
