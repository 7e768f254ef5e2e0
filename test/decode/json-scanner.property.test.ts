/**
 * Property / fuzz tests: the fast byte scanner (src/decode/json-scanner.ts) and
 * parsePayload / parseText (src/decode/payload.ts) against `JSON.parse`, which
 * is the authority on what a JSON text means.
 *
 *  1. whenever scanJson handles an input, it agrees with JSON.parse (ExactInteger
 *     replaced by its `.value`, -0 distinguished from 0), and every ExactInteger
 *     carries exactly the digits written in the text;
 *  2. canonical market events always take the fast path;
 *  3. number literals are parsed exactly (or rejected iff invalid JSON);
 *  4. random byte mutations never make scanJson / parsePayload throw or disagree;
 *  5. long integer literals become ExactInteger on both the fast and the fallback path.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ExactInteger, MAX_SAFE_LITERAL_DIGITS } from '../../src/decode/exact-integer.js';
import { scanJson } from '../../src/decode/json-scanner.js';
import { parsePayload, parseText } from '../../src/decode/payload.js';

// ---------------------------------------------------------------------------
// Oracles and comparison helpers
// ---------------------------------------------------------------------------

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });
/** RFC 8259 number grammar. */
const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
const LONG_INTEGER = /^-?\d+$/;

function show(v: unknown): string {
  if (v instanceof ExactInteger) return `ExactInteger(${v.literal}, ${v.value})`;
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  if (typeof v === 'bigint') return `${v}n`;
  let s: string;
  try {
    s = JSON.stringify(v, (_k, x: unknown) => (x instanceof ExactInteger ? `ExactInteger(${x.literal})` : x)) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}

/** Long digit runs shortened for messages: "0.<99999×0>1e1000000". */
function clip(text: string): string {
  const s = text.replace(/(\d)\1{19,}/g, (run, d: string) => `<${run.length}×${d}>`);
  return s.length > 400 ? `${s.slice(0, 400)}…` : s;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof ExactInteger);
}

/**
 * First difference between `actual` (scanner / payload output, may contain
 * ExactInteger) and `expected`, or null when they agree.
 *
 * - `expected` from JSON.parse (strict=false): an ExactInteger in `actual`
 *   stands for its `.value`.
 * - strict=true: `expected` may itself contain ExactInteger, and ExactInteger
 *   must match ExactInteger exactly (same literal, same value) — used to compare
 *   the fast path with the fallback path, and with hand-written expectations.
 * Numbers are compared with Object.is (so -0 !== 0); objects by own key order,
 * prototype and values.
 */
function diff(actual: unknown, expected: unknown, strict: boolean, path = '$'): string | null {
  const mismatch = () => `${path}: got ${show(actual)}, expected ${show(expected)}`;
  if (expected instanceof ExactInteger) {
    if (!(actual instanceof ExactInteger)) return mismatch();
    if (actual.literal !== expected.literal || !Object.is(actual.value, expected.value)) return mismatch();
    return null;
  }
  if (actual instanceof ExactInteger) {
    if (strict || typeof expected !== 'number') return mismatch();
    if (!Object.is(actual.value, expected)) return mismatch();
    if (!/^-?[1-9]\d*$/.test(actual.literal) || actual.literal.replace('-', '').length <= MAX_SAFE_LITERAL_DIGITS) {
      return `${path}: malformed ExactInteger literal ${JSON.stringify(actual.literal)}`;
    }
    if (!Object.is(Number(actual.literal), actual.value)) return `${path}: ExactInteger value ${actual.value} != Number(${actual.literal})`;
    return null;
  }
  if (typeof expected === 'number') {
    return typeof actual === 'number' && Object.is(actual, expected) ? null : mismatch();
  }
  if (expected === null || typeof expected !== 'object') {
    return Object.is(actual, expected) ? null : mismatch();
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return mismatch();
    if (actual.length !== expected.length) return `${path}: length ${actual.length}, expected ${expected.length}`;
    for (let i = 0; i < expected.length; i++) {
      const d = diff(actual[i] as unknown, expected[i] as unknown, strict, `${path}[${i}]`);
      if (d !== null) return d;
    }
    return null;
  }
  if (!isPlainObject(actual) || !isPlainObject(expected)) return mismatch();
  if (Object.getPrototypeOf(actual) !== Object.getPrototypeOf(expected)) return `${path}: different prototype`;
  const ak = Object.keys(actual);
  const ek = Object.keys(expected);
  if (ak.length !== ek.length || ak.some((k, i) => k !== ek[i])) return `${path}: keys ${show(ak)}, expected ${show(ek)}`;
  for (const k of ek) {
    const d = diff(actual[k], expected[k], strict, `${path}.${k}`);
    if (d !== null) return d;
  }
  return null;
}

function assertAgrees(actual: unknown, expected: unknown, strict: boolean, context: string): void {
  const d = diff(actual, expected, strict);
  if (d !== null) throw new Error(`${d}\n  input: ${clip(context)}`);
}

function collectExact(v: unknown, out: ExactInteger[] = []): ExactInteger[] {
  if (v instanceof ExactInteger) out.push(v);
  else if (Array.isArray(v)) for (const x of v) collectExact(x, out);
  else if (isPlainObject(v)) for (const k of Object.keys(v)) collectExact(v[k], out);
  return out;
}

