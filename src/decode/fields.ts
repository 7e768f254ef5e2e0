import type { BookLevel, TradeSide } from '../domain/events.js';
import { inValueRange } from '../domain/events.js';
import { ExactInteger } from './exact-integer.js';

/**
 * Readers for the tolerant field rules of SPEC §2. Each takes a raw JSON value
 * and says what it means; none throws.
 */

export type JsonObject = Record<string, unknown>;

/** Returns the first alias present with a non-null value, or undefined. */
export function pick(obj: JsonObject, aliases: readonly string[]): unknown {
  for (let i = 0; i < aliases.length; i++) {
    const v = obj[aliases[i]!];
    if (v !== undefined && v !== null) return v;
  }
  return undefined;
}

const NUMERIC_STRING = /^\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*$/;

/** A JSON number or numeric string as a double; NaN when unreadable (non-finite stays non-finite). */
export function readNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (v instanceof ExactInteger) return v.value;
  if (typeof v === 'string' && NUMERIC_STRING.test(v)) return Number(v);
  return NaN;
}

const ISO_8601 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?\s*(?:([Zz])|([+-])(\d{2}):?(\d{2})?)$/;

/** Epoch ms of an ISO-8601 string that carries a zone; NaN otherwise. */
export function parseIsoMs(s: string): number {
  const m = ISO_8601.exec(s.trim());
  if (m === null) return NaN;
  const [, y, mo, d, h, mi, sec, frac, z, sign, oh, om] = m;
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = sec === undefined ? 0 : Number(sec);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return NaN;
  let ms = Date.UTC(Number(y), month - 1, day, hour, minute, second);
  if (new Date(ms).getUTCDate() !== day) return NaN; // 31 February and friends
  if (frac !== undefined) ms += Number(`0.${frac}`) * 1000;
  if (z === undefined) {
    const offset = (Number(oh) * 60 + (om === undefined ? 0 : Number(om))) * 60_000;
    if (Number(oh) > 23 || (om !== undefined && Number(om) > 59)) return NaN;
    ms += sign === '-' ? offset : -offset;
  }
  return ms;
}

/** Converts a number in s / ms / µs / ns (told apart by magnitude) to epoch ms. */
export function toEpochMs(n: number): number {
  if (n < 1e11) return n * 1000;
  if (n < 1e14) return n;
  if (n < 1e17) return n / 1e3;
  return n / 1e6;
}

/**
 * Reads the first present alias as a timestamp in epoch ms. Null when no alias
 * is present, or when the one present is unreadable or ≤ 0: there is no
 * fall-through to later aliases.
 */
export function readTimestamp(obj: JsonObject, aliases: readonly string[]): number | null {
  const v = pick(obj, aliases);
  if (v === undefined) return null;
  return timestampValue(v);
}

/** One raw value as a timestamp in epoch ms, or null. */
export function timestampValue(v: unknown): number | null {
  let n = readNumber(v);
  if (Number.isNaN(n) && typeof v === 'string') {
    const iso = parseIsoMs(v);
    return Number.isFinite(iso) && iso > 0 ? iso : null;
  }
  if (!Number.isFinite(n) || n <= 0) return null;
  n = toEpochMs(n);
  return n;
}

/** `buy`/`b`/`bid` → buy, `sell`/`s`/`ask` → sell (any case), anything else → null. */
export function readSide(v: unknown): TradeSide | null {
  if (typeof v !== 'string') return null;
  switch (v.trim().toLowerCase()) {
    case 'buy':
    case 'b':
    case 'bid':
      return 'buy';
    case 'sell':
    case 's':
    case 'ask':
      return 'sell';
    default:
      return null;
  }
}

/** A trade id as a string with the exact digits written; null when absent or unusable. */
export function readTradeId(v: unknown): string | null {
  if (typeof v === 'string') return v.length > 0 ? v : null;
  if (v instanceof ExactInteger) return v.literal;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return null;
}

const LEVEL_PRICE = ['price', 'px', 'p'] as const;
const LEVEL_SIZE = ['size', 'qty', 'quantity', 'amount', 'q'] as const;

/**
 * Reads book levels: `[price, size]` pairs or `{price, size}` objects. Returns
 * null when the side is not an array or any level lacks a positive price and a
 * non-negative size.
 */
export function readLevels(v: unknown): BookLevel[] | null {
  if (!Array.isArray(v)) return null;
  const out: BookLevel[] = new Array<BookLevel>(v.length);
  for (let i = 0; i < v.length; i++) {
    const level: unknown = v[i];
    let price: number;
    let size: number;
    if (Array.isArray(level)) {
      if (level.length < 2) return null;
      price = readNumber(level[0]);
      size = readNumber(level[1]);
    } else if (typeof level === 'object' && level !== null) {
      price = readNumber(pick(level as JsonObject, LEVEL_PRICE));
      size = readNumber(pick(level as JsonObject, LEVEL_SIZE));
    } else {
      return null;
    }
    if (!(inValueRange(price) && Number.isFinite(size) && size >= 0)) return null;
    out[i] = [price, size];
  }
  return out;
}
