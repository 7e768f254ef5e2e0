import type { BookLevel, EventType, MarketEvent, TradeSide } from '../domain/events.js';
import { inValueRange } from '../domain/events.js';
import { assertNever } from '../domain/assert-never.js';
import { asciiString } from './ascii.js';
import { readSide, timestampValue } from './fields.js';
import { decodeLayout } from './canonical-layout.js';
import { FNV_OFFSET, FNV_PRIME, MAX_MEMO_LENGTH, bookOf, isWs, levelsAt, numberAt, numericStringAt, providers, scanned, skipWs, symbols } from './canonical-values.js';

/**
 * The fast path of `decode` for flat canonical payloads: a JSON object with
 * the canonical keys of SPEC §2 in any order, each at most once,
 * string or number values of the canonical types, book levels as
 * `[price, size]` pairs. It reads the bytes straight into the event: no
 * intermediate object, no alias lookups, no per-key dictionary stores, which
 * is where a generic parse spends its time.
 *
 * The publisher's exact layout is read first by canonical-layout.ts, which
 * needs no key lookup; this field-by-field reader takes any other order,
 * whitespace, or a missing optional field.
 *
 * It returns `undefined` ("not handled") for anything else, and for every
 * payload that would be rejected; `decode` then takes the general path
 * (scanner or `JSON.parse`, then `normalize`), which stays the one authority
 * on tolerant parsing and on rejection reasons. On what it handles it returns
 * exactly what the general path returns
 * (test/decode/canonical-decoder.property.test.ts).
 */

const F_TYPE = 0;
const F_PROVIDER = 1;
const F_SYMBOL = 2;
const F_PRICE = 3;
const F_SIZE = 4;
const F_SIDE = 5;
const F_TRADE_ID = 6;
const F_TS_EXCHANGE = 7;
const F_TS_RECV = 8;
const F_BID = 9;
const F_ASK = 10;
const F_BID_SIZE = 11;
const F_ASK_SIZE = 12;
const F_BIDS = 13;
const F_ASKS = 14;
const FIELD_COUNT = 15;

const KEY_WORDS: readonly string[] = [
  'type', 'provider', 'symbol', 'price', 'size', 'side', 'trade_id', 'ts_exchange', 'ts_recv',
  'bid', 'ask', 'bid_size', 'ask_size', 'bids', 'asks',
]; // index = field id

const KEY_BYTES = KEY_WORDS.map((w) => Uint8Array.from(w, (c) => c.charCodeAt(0)));

/** Whether `word` and then a closing quote are at `p`. */
function wordAt(b: Uint8Array, p: number, end: number, field: number): boolean {
  const w = KEY_BYTES[field]!;
  const n = w.length;
  if (p + n >= end || b[p + n] !== 0x22) return false;
  for (let i = 1; i < n; i++) if (b[p + i] !== w[i]) return false; // the first byte is already known
  return true;
}

/** The field of the key whose first byte is at `p`, or -1 for anything but a canonical key. */
function keyAt(b: Uint8Array, p: number, end: number): number {
  if (p + 3 >= end) return -1;
  let field = -1;
  switch (b[p]) {
    case 0x74: // t
      field = b[p + 1] === 0x79 ? F_TYPE : b[p + 1] === 0x72 ? F_TRADE_ID : b[p + 3] === 0x65 ? F_TS_EXCHANGE : F_TS_RECV;
      break;
    case 0x70: // p
      field = b[p + 1] === 0x72 && b[p + 2] === 0x6f ? F_PROVIDER : F_PRICE;
      break;
    case 0x73: // s
      field = b[p + 1] === 0x79 ? F_SYMBOL : b[p + 2] === 0x7a ? F_SIZE : F_SIDE;
      break;
    case 0x62: // b
      field = b[p + 3] === 0x22 ? F_BID : b[p + 3] === 0x73 ? F_BIDS : F_BID_SIZE;
      break;
    case 0x61: // a
      field = b[p + 3] === 0x22 ? F_ASK : b[p + 3] === 0x73 ? F_ASKS : F_ASK_SIZE;
      break;
    default:
      return -1;
  }
  return wordAt(b, p, end, field) ? field : -1;
}

const V_STRING = 1;
const V_NUMBER = 2;
const V_LEVELS = 3;

// The fields of the payload being decoded. Decoding is synchronous, so one set per process.
/** Bit per field present. */
let seen = 0;

const kind = new Uint8Array(FIELD_COUNT);
const num = new Float64Array(FIELD_COUNT);
const strStart = new Int32Array(FIELD_COUNT);
const strEnd = new Int32Array(FIELD_COUNT);
const strHash = new Int32Array(FIELD_COUNT);
let bidsValue: BookLevel[] | null = null;
let asksValue: BookLevel[] | null = null;