const NUMBER_TOKEN = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/** Number tokens outside strings, in document order. Only for texts JSON.parse accepted. */
function numberTokens(text: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      i++;
      while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      i++;
    } else if (c === '-' || (c >= '0' && c <= '9')) {
      NUMBER_TOKEN.lastIndex = i;
      const m = NUMBER_TOKEN.exec(text);
      if (m === null) throw new Error(`oracle: no number token at ${i} in ${text}`);
      out.push(m[0]);
      i += m[0].length;
    } else {
      i++;
    }
  }
  return out;
}

/** The integer literals of more than 15 digits written in a JSON text, sorted. */
function longIntegerLiterals(text: string): string[] {
  return numberTokens(text)
    .filter((t) => LONG_INTEGER.test(t) && t.replace('-', '').length > MAX_SAFE_LITERAL_DIGITS)
    .sort();
}

function exactLiterals(v: unknown): string[] {
  return collectExact(v)
    .map((e) => e.literal)
    .sort();
}

type Reference = { ok: true; text: string; value: unknown } | { ok: false };

/** What parsePayload must do: fatal UTF-8 decode, then JSON.parse. */
function referenceParse(bytes: Uint8Array): Reference {
  let text: string;
  try {
    text = fatalUtf8.decode(bytes);
  } catch {
    return { ok: false };
  }
  try {
    return { ok: true, text, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

/**
 * Property 1 for one valid JSON text: scanner (when it handles the text, also
 * with `end` and a non-zero byteOffset), parsePayload and parseText all agree
 * with JSON.parse, and their ExactIntegers carry exactly the long literals of
 * the text. Returns whether the scanner took the fast path.
 */
function checkValidText(text: string): boolean {
  const expected = JSON.parse(text) as unknown;
  const longLiterals = longIntegerLiterals(text);
  const bytes = Buffer.from(text);
  const scanned = scanJson(bytes);

  const viaText = parseText(text);
  if (!viaText.ok) throw new Error(`parseText rejected valid JSON: ${viaText.detail}\n  input: ${text}`);
  assertAgrees(viaText.value, expected, false, text);
  expect(exactLiterals(viaText.value)).toEqual(longLiterals);

  const payload = parsePayload(bytes);
  if (!payload.ok) throw new Error(`parsePayload rejected valid JSON: ${payload.detail}\n  input: ${text}`);
  assertAgrees(payload.value, expected, false, text);
  expect(exactLiterals(payload.value)).toEqual(longLiterals);

  if (scanned === undefined) return false;
  assertAgrees(scanned.value, expected, false, text);
  expect(exactLiterals(scanned.value)).toEqual(longLiterals);
  // the fast path and the fallback produce identical values, ExactIntegers included
  assertAgrees(scanned.value, viaText.value, true, text);

  // same bytes inside a larger buffer, at an odd byteOffset, with garbage after `end`
  const framed = Buffer.concat([Buffer.from('\u0001x'), bytes, Buffer.from('}]"\\\u00ff,')]);
  const inner = framed.subarray(2);
  const rescanned = scanJson(inner, bytes.length);
  if (rescanned === undefined) throw new Error(`scanJson(bytes, end) bailed where scanJson(bytes) did not\n  input: ${text}`);
  assertAgrees(rescanned.value, scanned.value, true, text);
  return true;
}

// ---------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------

/** Printable ASCII except '"' and '\\': what the scanner handles without escapes. */
const safeChar = fc
  .integer({ min: 0x20, max: 0x7e })
  .filter((c) => c !== 0x22 && c !== 0x5c)
  .map((c) => String.fromCharCode(c));
const safeString = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: safeChar, maxLength: 16 }) },
  // longer than the scanner's interning limit (32) and its short-copy limit (64)
  { weight: 1, arbitrary: fc.string({ unit: safeChar, minLength: 30, maxLength: 160 }) },
);
/** Strings made of digits that must never become numbers. */
const digitString = fc.stringMatching(/^-?\d{12,25}$/);

const doubleArb: fc.Arbitrary<number> = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(
    -0,
    0,
    5e-324,
    -5e-324,
    2.2250738585072014e-308,
    Number.MAX_VALUE,
    -Number.MAX_VALUE,
    0.1,
    0.30000000000000004,
    1e21,
    1e22,
    1e23,
    1e-7,
    Number('123456.789012345678901'),
    Number('9007199254740993'),
    -1.7976931348623157e308,
  ),
  fc.integer({ min: -10_000_000, max: 10_000_000 }).map((n) => n / 100),
  fc.tuple(fc.integer({ min: -999_999_999, max: 999_999_999 }), fc.integer({ min: -40, max: 40 })).map(([m, e]) => m * 10 ** e),
);

const intArb: fc.Arbitrary<number | bigint> = fc.oneof(
  fc.integer(),
  fc.maxSafeInteger(),
  fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }),
  fc.bigInt({ min: 2n ** 53n, max: 2n ** 64n }),
  fc.constantFrom(2n ** 53n, 2n ** 53n + 1n, 10n ** 15n - 1n, 10n ** 15n, -(10n ** 15n), 12345678901234567891n, 1_760_000_000_123_456_789n),
);

type MarketValue = number | bigint | string | boolean | null | MarketValue[];
type MarketEvent = [string, MarketValue][];

