/**
 * A strict, lossless JSON reader shaped after serde_json, which the reference daemon uses:
 *
 * - integers keep their exact value: safe ones as `number`, larger ones as `bigint` (mostro-cli fills `request_id`
 *   with all 64 bits; `JSON.parse` would round it);
 * - numbers written with a fraction or exponent become {@link JsonFloat}, so a field typed as an integer can reject
 *   `1.0` as serde does, while float fields accept both;
 * - duplicate object keys, nesting deeper than 128 levels (serde_json's recursion limit), trailing input and lone
 *   surrogate escapes are errors;
 * - {@link parseArrayElements} also returns the exact source text of each top-level array element, so a signature can
 *   be checked against the bytes the client signed.
 */

export class JsonFloat {
  constructor(readonly value: number) {}
}

export type JsonValue = null | boolean | number | bigint | JsonFloat | string | JsonValue[] | { [k: string]: JsonValue };

export class JsonSyntaxError extends Error {
  constructor(message: string, readonly position: number) {
    super(`${message} at position ${position}`);
    this.name = 'JsonSyntaxError';
  }
}

const MAX_DEPTH = 128;

class Reader {
  pos = 0;
  constructor(readonly text: string) {}

  fail(msg: string): never {
    throw new JsonSyntaxError(msg, this.pos);
  }

