import type { BookLevel, MarketEvent } from '../domain/events.js';
import { inValueRange } from '../domain/events.js';
import { normalizeSymbol } from '../domain/symbol.js';
import { AsciiMemo } from './ascii.js';
import { numberScan, readJsonNumber, scanJsonNumber, scannedNumber } from './json-number.js';

/**
 * What both readers of canonical payloads share (canonical-layout.ts, the
 * publisher's exact layout; canonical-decoder.ts, any flat canonical object):
 * the memoised providers and symbols, numbers, book levels and the book event.
 * Decoding is synchronous, so the scratch state is one set per process.
 */

/** FNV-1a of string values: the memos' slot hash. */
export const FNV_OFFSET = 0x811c9dc5;
export const FNV_PRIME = 0x01000193;

/** Longer strings are not memoised (and never are canonical providers or symbols). */
export const MAX_MEMO_LENGTH = 64;
export const providers = new AsciiMemo<string>(256, (raw) => {
  const p = raw.trim().toLowerCase();
  return p.length > 0 ? p : 'unknown';
});
export const symbols = new AsciiMemo<string | null>(8192, normalizeSymbol);

/**
 * One past the value {@link numberAt} or {@link levelsAt} just read. Valid
 * only right after one of them succeeded (a failed read may leave it anywhere).
 */
export const scanned = { end: 0 };

export function isWs(c: number): boolean {
  return c <= 0x20 && (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09); // one compare for every other byte
}

export function skipWs(b: Uint8Array, p: number, end: number): number {
  while (p < end && isWs(b[p]!)) p++;
  return p;
}

/**
 * The JSON number at `p`; sets `scanned.end`. NaN when not a number this path
 * handles: integer literals over 15 digits are ExactInteger on the general
 * path, unless `longIntegers` (timestamps: a nanosecond literal is read as
 * `Number(literal)`, the value ExactInteger gives `timestampValue`; only a
 * trade id needs the literal's exact digits).
 */
export function numberAt(b: Uint8Array, p: number, end: number, longIntegers = false): number {
  const e = scanJsonNumber(b, p, end);
  if (e < 0 || (numberScan.longInteger && !longIntegers)) return NaN;
  scanned.end = e;
  return scannedNumber[0]!;
}

/**
 * The number a string value `b[start, end)` spells when it is exactly a JSON
 * number literal — what the general path's `readNumber` gives such a string
 * (`Number(s)`, correctly rounded like the literal); NaN for any other string
 * (the general path decides: `" 1"`, `".5"`, `"1."`, `"+1"`, …).
 */
export function numericStringAt(b: Uint8Array, start: number, end: number): number {
  if (start >= end) return NaN;
  const v = readJsonNumber(b, start, end);
  return numberScan.end === end ? v : NaN;
}

/** A book level's price or size at `p`: a number, or a string spelling one (exchanges send both); sets `scanned.end`. */
function levelValueAt(b: Uint8Array, p: number, end: number): number {
  if (b[p] !== 0x22) return numberAt(b, p, end);
  let q = p + 1;
  while (q < end && b[q] !== 0x22) q++;
  if (q >= end) return NaN;
  const v = numericStringAt(b, p + 1, q);
  scanned.end = q + 1;
  return v;
}

/** `[[price, size], …]` at `p` with exactly two numbers per level; null when not that shape. Sets `scanned.end`. */
export function levelsAt(b: Uint8Array, p: number, end: number): BookLevel[] | null {
  p = skipWs(b, p + 1, end);
  const out: BookLevel[] = [];
  if (p < end && b[p] === 0x5d) {
    scanned.end = p + 1;
    return out;
  }
  for (;;) {
    if (p >= end || b[p] !== 0x5b) return null;
    p = skipWs(b, p + 1, end);
    if (p >= end) return null;
    const price = levelValueAt(b, p, end);
    if (Number.isNaN(price)) return null;
    p = skipWs(b, scanned.end, end);
    if (p >= end || b[p] !== 0x2c) return null;
    p = skipWs(b, p + 1, end);
    if (p >= end) return null;
    const size = levelValueAt(b, p, end);
    if (Number.isNaN(size)) return null;
    p = skipWs(b, scanned.end, end);
    if (p >= end || b[p] !== 0x5d) return null;
    out.push([price, size]);
    p = skipWs(b, p + 1, end);
    if (p >= end) return null;
    const c = b[p++]!;
    if (c === 0x5d) {
      scanned.end = p;
      return out;
    }
    if (c !== 0x2c) return null;
    p = skipWs(b, p, end);
  }
}

function validLevels(levels: BookLevel[]): boolean {
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!;
    const price = level[0];
    const size = level[1];
    if (!(inValueRange(price) && Number.isFinite(size) && size >= 0)) return false;
  }
  return true;
}

function sortedDescending(levels: BookLevel[]): boolean {
  for (let i = 1; i < levels.length; i++) if (levels[i - 1]![0] < levels[i]![0]) return false;
  return true;
}
function sortedAscending(levels: BookLevel[]): boolean {
  for (let i = 1; i < levels.length; i++) if (levels[i - 1]![0] > levels[i]![0]) return false;
  return true;
}
function byPriceDescending(a: BookLevel, b: BookLevel): number {
  return b[0] - a[0];
}
function byPriceAscending(a: BookLevel, b: BookLevel): number {
  return a[0] - b[0];
}


/** The book event of these levels (sorted in place when they are not); undefined when the general path must decide. */
export function bookOf(provider: string, symbol: string, bids: BookLevel[], asks: BookLevel[], tsExchange: number | null, tsRecv: number | null): MarketEvent | undefined {
  if (bids.length === 0 || asks.length === 0) return undefined;
  if (!validLevels(bids) || !validLevels(asks)) return undefined;
  if (!sortedDescending(bids)) bids.sort(byPriceDescending);
  if (!sortedAscending(asks)) asks.sort(byPriceAscending);
  if (bids[0]![0] > asks[0]![0]) return undefined;
  return { type: 'book_l2', provider, symbol, bids, asks, tsExchange, tsRecv, envelopeRecvAt: null };
}