const MARKET_KEYS = ['type', 'provider', 'symbol', 'price', 'size', 'trade_id', 'ts_exchange', 'ts_recv', 'bids', 'asks', 'side', 'seq'] as const;

const levelArb: fc.Arbitrary<MarketValue> = fc.array(
  fc.tuple(doubleArb, fc.oneof(doubleArb, intArb)).map(([p, s]): MarketValue => [p, s]),
  { maxLength: 6 },
);
const scalarArb: fc.Arbitrary<MarketValue> = fc.oneof(doubleArb, intArb, safeString, digitString, fc.boolean(), fc.constant(null));

function valueFor(key: string): fc.Arbitrary<MarketValue> {
  switch (key) {
    case 'type':
      return fc.oneof(fc.constantFrom('trade', 'quote', 'book'), scalarArb);
    case 'provider':
      return fc.oneof(fc.constantFrom('binance', 'bybit', 'okx'), scalarArb);
    case 'symbol':
      return fc.oneof(fc.constantFrom('BTCUSDT', 'ETHUSDT', 'SOLUSDT'), safeString);
    case 'price':
    case 'size':
      return fc.oneof(doubleArb, scalarArb);
    case 'trade_id':
      return fc.oneof(intArb, digitString, safeString);
    case 'ts_exchange':
    case 'ts_recv':
    case 'seq':
      return fc.oneof(intArb, doubleArb);
    case 'bids':
    case 'asks':
      return fc.oneof({ weight: 4, arbitrary: levelArb }, { weight: 1, arbitrary: scalarArb });
    default:
      return scalarArb;
  }
}

const entry = (key: string) => valueFor(key).map((v): [string, MarketValue] => [key, v]);

/** Flat market-data-like objects with random keys from MARKET_KEYS (and a few others). */
const flatEventArb: fc.Arbitrary<MarketEvent> = fc
  .uniqueArray(fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...MARKET_KEYS) }, { weight: 1, arbitrary: safeString.filter((k) => k !== '__proto__') }), {
    maxLength: 12,
  })
  .chain((keys) => fc.tuple(...keys.map(entry)));

const tsArb = fc.oneof(fc.integer({ min: 1_700_000_000_000, max: 1_800_000_000_000 }), fc.bigInt({ min: 1_700_000_000_000_000_000n, max: 1_800_000_000_000_000_000n }));
const providerArb = fc.constantFrom('binance', 'bybit', 'okx');
const symbolArb = fc.oneof(fc.constantFrom('BTCUSDT', 'ETHUSDT', 'SOLUSDT'), fc.stringMatching(/^[A-Z0-9]{2,12}$/));

const tradeArb: fc.Arbitrary<MarketEvent> = fc
  .tuple(providerArb, symbolArb, doubleArb, doubleArb, fc.constantFrom('buy', 'sell'), fc.oneof(intArb, digitString), tsArb, tsArb)
  .map(([provider, symbol, price, size, side, tradeId, tsEx, tsRecv]): MarketEvent => [
    ['type', 'trade'],
    ['provider', provider],
    ['symbol', symbol],
    ['price', price],
    ['size', size],
    ['side', side],
    ['trade_id', tradeId],
    ['ts_exchange', tsEx],
    ['ts_recv', tsRecv],
  ]);

const quoteArb: fc.Arbitrary<MarketEvent> = fc
  .tuple(providerArb, symbolArb, levelArb, levelArb, tsArb, tsArb)
  .map(([provider, symbol, bids, asks, tsEx, tsRecv]): MarketEvent => [
    ['type', 'quote'],
    ['provider', provider],
    ['symbol', symbol],
    ['bids', bids],
    ['asks', asks],
    ['ts_exchange', tsEx],
    ['ts_recv', tsRecv],
  ]);

const marketEventArb = fc.oneof(tradeArb, quoteArb, flatEventArb);

interface Style {
  /** whitespace put around every structural character */
  readonly ws: string;
  /** write -0 as "-0" (JSON.stringify writes "0") */
  readonly negZero: boolean;
  /** write numbers with toExponential(), e.g. "1.5e+0" */
  readonly exponent: boolean;
}

const styleArb: fc.Arbitrary<Style> = fc.record({
  ws: fc.constantFrom('', '', ' ', '\n', '\t', '\r\n  ', ' \t'),
  negZero: fc.boolean(),
  exponent: fc.boolean(),
});

/** Hand-rolled serializer: bigints as raw digits (what JSON.stringify cannot do), -0, whitespace. */
function serializeValue(v: MarketValue, s: Style): string {
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') {
    if (Object.is(v, -0) && s.negZero) return '-0';
    if (s.exponent && v !== 0) return v.toExponential();
    return JSON.stringify(v);
  }
  if (Array.isArray(v)) return `[${s.ws}${v.map((x) => serializeValue(x, s)).join(`${s.ws},${s.ws}`)}${s.ws}]`;
  return JSON.stringify(v);
}

function serializeEvent(e: MarketEvent, s: Style): string {
  const body = e.map(([k, v]) => `${JSON.stringify(k)}${s.ws}:${s.ws}${serializeValue(v, s)}`).join(`${s.ws},${s.ws}`);
  return `${s.ws}{${s.ws}${body}${s.ws}}${s.ws}`;
}

function toPlain(v: MarketValue): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(toPlain);
  return v;
}

