import { describe, expect, it } from 'vitest';
import { evaluate, parseQuery, sortRows, type SaType } from '../src/visibility.js';

const types: Record<string, SaType> = {
  WorkflowType: 'Keyword',
  ExecutionStatus: 'Keyword',
  StartTime: 'Datetime',
  OrderStatus: 'Keyword',
  Amount: 'Int',
  Tags: 'KeywordList',
};
const q = (s: string) => parseQuery(s, (n) => types[n]);
const matches = (s: string, row: Record<string, unknown>) => evaluate(q(s).where, row);

describe('visibility query language', () => {
  const row = { WorkflowType: 'order', ExecutionStatus: 'Running', OrderStatus: 'active', Amount: 500, Tags: ['a', 'b'], StartTime: Date.parse('2026-01-02T00:00:00Z') };

  it('evaluates comparisons, IN, BETWEEN, STARTS_WITH and IS NULL', () => {
    expect(matches(`OrderStatus = "active"`, row)).toBe(true);
    expect(matches(`OrderStatus != 'active'`, row)).toBe(false);
    expect(matches(`Amount >= 500 AND Amount <= 500`, row)).toBe(true);
    expect(matches(`Amount BETWEEN 100 AND 499`, row)).toBe(false);
    expect(matches(`OrderStatus IN ('x', 'active')`, row)).toBe(true);
    expect(matches(`OrderStatus NOT IN ('x', 'active')`, row)).toBe(false);
    expect(matches(`WorkflowType STARTS_WITH 'ord'`, row)).toBe(true);
    expect(matches(`Tags = 'b'`, row)).toBe(true);
    expect(matches(`OrderStatus IS NULL`, row)).toBe(false);
    expect(matches(`OrderStatus IS NOT NULL`, { ...row, OrderStatus: undefined })).toBe(false);
    expect(matches(`StartTime > '2026-01-01T00:00:00Z'`, row)).toBe(true);
  });

  it('gives AND precedence over OR and honours parentheses and NOT', () => {
    expect(matches(`Amount = 1 AND Amount = 2 OR OrderStatus = 'active'`, row)).toBe(true);
    expect(matches(`Amount = 1 AND (Amount = 2 OR OrderStatus = 'active')`, row)).toBe(false);
    expect(matches(`NOT OrderStatus = 'active'`, row)).toBe(false);
  });

  it('is case-insensitive for keywords and parses ORDER BY with several keys', () => {
    const p = q(`orderstatus = 'x' order by Amount desc, StartTime`.replace('orderstatus', 'OrderStatus'));
    expect(p.orderBy).toEqual([
      { field: 'Amount', desc: true },
      { field: 'StartTime', desc: false },
    ]);
    expect(q('').where).toBeUndefined();
    expect(q('ORDER BY Amount').orderBy).toHaveLength(1);
  });

  it('rejects bad queries with a message naming the problem', () => {
    expect(() => q(`Nope = 1`)).toThrow(/unknown search attribute "Nope"/);
    expect(() => q(`Amount = 'x'`)).toThrow(/Amount expects a number/);
    expect(() => q(`StartTime > 'yesterday'`)).toThrow(/not a date-time/);
    expect(() => q(`OrderStatus = 'a' AND`)).toThrow(/expected a search attribute name/);
    expect(() => q(`OrderStatus = 'a`)).toThrow(/unterminated string/);
    expect(() => q(`OrderStatus ~ 'a'`)).toThrow(/unexpected "~"/);
    expect(() => q(`OrderStatus = 'a' LIMIT 3`)).toThrow(/unexpected "LIMIT"/);
  });

  it('sorts with missing values last', () => {
    const items = [{ row: { Amount: 2 } }, { row: {} }, { row: { Amount: 1 } }];
    expect(sortRows(items, [{ field: 'Amount', desc: false }]).map((i) => i.row.Amount)).toEqual([1, 2, undefined]);
    expect(sortRows(items, [{ field: 'Amount', desc: true }]).map((i) => i.row.Amount)).toEqual([2, 1, undefined]);
  });
});
