import { asciiString } from './ascii.js';
import { MAX_SAFE_LITERAL_DIGITS } from './exact-integer.js';

/**
 * The JSON number grammar over raw bytes, shared by the byte scanner and the
 * canonical decoder: exactly JSON's syntax, and the value `JSON.parse` gives
 * (Clinger's fast path when exact; integers of 16–19 digits, as nanosecond
 * timestamps are, put together exactly and rounded once; else `Number()` of
 * the literal).
 */

const TWO_POW_53 = 9007199254740992;
/** Exact powers of ten: every one up to 1e22 is representable as a double. */
const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];

/** Integer literals of up to 19 digits are below 2^64: {@link wideInteger} carries them exactly. */
const MAX_WIDE_DIGITS = 19;

/** 10^k for the up to 4 digits past the 15th. */
const TAIL_SCALE = [1, 10, 100, 1000, 10000];
const TWO_POW_24 = 16777216;

/**
 * The double nearest the integer whose digits are `b[p, end)` (16 to 19, no
 * leading zero), as `Number(literal)` gives it, without making a string: the
 * first 15 digits are read exactly (`head` < 10^15), the rest as `tail` < 10^4,
 * and `head·10^k + tail` is put together from two exact parts (`head` split at
 * 2^24: below 2^40 and 2^38), so the one addition rounds once, to nearest even.
 */
function wideInteger(b: Uint8Array, p: number, end: number, neg: boolean): number {
  const headEnd = p + MAX_SAFE_LITERAL_DIGITS;
  let head = 0;
  for (; p < headEnd; p++) head = head * 10 + (b[p]! - 0x30);
  let tail = 0;
  for (; p < end; p++) tail = tail * 10 + (b[p]! - 0x30);
  const scale = TAIL_SCALE[end - headEnd]!;
  const hh = Math.floor(head / TWO_POW_24);
  const v = hh * scale * TWO_POW_24 + ((head - hh * TWO_POW_24) * scale + tail);
  return neg ? -v : v;
}

/** What the last {@link readJsonNumber} saw; a reused record, so reading allocates nothing. */
export const numberScan = {
  /** One past the literal. */
  end: 0,
  /** An integer literal of more than 15 digits: its value may have lost digits. */
  longInteger: false,
};


/**
 * The value {@link scanJsonNumber} read last. A typed array, so the value
 * leaves the reader as a raw double: a double returned from a function the
 * compiler does not inline is boxed in a fresh heap number (DECISIONS 92).
 */
export const scannedNumber = new Float64Array(1);

/**
 * Reads the JSON number literal at `b[p]`; NaN when the bytes there are not
 * one (NaN is never a JSON value). Sets {@link numberScan}.
 */
export function readJsonNumber(b: Uint8Array, p: number, end: number): number {
  return scanJsonNumber(b, p, end) < 0 ? NaN : scannedNumber[0]!;
}

/**
 * Reads the JSON number literal at `b[p]` into {@link scannedNumber}; returns
 * one past it (also in {@link numberScan}), or -1 when the bytes there are
 * not one.
 */
export function scanJsonNumber(b: Uint8Array, p: number, end: number): number {
  const start = p;
  let neg = false;
  if (b[p] === 0x2d) {
    neg = true;
    p++;
  }
  if (p >= end) return -1;
  let mantissa = 0;
  let intDigits = 0;
  let c = b[p]!;
  if (c === 0x30) {
    p++;
    intDigits = 1;
  } else if (c >= 0x31 && c <= 0x39) {
    let d: number;
    while (p < end && (d = b[p]! - 0x30) >>> 0 <= 9) {
      mantissa = mantissa * 10 + d;
      p++;
    }
    intDigits = p - start - (neg ? 1 : 0);
  } else {
    return -1;
  }
  let fracDigits = 0;
  let isInteger = true;
  if (p < end && b[p] === 0x2e) {
    isInteger = false;
    p++;
    const fracStart = p;
    let d: number;
    while (p < end && (d = b[p]! - 0x30) >>> 0 <= 9) {
      mantissa = mantissa * 10 + d;
      p++;
    }
    fracDigits = p - fracStart;
    if (fracDigits === 0) return -1;
  }
  let exp = 0;
  if (p < end && (b[p] === 0x65 || b[p] === 0x45)) {
    isInteger = false;
    p++;
    let expNeg = false;
    if (p < end && (b[p] === 0x2b || b[p] === 0x2d)) {
      expNeg = b[p] === 0x2d;
      p++;
    }
    const expStart = p;
    while (p < end && (c = b[p]!) >= 0x30 && c <= 0x39) {
      exp = exp * 10 + (c - 0x30);
      p++;
    }
    if (exp > 1e9) exp = 1e9;
    if (p === expStart) return -1;
    if (expNeg) exp = -exp;
  }
  numberScan.end = p;
  numberScan.longInteger = isInteger && intDigits > MAX_SAFE_LITERAL_DIGITS;
  if (numberScan.longInteger) {
    // nanosecond timestamps are 19 digits: read them without a string
    scannedNumber[0] = intDigits <= MAX_WIDE_DIGITS ? wideInteger(b, p - intDigits, p, neg) : Number(asciiString(b, start, p));
    return p;
  }
  const e10 = exp - fracDigits;
  // Clinger's fast path: the digits accumulated exactly when the result stays below 2^53
  // (every partial value is smaller, and rounding never brings a larger one below it),
  // and 10^|e10| is exact, so one IEEE operation rounds correctly.
  if (mantissa < TWO_POW_53 && e10 >= -22 && e10 <= 22) {
    const v = e10 < 0 ? mantissa / POW10[-e10]! : mantissa * POW10[e10]!;
    scannedNumber[0] = neg ? -v : v;
    return p;
  }
  scannedNumber[0] = Number(asciiString(b, start, p));
  return p;
}
