import { asciiString } from './ascii.js';
import { ExactInteger } from './exact-integer.js';
import { numberScan, readJsonNumber } from './json-number.js';

/**
 * A JSON scanner over raw bytes for the shapes the upstream publisher actually
 * sends: objects, arrays, ASCII strings without escapes, numbers, literals.
 * It returns `undefined` ("not handled") for anything else — escapes, non-ASCII
 * bytes, deep nesting, `__proto__` keys, any syntax error — and the caller then
 * falls back to `JSON.parse`, which stays the authority on what JSON means.
 * On what it does handle it returns exactly what `JSON.parse` would, except that
 * integer literals longer than 15 digits come back as {@link ExactInteger}
 * (test/decode/json-scanner.property.test.ts proves this against `JSON.parse`).
 */

const MAX_DEPTH = 6;

const HANDLED = 0;
const NOT_HANDLED = 1;

/** Interned short strings, so keys and repeated values (symbols, providers) allocate nothing. */
const CACHE_SIZE = 2048;
const MAX_CACHED_LENGTH = 32;
const stringCache: (string | undefined)[] = new Array<string | undefined>(CACHE_SIZE);

class Scanner {
  pos = 0;
  status = HANDLED;
  constructor(readonly b: Uint8Array, readonly end: number) {}

  fail(): undefined {
    this.status = NOT_HANDLED;
    return undefined;
  }

  skipWs(): void {
    const b = this.b;
    let p = this.pos;
    while (p < this.end) {
      const c = b[p]!;
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) p++;
      else break;
    }
    this.pos = p;
  }

  value(depth: number): unknown {
    this.skipWs();
    if (this.pos >= this.end) return this.fail();
    const c = this.b[this.pos]!;
    if (c === 0x22) return this.string();
    if (c === 0x7b) return depth >= MAX_DEPTH ? this.fail() : this.object(depth + 1);
    if (c === 0x5b) return depth >= MAX_DEPTH ? this.fail() : this.array(depth + 1);
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
    if (c === 0x74) return this.literal('true', true);
    if (c === 0x66) return this.literal('false', false);
    if (c === 0x6e) return this.literal('null', null);
    return this.fail();
  }

  literal(word: string, v: unknown): unknown {
    const b = this.b;
    if (this.pos + word.length > this.end) return this.fail();
    for (let i = 0; i < word.length; i++) {
      if (b[this.pos + i] !== word.charCodeAt(i)) return this.fail();
    }
    this.pos += word.length;
    return v;
  }

  string(): string | undefined {
    const b = this.b;
    const start = this.pos + 1;
    let p = start;
    let hash = 0x811c9dc5;
    for (;;) {
      if (p >= this.end) return this.fail();
      const c = b[p]!;
      if (c === 0x22) break;
      // escapes, control characters and non-ASCII go to JSON.parse
      if (c === 0x5c || c < 0x20 || c > 0x7e) return this.fail();
      hash = Math.imul(hash ^ c, 0x01000193);
      p++;
    }
    this.pos = p + 1;
    const len = p - start;
    if (len > MAX_CACHED_LENGTH) return asciiString(b, start, p);
    const slot = (hash >>> 0) & (CACHE_SIZE - 1);
    const cached = stringCache[slot];
    if (cached !== undefined && cached.length === len) {
      let same = true;
      for (let i = 0; i < len; i++) {
        if (cached.charCodeAt(i) !== b[start + i]) {
          same = false;
          break;
        }
      }
      if (same) return cached;
    }
    const s = asciiString(b, start, p);
    stringCache[slot] = s;
    return s;
  }

  object(depth: number): Record<string, unknown> | undefined {
    const b = this.b;
    this.pos++; // {
    const obj: Record<string, unknown> = {};
    this.skipWs();
    if (this.pos < this.end && b[this.pos] === 0x7d) {
      this.pos++;
      return obj;
    }
    for (;;) {
      this.skipWs();
      if (this.pos >= this.end || b[this.pos] !== 0x22) return this.fail();
      const key = this.string();
      if (key === undefined || key === '__proto__') return this.fail();
      this.skipWs();
      if (this.pos >= this.end || b[this.pos] !== 0x3a) return this.fail();
      this.pos++;
      const v = this.value(depth);
      if (this.status !== HANDLED) return undefined;
      obj[key] = v;
      this.skipWs();
      if (this.pos >= this.end) return this.fail();
      const c = b[this.pos]!;
      this.pos++;
      if (c === 0x2c) continue;
      if (c === 0x7d) return obj;
      return this.fail();
    }
  }

  array(depth: number): unknown[] | undefined {
    const b = this.b;
    this.pos++; // [
    const arr: unknown[] = [];
    this.skipWs();
    if (this.pos < this.end && b[this.pos] === 0x5d) {
      this.pos++;
      return arr;
    }
    for (;;) {
      const v = this.value(depth);
      if (this.status !== HANDLED) return undefined;
      arr.push(v);
      this.skipWs();
      if (this.pos >= this.end) return this.fail();
      const c = b[this.pos]!;
      this.pos++;
      if (c === 0x2c) continue;
      if (c === 0x5d) return arr;
      return this.fail();
    }
  }

  /** JSON number grammar, exactly (json-number.ts); long integer literals kept exact. */
  number(): number | ExactInteger | undefined {
    const start = this.pos;
    const v = readJsonNumber(this.b, start, this.end);
    if (Number.isNaN(v)) return this.fail();
    this.pos = numberScan.end;
    return numberScan.longInteger ? new ExactInteger(asciiString(this.b, start, numberScan.end), v) : v;
  }
}


/**
 * Scans `bytes[0, end)` as one JSON value. Returns `{ value }` when handled,
 * `undefined` when the input needs the general path.
 */
export function scanJson(bytes: Uint8Array, end = bytes.length): { value: unknown } | undefined {
  const s = new Scanner(bytes, end);
  const value = s.value(0);
  if (s.status !== HANDLED) return undefined;
  s.skipWs();
  if (s.pos !== end) return undefined;
  return { value };
}