  ws(): void {
    const t = this.text;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) this.pos++;
      else break;
    }
  }

  value(depth: number): JsonValue {
    this.ws();
    const c = this.text[this.pos];
    switch (c) {
      case '{':
        return this.object(depth + 1);
      case '[':
        return this.array(depth + 1);
      case '"':
        return this.string();
      case 't':
        return this.literal('true', true);
      case 'f':
        return this.literal('false', false);
      case 'n':
        return this.literal('null', null);
      case undefined:
        return this.fail('unexpected end of input');
      default:
        if (c === '-' || (c >= '0' && c <= '9')) return this.number();
        return this.fail(`unexpected character ${JSON.stringify(c)}`);
    }
  }

  literal<T>(word: string, v: T): T {
    if (this.text.startsWith(word, this.pos)) {
      this.pos += word.length;
      return v;
    }
    return this.fail('invalid literal');
  }

  number(): number | bigint | JsonFloat {
    const start = this.pos;
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(this.text.slice(start, start + 400));
    if (!m || m[0] === '-') return this.fail('invalid number');
    this.pos += m[0].length;
    if (m[2] !== undefined || m[3] !== undefined) {
      const f = Number(m[0]);
      if (!Number.isFinite(f)) return this.fail('number out of range');
      return new JsonFloat(f);
    }
    const n = Number(m[0]);
    if (Number.isSafeInteger(n)) return Object.is(n, -0) ? 0 : n;
    return BigInt(m[0]);
  }

  string(): string {
    const t = this.text;
    this.pos++; // opening quote
    let out = '';
    let chunk = this.pos;
    for (;;) {
      if (this.pos >= t.length) return this.fail('unterminated string');
      const c = t.charCodeAt(this.pos);
      if (c === 0x22) {
        out += t.slice(chunk, this.pos);
        this.pos++;
        return out;
      }
      if (c < 0x20) return this.fail('control character in string');
      if (c === 0x5c) {
        out += t.slice(chunk, this.pos);
        this.pos++;
        const e = t[this.pos++];
        switch (e) {
          case '"':
            out += '"';
            break;
          case '\\':
            out += '\\';
            break;
          case '/':
            out += '/';
            break;
          case 'b':
            out += '\b';
            break;
          case 'f':
            out += '\f';
            break;
          case 'n':
            out += '\n';
            break;
          case 'r':
            out += '\r';
            break;
          case 't':
            out += '\t';
            break;
          case 'u': {
            const cp = this.hex4();
            if (cp >= 0xd800 && cp <= 0xdbff) {
              if (t[this.pos] !== '\\' || t[this.pos + 1] !== 'u') return this.fail('lone surrogate in string');
              this.pos += 2;
              const lo = this.hex4();
              if (lo < 0xdc00 || lo > 0xdfff) return this.fail('lone surrogate in string');
              out += String.fromCharCode(cp, lo);
            } else if (cp >= 0xdc00 && cp <= 0xdfff) {
              return this.fail('lone surrogate in string');
            } else {
              out += String.fromCharCode(cp);
            }
            break;
          }
          default:
            return this.fail('invalid escape');
        }
        chunk = this.pos;
        continue;
      }
      // A lone surrogate in the raw text cannot come from valid UTF-8.
      if (c >= 0xd800 && c <= 0xdbff) {
        const d = t.charCodeAt(this.pos + 1);
        if (!(d >= 0xdc00 && d <= 0xdfff)) return this.fail('invalid UTF-16 in string');
        this.pos += 2;
        continue;
      }
      if (c >= 0xdc00 && c <= 0xdfff) return this.fail('invalid UTF-16 in string');
      this.pos++;
    }
  }

  hex4(): number {
    const h = this.text.slice(this.pos, this.pos + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(h)) return this.fail('invalid unicode escape');
    this.pos += 4;
    return parseInt(h, 16);
  }

  object(depth: number): { [k: string]: JsonValue } {
    if (depth > MAX_DEPTH) return this.fail('recursion limit exceeded');
    this.pos++;
    const out: { [k: string]: JsonValue } = Object.create(null) as { [k: string]: JsonValue };
    this.ws();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return out;
    }
    for (;;) {
      this.ws();
      if (this.text[this.pos] !== '"') return this.fail('expected a string key');
      const key = this.string();
      if (Object.prototype.hasOwnProperty.call(out, key)) return this.fail(`duplicate field ${JSON.stringify(key)}`);
      this.ws();
      if (this.text[this.pos] !== ':') return this.fail('expected ":"');
      this.pos++;
      out[key] = this.value(depth);
      this.ws();
      const c = this.text[this.pos++];
      if (c === '}') return out;
      if (c !== ',') {
        this.pos--;
        return this.fail('expected "," or "}"');
      }
    }
  }

  array(depth: number, spans?: [number, number][]): JsonValue[] {
    if (depth > MAX_DEPTH) return this.fail('recursion limit exceeded');
    this.pos++;
    const out: JsonValue[] = [];
    this.ws();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return out;
    }
    for (;;) {
      this.ws();
      const start = this.pos;
      out.push(this.value(depth));
      spans?.push([start, this.pos]);
      this.ws();
      const c = this.text[this.pos++];
      if (c === ']') return out;
      if (c !== ',') {
        this.pos--;
        return this.fail('expected "," or "]"');
      }
    }
  }

  end(): void {
    this.ws();
    if (this.pos !== this.text.length) this.fail('trailing characters');
  }
}

/** Parses one JSON document strictly and losslessly. */
export function parseJson(text: string): JsonValue {
  const r = new Reader(text);
  const v = r.value(0);
  r.end();
  return v;
}

/** Parses a top-level JSON array and returns its elements with the exact source text of each. */
export function parseArrayElements(text: string): { values: JsonValue[]; raw: string[] } {
  const r = new Reader(text);
  r.ws();
  if (text[r.pos] !== '[') r.fail('expected an array');
  const spans: [number, number][] = [];
  const values = r.array(1, spans);
  r.end();
  return { values, raw: spans.map(([a, b]) => text.slice(a, b)) };
}

/** A JSON string literal exactly as serde_json prints it (same escapes as JSON.stringify for valid strings). */
export function jsonString(s: string): string {
  return JSON.stringify(s);
}

/** An f64 as serde_json (ryu) prints it: integral values keep a `.0`. */
export function jsonFloat(x: number): string {
  if (!Number.isFinite(x)) return 'null';
  if (Number.isInteger(x) && Math.abs(x) < 1e16) return `${x}.0`;
  const s = String(x);
  // ryu writes exponents without '+': 1e+21 → 1e21.
  return s.replace('e+', 'e');
}