/** The canonical encoding: JSON.stringify (bigints become doubles). */
function stringifyEvent(e: MarketEvent): string {
  return JSON.stringify(Object.fromEntries(e.map(([k, v]) => [k, toPlain(v)])));
}

/**
 * Checks what JSON.parse cannot: bigints decode as ExactInteger with exactly
 * their digits (or as the same number when they have <= 15 digits), and digit
 * strings stay strings.
 */
function checkAgainstSource(source: MarketValue, actual: unknown, path: string): void {
  if (typeof source === 'bigint') {
    const digits = source.toString().replace('-', '').length;
    if (digits > MAX_SAFE_LITERAL_DIGITS) {
      if (!(actual instanceof ExactInteger) || actual.literal !== source.toString() || actual.value !== Number(source)) {
        throw new Error(`${path}: expected ExactInteger(${source}), got ${show(actual)}`);
      }
    } else if (actual !== Number(source)) {
      throw new Error(`${path}: expected ${source}, got ${show(actual)}`);
    }
  } else if (typeof source === 'string') {
    if (actual !== source) throw new Error(`${path}: expected string ${JSON.stringify(source)}, got ${show(actual)}`);
  } else if (Array.isArray(source)) {
    if (!Array.isArray(actual) || actual.length !== source.length) throw new Error(`${path}: expected array, got ${show(actual)}`);
    source.forEach((x, i) => checkAgainstSource(x, actual[i] as unknown, `${path}[${i}]`));
  }
}

function checkEventAgainstSource(e: MarketEvent, actual: unknown): void {
  if (!isPlainObject(actual)) throw new Error(`expected an object, got ${show(actual)}`);
  for (const [k, v] of e) checkAgainstSource(v, actual[k], `$.${k}`);
}

/** jsonValue with only scanner-friendly strings; containers nested at most 6 deep (the scanner's limit). */
const safeJsonValue = fc.jsonValue({ stringUnit: safeChar, maxDepth: 6 });

// ---------------------------------------------------------------------------
// 1. agreement with JSON.parse on valid texts
// ---------------------------------------------------------------------------

describe('property 1: scanJson agrees with JSON.parse whenever it handles the input', () => {
  it('fc.jsonValue (default ASCII strings) via JSON.stringify', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        checkValidText(JSON.stringify(v));
      }),
      { numRuns: 400 },
    );
  });

  it('fc.jsonValue with arbitrary UTF-16 (binary) strings via JSON.stringify', () => {
    fc.assert(
      fc.property(fc.jsonValue({ stringUnit: 'binary', maxDepth: 4 }), (v) => {
        checkValidText(JSON.stringify(v));
      }),
      { numRuns: 250 },
    );
  });

  it('fc.jsonValue with scanner-friendly strings, compact and pretty-printed', () => {
    fc.assert(
      fc.property(safeJsonValue, fc.constantFrom(undefined, 1, 2, '\t'), (v, indent) => {
        checkValidText(JSON.stringify(v, null, indent));
      }),
      { numRuns: 400 },
    );
  });

  it('fc.json texts', () => {
    fc.assert(
      fc.property(fc.json(), (text) => {
        checkValidText(text);
      }),
      { numRuns: 300 },
    );
  });

  it('market-data-like events via JSON.stringify', () => {
    fc.assert(
      fc.property(marketEventArb, (e) => {
        checkValidText(stringifyEvent(e));
      }),
      { numRuns: 500 },
    );
  });

  it('market-data-like events with raw long integer literals, -0, exponents and whitespace', () => {
    fc.assert(
      fc.property(marketEventArb, styleArb, (e, style) => {
        const text = serializeEvent(e, style);
        checkValidText(text);
        const r = parsePayload(Buffer.from(text));
        if (!r.ok) throw new Error(r.detail);
        checkEventAgainstSource(e, r.value);
      }),
      { numRuns: 500 },
    );
  });
});

// ---------------------------------------------------------------------------
// 2. the fast path is actually taken on canonical inputs
// ---------------------------------------------------------------------------