/** Reads a flat canonical object into the field slots; false when the payload is anything else. */
function readFields(b: Uint8Array): boolean {
  const end = b.length;
  seen = 0;
  bidsValue = null;
  asksValue = null;
  let p = skipWs(b, 0, end);
  if (p >= end || b[p] !== 0x7b) return false;
  p = skipWs(b, p + 1, end);
  for (;;) {
    // key: one of the canonical words, told apart by its first bytes, then compared whole
    if (p >= end || b[p] !== 0x22) return false;
    const field = keyAt(b, p + 1, end);
    if (field < 0) return false;
    p += KEY_BYTES[field]!.length + 1; // at the closing quote
    const bit = 1 << field;
    if ((seen & bit) !== 0) return false; // a duplicate key: the general path decides
    seen |= bit;
    // the canonical publisher writes no whitespace: the expected byte is looked at first
    p++;
    if (b[p] !== 0x3a) {
      p = skipWs(b, p, end);
      if (p >= end || b[p] !== 0x3a) return false;
    }
    p++;
    if (p >= end) return false;
    let c = b[p]!;
    if (isWs(c)) {
      p = skipWs(b, p, end);
      if (p >= end) return false;
      c = b[p]!;
    }
    if (c === 0x22) {
      // a string of printable ASCII without escapes
      const start = p + 1;
      let sh = FNV_OFFSET;
      p = start;
      for (;;) {
        if (p >= end) return false;
        const d = b[p]!;
        if (d === 0x22) break;
        if (d === 0x5c || d < 0x20 || d > 0x7e) return false;
        sh = Math.imul(sh ^ d, FNV_PRIME);
        p++;
      }
      kind[field] = V_STRING;
      strStart[field] = start;
      strEnd[field] = p;
      strHash[field] = sh;
      p++;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      const v = numberAt(b, p, end, field === F_TS_EXCHANGE || field === F_TS_RECV);
      if (Number.isNaN(v)) return false;
      kind[field] = V_NUMBER;
      num[field] = v;
      // the literal's bytes too: a numeric trade id is kept as the digits written
      strStart[field] = p;
      strEnd[field] = scanned.end;
      p = scanned.end;
    } else if (c === 0x5b && (field === F_BIDS || field === F_ASKS)) {
      const levels = levelsAt(b, p, end);
      if (levels === null) return false;
      kind[field] = V_LEVELS;
      if (field === F_BIDS) bidsValue = levels;
      else asksValue = levels;
      p = scanned.end;
    } else {
      return false; // objects, other arrays, true/false/null
    }
    let d = b[p++];
    if (d !== 0x2c && d !== 0x7d) {
      p = skipWs(b, p - 1, end);
      if (p >= end) return false;
      d = b[p++]!;
    }
    if (d === 0x2c) {
      if (b[p] !== 0x22) p = skipWs(b, p, end);
      continue;
    }
    if (d !== 0x7d) return false;
    return skipWs(b, p, end) === end;
  }
}

function has(field: number): boolean {
  return (seen & (1 << field)) !== 0;
}

/** A number field present as a number, or as a string spelling a JSON number (`"43000.5"`, as some exchanges send); NaN otherwise. */
function numberOf(b: Uint8Array, field: number): number {
  if (!has(field)) return NaN;
  const k = kind[field];
  if (k === V_NUMBER) return num[field]!;
  return k === V_STRING ? numericStringAt(b, strStart[field]!, strEnd[field]!) : NaN;
}

function stringIs(b: Uint8Array, field: number, word: string): boolean {
  const start = strStart[field]!;
  if (strEnd[field]! - start !== word.length) return false;
  for (let i = 0; i < word.length; i++) if (b[start + i] !== word.charCodeAt(i)) return false;
  return true;
}

/** The event type of a canonical (lower-case) `type`; null for anything else (the general path handles case and aliases). */
function canonicalType(b: Uint8Array): EventType | null {
  if (!has(F_TYPE) || kind[F_TYPE] !== V_STRING) return null;
  switch (strEnd[F_TYPE]! - strStart[F_TYPE]!) {
    case 5:
      if (stringIs(b, F_TYPE, 'trade')) return 'trade';
      if (stringIs(b, F_TYPE, 'quote')) return 'quote';
      return null;
    case 7:
      return stringIs(b, F_TYPE, 'book_l2') ? 'book_l2' : null;
    case 9:
      return stringIs(b, F_TYPE, 'heartbeat') ? 'heartbeat' : null;
    default:
      return null;
  }
}

/** Null when absent, else `timestampValue` of the number; NaN marks a value the general path must read. */
function timestamp(b: Uint8Array, field: number): number | null {
  if (!has(field)) return null;
  const n = numberOf(b, field);
  if (Number.isNaN(n)) return NaN; // an ISO-8601 string, or anything else: the general path's
  return timestampValue(n);
}