describe('property 2: canonical inputs take the fast path', () => {
  it('canonical trade / quote / flat events (JSON.stringify and raw-literal encodings) are handled', () => {
    fc.assert(
      fc.property(marketEventArb, styleArb, (e, style) => {
        for (const text of [stringifyEvent(e), serializeEvent(e, style)]) {
          const scanned = scanJson(Buffer.from(text));
          if (scanned === undefined) throw new Error(`scanJson bailed on a canonical event: ${text}`);
          assertAgrees(scanned.value, JSON.parse(text) as unknown, false, text);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('escape-free ASCII JSON nested at most 6 deep (no __proto__ keys) is handled', () => {
    const hasProtoKey = (v: unknown): boolean =>
      Array.isArray(v) ? v.some(hasProtoKey) : isPlainObject(v) && Object.keys(v).some((k) => k === '__proto__' || hasProtoKey(v[k]));
    fc.assert(
      fc.property(
        safeJsonValue.filter((v) => !hasProtoKey(v)),
        (v) => {
          const text = JSON.stringify(v);
          expect(checkValidText(text), `scanJson bailed on ${text}`).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});

// ---------------------------------------------------------------------------
// 3. number literals
// ---------------------------------------------------------------------------

/** Checks one number literal at top level, in an array, in an object and bounded by `end`. */
function checkNumberLiteral(literal: string): void {
  const valid = JSON_NUMBER.test(literal);
  let parsed: unknown;
  let parseOk = true;
  try {
    parsed = JSON.parse(literal) as unknown;
  } catch {
    parseOk = false;
  }
  // the oracle's grammar agrees with JSON.parse, and JSON.parse with Number()
  expect(parseOk, `JSON.parse vs grammar on ${clip(literal)}`).toBe(valid);
  if (parseOk) expect(Object.is(parsed, Number(literal)), `JSON.parse vs Number on ${clip(literal)}`).toBe(true);

  const contexts: [string, (v: unknown) => unknown][] = [
    [literal, (v) => v],
    [`[${literal}, ${literal}]`, (v) => (Array.isArray(v) && v.length === 2 && diff(v[0], v[1], true) === null ? v[0] : Symbol('mismatch'))],
    [`{"p":${literal}}`, (v) => (isPlainObject(v) ? v.p : Symbol('not an object'))],
  ];
  for (const [text, pick] of contexts) {
    const scanned = scanJson(Buffer.from(text));
    if (!valid) {
      if (scanned !== undefined) throw new Error(`scanJson accepted invalid JSON ${clip(text)} as ${show(scanned.value)}`);
      expect(parsePayload(Buffer.from(text)).ok, `parsePayload on ${clip(text)}`).toBe(false);
      continue;
    }
    if (scanned === undefined) throw new Error(`scanJson bailed on valid number literal: ${clip(text)}`);
    const got = pick(scanned.value);
    const expectedNumber = Number(literal);
    const digits = literal.replace('-', '').length;
    if (LONG_INTEGER.test(literal) && digits > MAX_SAFE_LITERAL_DIGITS) {
      if (!(got instanceof ExactInteger) || got.literal !== literal || !Object.is(got.value, expectedNumber)) {
        throw new Error(`${clip(text)}: expected ExactInteger(${literal}, ${expectedNumber}), got ${show(got)}`);
      }
    } else if (typeof got !== 'number' || !Object.is(got, expectedNumber)) {
      throw new Error(`${clip(text)}: expected Number(literal) = ${show(expectedNumber)}, got ${show(got)}`);
    }
  }
  // bounded by `end` inside a longer buffer: the scanner must not read past `end`
  const bounded = Buffer.from(`${literal}123e5`);
  const viaEnd = scanJson(bounded, literal.length);
  const direct = scanJson(Buffer.from(literal));
  if (direct === undefined) expect(viaEnd).toBeUndefined();
  else if (viaEnd === undefined || diff(viaEnd.value, direct.value, true) !== null) {
    throw new Error(`scanJson(bytes, end) differs for ${clip(literal)}: ${show(viaEnd?.value)} vs ${show(direct.value)}`);
  }
}

const numberLiteralArb: fc.Arbitrary<string> = fc
  .record({
    neg: fc.boolean(),
    int: fc.oneof(
      { weight: 4, arbitrary: fc.stringMatching(/^[1-9]\d{0,24}$/) },
      { weight: 2, arbitrary: fc.constant('0') },
      // may have leading zeros: invalid JSON when longer than one digit
      { weight: 1, arbitrary: fc.stringMatching(/^\d{1,25}$/) },
    ),
    frac: fc.option(fc.stringMatching(/^\d{1,25}$/)),
    exp: fc.option(
      fc.record({
        e: fc.constantFrom('e', 'E'),
        sign: fc.constantFrom('', '+', '-'),
        zeros: fc.constantFrom('', '', '', '0', '000'),
        value: fc.oneof(fc.integer({ min: 0, max: 400 }), fc.integer({ min: 280, max: 330 })),
      }),
    ),
  })
  .map(({ neg, int, frac, exp }) => `${neg ? '-' : ''}${int}${frac === null ? '' : `.${frac}`}${exp === null ? '' : `${exp.e}${exp.sign}${exp.zeros}${exp.value}`}`);

/** Few significant digits and small exponents: Clinger's fast-path territory. */
const fastPathLiteralArb: fc.Arbitrary<string> = fc
  .tuple(fc.boolean(), fc.integer({ min: 0, max: 999_999_999_999_999 }), fc.integer({ min: 0, max: 20 }), fc.integer({ min: -30, max: 30 }))
  .map(([neg, m, fracLen, e]) => {
    const digits = String(m);
    const cut = Math.max(1, digits.length - fracLen);
    const intPart = digits.slice(0, cut);
    const fracPart = digits.slice(cut);
    return `${neg ? '-' : ''}${intPart}${fracPart === '' ? '' : `.${fracPart}`}${e === 0 ? '' : `e${e}`}`;
  });

describe('property 3: number literals are parsed exactly', () => {
  it('random literals: undefined iff invalid JSON, else exactly Number(literal) or ExactInteger', () => {
    fc.assert(fc.property(numberLiteralArb, checkNumberLiteral), { numRuns: 3000 });
  });

  it('literals in the Clinger fast-path range', () => {
    fc.assert(fc.property(fastPathLiteralArb, checkNumberLiteral), { numRuns: 2000 });
  });

  it('shortest round-trip spellings of random doubles (JSON.stringify, toExponential, toPrecision)', () => {
    fc.assert(
      fc.property(doubleArb, fc.integer({ min: 1, max: 21 }), (d, precision) => {
        for (const literal of [JSON.stringify(d), d.toExponential(), d.toPrecision(precision), d.toFixed(Math.min(precision, 20))]) {
          // toFixed of huge numbers switches to exponent notation with '+', still valid JSON
          checkNumberLiteral(literal.replace('e+', 'e'));
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('hand-picked edge cases', () => {
    const valid = [
      '0',
      '-0',
      '-0.0',
      '0e0',
      '-0e-5',
      '0.0000000000000000000000000',
      '1e22',
      '1e23',
      '9007199254740993',
      '123456789012345',
      '1234567890123456',
      '-1234567890123456',
      '999999999999999.9',
      '2.2250738585072011e-308',
      '2.2250738585072012e-308',
      '4.9406564584124654e-324',
      '2.4703282292062327e-324',
      '2.4703282292062328e-324',
      '1.7976931348623157e308',
      '1.7976931348623158e308',
      '1.7976931348623159e308',
      '1e309',
      '-1e309',
      '1e-400',
      '-1e-400',
      '0.1',
      '0.30000000000000004',
      '1e00000000000000000000000001',
      '123456789012345e-22',
      '123456789012345e22',
      '1234567890123456e-23',
      '0.000000000000000000001234',
      '89255e-22',
      '8.9255e-18',
    ];
    const invalid = ['012', '-012', '00', '-00', '00.5', '01e5', '-', '+1', '.5', '1.', '1.e5', '1e', '1e+', '1e-', '--1', '-.5', '0x10', 'Infinity', '-Infinity', 'NaN', '1_000', '1.5.5', '1e5e5', '١'];
    for (const lit of [...valid, ...invalid]) checkNumberLiteral(lit);
  });
});

/**
 * Regression: found by the properties above. The exponent accumulator used to
 * saturate, dropping exponent digits while `exp - fracDigits` could still land
 * in Clinger's fast-path window [-22, 22] (a fraction of ~100k digits, so a
 * payload of >= 100 KB, under the 1 MiB limit).
 */
describe('property 3b: very long fractions with very large exponents', () => {
  it('"0.<99999 zeros>1e1000000" is Infinity, as JSON.parse says', () => {
    const literal = `0.${'0'.repeat(99_999)}1e1000000`;
    expect(JSON.parse(literal)).toBe(Infinity);
    const scanned = scanJson(Buffer.from(literal));
    // handled or not, it must never disagree with JSON.parse
    expect(scanned === undefined ? Infinity : scanned.value).toBe(Infinity);
    const payload = parsePayload(Buffer.from(literal));
    expect(payload.ok && payload.value).toBe(Infinity);
  });

  it('~100k-digit fractions with 7+ digit exponents agree with JSON.parse', () => {
    // The scanner keeps the first exponent digits up to a value >= 100000 (here
    // `prefix`, 100000..100040) and drops the rest; the fraction length is chosen
    // so that `prefix - fracDigits` lands in [-22, 22]. The real exponent is
    // >= 1000000, so JSON.parse says ±Infinity.
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.integer({ min: 100_000, max: 100_040 }),
        fc.stringMatching(/^\d{1,3}$/),
        fc.stringMatching(/^[1-9]\d{0,3}$/),
        fc.integer({ min: -22, max: 22 }),
        (neg, prefix, tail, sig, shift) => {
          const fracDigits = prefix - shift;
          const literal = `${neg ? '-' : ''}0.${'0'.repeat(fracDigits - sig.length)}${sig}e${prefix}${tail}`;
          checkNumberLiteral(literal);
        },
      ),
      { numRuns: 40 },
    );
  });
});

// ---------------------------------------------------------------------------
// 4. random byte mutations
// ---------------------------------------------------------------------------

type Mutation = { readonly op: 'delete' | 'insert' | 'replace'; readonly at: number; readonly byte: number };

const interestingByte = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 255 }) },
  {
    weight: 5,
    arbitrary: fc.constantFrom(
      0x22, // "
      0x5c, // \
      0x7b, // {
      0x7d, // }
      0x5b, // [
      0x5d, // ]
      0x2c, // ,
      0x3a, // :
      0x2d, // -
      0x2b, // +
      0x2e, // .
      0x65, // e
      0x45, // E
      0x30,
      0x31,
      0x39,
      0x20,
      0x0a,
      0x09,
      0x00,
      0x1f,
      0x7f,
      0x75, // u
      0x6e, // n
      0x80,
      0xc3,
      0xa9,
      0xe2,
      0xef,
      0xbb,
      0xbf,
      0xed, // surrogate lead (invalid in UTF-8)
      0xf0,
      0xff,
    ),
  },
);

const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  op: fc.constantFrom('delete', 'insert', 'replace'),
  at: fc.nat(),
  byte: interestingByte,
});

function mutate(bytes: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  const out = Array.from(bytes);
  for (const m of mutations) {
    if (m.op === 'insert' || out.length === 0) out.splice(m.at % (out.length + 1), 0, m.byte);
    else if (m.op === 'delete') out.splice(m.at % out.length, 1);
    else out[m.at % out.length] = m.byte;
  }
  return Uint8Array.from(out);
}

const validTextArb: fc.Arbitrary<string> = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  safeJsonValue.map((v) => JSON.stringify(v)),
  fc.jsonValue({ stringUnit: 'grapheme', maxDepth: 3 }).map((v) => JSON.stringify(v)),
  fc.tuple(marketEventArb, styleArb).map(([e, s]) => serializeEvent(e, s)),
  marketEventArb.map(stringifyEvent),
  fc.constantFrom(
    '{"trade_id": 12345678901234567891, "x": [1, 98765432109876543210]}',
    '{"s":"a\\\\","n":12345678901234567890,"t":"x\\"1234567890123456789"}',
    '[[[[[[1]]]]]]',
    '[-0, 0.5e-3, 1E+2, true, false, null, ""]',
  ),
);

describe('property 4: random byte mutations', () => {
  it('scanJson and parsePayload never throw, and agree with fatal UTF-8 decode + JSON.parse', () => {
    let handled = 0;
    let accepted = 0;
    fc.assert(
      fc.property(validTextArb, fc.array(mutationArb, { minLength: 1, maxLength: 4 }), (text, mutations) => {
        const bytes = mutate(Buffer.from(text), mutations);
        const context = `${JSON.stringify(Buffer.from(bytes).toString('latin1'))} (latin1 view)`;
        const ref = referenceParse(bytes);

        const scanned = scanJson(bytes); // must not throw
        if (scanned !== undefined) {
          handled++;
          if (!ref.ok) throw new Error(`scanJson accepted bytes that UTF-8 decode + JSON.parse reject: ${context} -> ${show(scanned.value)}`);
          assertAgrees(scanned.value, ref.value, false, context);
          const tokens = numberTokens(ref.text);
          for (const e of collectExact(scanned.value)) {
            if (!tokens.includes(e.literal)) throw new Error(`ExactInteger literal ${e.literal} not written in ${context}`);
          }
          const viaText = parseText(ref.text);
          if (!viaText.ok) throw new Error(`parseText rejected what scanJson accepted: ${context}`);
          assertAgrees(scanned.value, viaText.value, true, context);
        }

        const payload = parsePayload(bytes); // must not throw
        if (payload.ok !== ref.ok) {
          throw new Error(`parsePayload ok=${payload.ok} but reference ok=${ref.ok} on ${context}${payload.ok ? '' : `: ${payload.detail}`}`);
        }
        if (payload.ok && ref.ok) {
          accepted++;
          assertAgrees(payload.value, ref.value, false, context);
          const tokens = numberTokens(ref.text);
          for (const e of collectExact(payload.value)) {
            if (!tokens.includes(e.literal)) throw new Error(`ExactInteger literal ${e.literal} not written in ${context}`);
          }
        }
      }),
      { numRuns: 3000 },
    );
    // sanity: the mutations leave a fair share of inputs valid, so both branches are exercised
    expect(handled).toBeGreaterThan(30);
    expect(accepted).toBeGreaterThan(handled);
  });
});

// ---------------------------------------------------------------------------
// 5. long integer literals through parsePayload, fast path and fallback
// ---------------------------------------------------------------------------

const X = (literal: string) => new ExactInteger(literal, Number(literal));

/** An object with an own "__proto__" data property, as JSON.parse builds it. */
function withOwnProto(value: unknown): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  Object.defineProperty(o, '__proto__', { value, enumerable: true, writable: true, configurable: true });
  return o;
}

interface LongIntCase {
  readonly name: string;
  readonly text: string;
  /** whether the scanner is expected to handle the text */
  readonly fast: boolean;
  readonly expected: unknown;
}

const LONG_INT_CASES: readonly LongIntCase[] = [
  {
    name: 'the canonical example',
    text: '{"trade_id": 12345678901234567891, "x": [1, 98765432109876543210]}',
    fast: true,
    expected: { trade_id: X('12345678901234567891'), x: [1, X('98765432109876543210')] },
  },
  {
    name: 'compact',
    text: '{"trade_id":12345678901234567891,"x":[1,98765432109876543210]}',
    fast: true,
    expected: { trade_id: X('12345678901234567891'), x: [1, X('98765432109876543210')] },
  },
  {
    name: 'whitespace everywhere',
    text: ' \n{\n\t"trade_id" :\r\n 12345678901234567891 ,"x":[ 1 ,\t98765432109876543210 ] }\n\t ',
    fast: true,
    expected: { trade_id: X('12345678901234567891'), x: [1, X('98765432109876543210')] },
  },
  {
    name: 'digit strings stay strings',
    text: '{"id": "12345678901234567890", "trade_id": 12345678901234567891, "ids": ["98765432109876543210", 98765432109876543210]}',
    fast: true,
    expected: { id: '12345678901234567890', trade_id: X('12345678901234567891'), ids: ['98765432109876543210', X('98765432109876543210')] },
  },
  {
    name: 'a digit key stays a key',
    text: '{"12345678901234567890": 12345678901234567890}',
    fast: true,
    expected: { '12345678901234567890': X('12345678901234567890') },
  },
  {
    name: 'top level, negative, surrounded by whitespace',
    text: '  -98765432109876543210  ',
    fast: true,
    expected: X('-98765432109876543210'),
  },
  {
    name: '15 vs 16 digits',
    text: '[123456789012345, 1234567890123456, -123456789012345, -1234567890123456, 9007199254740993]',
    fast: true,
    expected: [123456789012345, X('1234567890123456'), -123456789012345, X('-1234567890123456'), X('9007199254740993')],
  },
  {
    name: 'long literals with fraction or exponent are plain numbers',
    text: '[12345678901234567890.5, 12345678901234567890e2, 1.2345678901234567890, 12345678901234567890E-2, -12345678901234567890e+0]',
    fast: true,
    expected: ['12345678901234567890.5', '12345678901234567890e2', '1.2345678901234567890', '12345678901234567890E-2', '-12345678901234567890e+0'].map(Number),
  },
  {
    name: 'nesting exactly 6 deep',
    text: '{"a":[{"b":[[{"c":12345678901234567891}]]}]}',
    fast: true,
    expected: { a: [{ b: [[{ c: X('12345678901234567891') }]] }] },
  },
  {
    name: 'fallback forced by an escape',
    text: '{"trade_id": 12345678901234567891, "note": "a\\nb", "x": [1, 98765432109876543210]}',
    fast: false,
    expected: { trade_id: X('12345678901234567891'), note: 'a\nb', x: [1, X('98765432109876543210')] },
  },
  {
    name: 'fallback: digit strings next to escapes stay strings',
    text: '{"id": "12345678901234567890", "note": "a\\nb", "trade_id": -12345678901234567891}',
    fast: false,
    expected: { id: '12345678901234567890', note: 'a\nb', trade_id: X('-12345678901234567891') },
  },
  {
    name: 'fallback: escaped quote before digits inside a string',
    text: '{"s": "x\\"12345678901234567890", "n": 12345678901234567890}',
    fast: false,
    expected: { s: 'x"12345678901234567890', n: X('12345678901234567890') },
  },
  {
    name: 'fallback: string ending in an escaped backslash',
    text: '{"s": "a\\\\", "n": [12345678901234567890, "98765432109876543210", "\\\\12345678901234567890\\\\"]}',
    fast: false,
    expected: { s: 'a\\', n: [X('12345678901234567890'), '98765432109876543210', '\\12345678901234567890\\'] },
  },
  {
    name: 'fallback: \\u escapes and digits',
    text: '{"s": "\\u00301234567890123456789\\u0022", "n": 12345678901234567890}',
    fast: false,
    expected: { s: '01234567890123456789"', n: X('12345678901234567890') },
  },
  {
    name: 'fallback forced by non-ASCII',
    text: '{"venue": "café", "trade_id": 12345678901234567891}',
    fast: false,
    expected: { venue: 'café', trade_id: X('12345678901234567891') },
  },
  {
    name: 'fallback forced by nesting deeper than 6',
    text: '[[[[[[[12345678901234567891, "12345678901234567891"]]]]]]]',
    fast: false,
    expected: [[[[[[[X('12345678901234567891'), '12345678901234567891']]]]]]],
  },
  {
    name: 'fallback forced by a __proto__ key',
    text: '{"__proto__": 12345678901234567891}',
    fast: false,
    expected: withOwnProto(X('12345678901234567891')),
  },
  {
    name: 'fallback: long fractions and exponents stay plain numbers',
    text: '["\\t", 12345678901234567890.5, 12345678901234567890e2, -12345678901234567890E-2]',
    fast: false,
    expected: ['\t', ...['12345678901234567890.5', '12345678901234567890e2', '-12345678901234567890E-2'].map(Number)],
  },
];

describe('property 5: long integer literals through parsePayload', () => {
  for (const c of LONG_INT_CASES) {
    it(`${c.name}: ${c.fast ? 'fast path' : 'fallback'}`, () => {
      const bytes = Buffer.from(c.text);
      expect(scanJson(bytes) !== undefined, 'scanner handled the text').toBe(c.fast);
      const r = parsePayload(bytes);
      if (!r.ok) throw new Error(r.detail);
      assertAgrees(r.value, c.expected, true, c.text);
      assertAgrees(r.value, JSON.parse(c.text) as unknown, false, c.text);
      // the fallback on its own gives the same result
      const t = parseText(c.text);
      if (!t.ok) throw new Error(t.detail);
      assertAgrees(t.value, c.expected, true, c.text);
    });
  }

  it('random events with raw long integers: ExactInteger with the exact literal on both paths', () => {
    const escapes = fc.constantFrom('a\nb', 'tab\there', 'q"uote', 'back\\slash', 'caf\u00e9', '\u0000', '\u2028');
    fc.assert(
      fc.property(marketEventArb, styleArb, fc.option(escapes), (e, style, escape) => {
        const event: MarketEvent = escape === null ? e : [...e.filter(([k]) => k !== 'zz_note'), ['zz_note', escape]];
        const text = serializeEvent(event, style);
        const bytes = Buffer.from(text);
        const scanned = scanJson(bytes);
        if (escape === null && scanned === undefined) throw new Error(`canonical event not handled: ${text}`);
        if (escape !== null && scanned !== undefined) throw new Error(`scanner handled a string that needs JSON.parse: ${text}`);
        const r = parsePayload(bytes);
        if (!r.ok) throw new Error(`${r.detail}\n  input: ${text}`);
        assertAgrees(r.value, JSON.parse(text) as unknown, false, text);
        checkEventAgainstSource(event, r.value);
        expect(exactLiterals(r.value)).toEqual(longIntegerLiterals(text));
        // the fallback alone gives exactly the same thing
        const t = parseText(text);
        if (!t.ok) throw new Error(t.detail);
        assertAgrees(r.value, t.value, true, text);
      }),
      { numRuns: 500 },
    );
  });
});