function sideOf(b: Uint8Array): TradeSide | null | undefined {
  if (!has(F_SIDE)) return null;
  if (kind[F_SIDE] !== V_STRING) return undefined;
  const len = strEnd[F_SIDE]! - strStart[F_SIDE]!;
  if (len === 3 && stringIs(b, F_SIDE, 'buy')) return 'buy';
  if (len === 4 && stringIs(b, F_SIDE, 'sell')) return 'sell';
  return readSide(asciiString(b, strStart[F_SIDE]!, strEnd[F_SIDE]!));
}

/** The trade id as `readTradeId` reads it; undefined when the general path must decide. */
function tradeIdOf(b: Uint8Array): string | null | undefined {
  if (!has(F_TRADE_ID)) return null;
  const k = kind[F_TRADE_ID];
  if (k === V_STRING) {
    const start = strStart[F_TRADE_ID]!;
    const end = strEnd[F_TRADE_ID]!;
    return end > start ? asciiString(b, start, end) : null;
  }
  if (k === V_NUMBER) {
    const n = num[F_TRADE_ID]!;
    if (!Number.isFinite(n)) return null;
    // digits only (JSON allows no leading zero): the literal is String(n), made without printing n,
    // which costs ~250 ns for an id past 2^31 (DECISIONS 76)
    const start = strStart[F_TRADE_ID]!;
    const end = strEnd[F_TRADE_ID]!;
    for (let i = start; i < end; i++) {
      const d = b[i]!;
      if (d < 0x30 || d > 0x39) return String(n);
    }
    return asciiString(b, start, end);
  }
  return undefined;
}

/** `optionalSize` of the general path for a field absent, a number or a numeric string; undefined for anything else (the general path's). */
function optionalSize(b: Uint8Array, field: number): number | null | undefined {
  if (!has(field)) return null;
  const n = numberOf(b, field);
  if (Number.isNaN(n)) return undefined;
  return Number.isFinite(n) && n >= 0 ? n : null;
}

function providerOf(b: Uint8Array): string | undefined {
  if (!has(F_PROVIDER)) return 'unknown';
  if (kind[F_PROVIDER] !== V_STRING) return undefined;
  const start = strStart[F_PROVIDER]!;
  const end = strEnd[F_PROVIDER]!;
  if (end - start > MAX_MEMO_LENGTH) {
    const p = asciiString(b, start, end).trim().toLowerCase();
    return p.length > 0 ? p : 'unknown';
  }
  return providers.get(b, start, end, strHash[F_PROVIDER]!);
}

/**
 * Decodes a canonical payload; `undefined` when it is not one, or when the
 * general path must decide (every rejection included).
 */
export function decodeCanonical(b: Uint8Array): MarketEvent | undefined {
  const laidOut = decodeLayout(b);
  if (laidOut !== undefined) return laidOut;
  if (!readFields(b)) return undefined;
  const type = canonicalType(b);
  if (type === null) return undefined;
  const provider = providerOf(b);
  if (provider === undefined) return undefined;
  const tsExchange = timestamp(b, F_TS_EXCHANGE);
  const tsRecv = timestamp(b, F_TS_RECV);
  if (Number.isNaN(tsExchange) || Number.isNaN(tsRecv)) return undefined;
  if (type === 'heartbeat') return { type, provider, symbol: null, tsExchange, tsRecv, envelopeRecvAt: null };

  if (!has(F_SYMBOL) || kind[F_SYMBOL] !== V_STRING) return undefined;
  if (strEnd[F_SYMBOL]! - strStart[F_SYMBOL]! > MAX_MEMO_LENGTH) return undefined;
  const symbol = symbols.get(b, strStart[F_SYMBOL]!, strEnd[F_SYMBOL]!, strHash[F_SYMBOL]!);
  if (symbol === null) return undefined;

  switch (type) {
    case 'trade': {
      const price = numberOf(b, F_PRICE);
      const size = numberOf(b, F_SIZE);
      if (!(inValueRange(price) && inValueRange(size))) return undefined;
      const side = sideOf(b);
      const tradeId = tradeIdOf(b);
      if (side === undefined || tradeId === undefined) return undefined;
      return { type, provider, symbol, price, size, side, tradeId, tsExchange, tsRecv, envelopeRecvAt: null };
    }
    case 'quote': {
      const bid = numberOf(b, F_BID);
      const ask = numberOf(b, F_ASK);
      if (!(inValueRange(bid) && inValueRange(ask) && bid <= ask)) return undefined;
      const bidSize = optionalSize(b, F_BID_SIZE);
      const askSize = optionalSize(b, F_ASK_SIZE);
      if (bidSize === undefined || askSize === undefined) return undefined;
      return { type, provider, symbol, bid, ask, bidSize, askSize, tsExchange, tsRecv, envelopeRecvAt: null };
    }
    case 'book_l2':
      return bidsValue === null || asksValue === null ? undefined : bookOf(provider, symbol, bidsValue, asksValue, tsExchange, tsRecv);
    default:
      return assertNever(type);
  }
}
