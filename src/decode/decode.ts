import type { BookLevel, EventType, EventTypeLabel, MarketEvent, Rejection } from '../domain/events.js';
import { EVENT_TYPE_TABLE, EVENT_TYPES, MAX_VALUE, MIN_VALUE, reject } from '../domain/events.js';
import { assertNever } from '../domain/assert-never.js';
import { normalizeSymbol } from '../domain/symbol.js';
import { decodeCanonical } from './canonical-decoder.js';
import { pick, readLevels, readNumber, readSide, readTimestamp, readTradeId } from './fields.js';
import { ASKS_KEYS, ASK_KEYS, ASK_SIZE_KEYS, BIDS_KEYS, BID_KEYS, BID_SIZE_KEYS, PRICE_KEYS, PROVIDER_KEYS, SIDE_KEYS, SIZE_KEYS, SYMBOL_KEYS, TRADE_ID_KEYS, TS_EXCHANGE_KEYS, TS_RECV_KEYS, TYPE_KEYS } from './aliases.js';
import { isPlainObject, readEnvelope } from './envelope.js';
import { decodeRecordedEnvelope } from './recorded-envelope.js';
import { MAX_PAYLOAD_BYTES, parsePayload } from './payload.js';

/** Every alias word of the table (lower case) → its event type. */
const TYPE_WORDS = new Map<string, EventType>(
  EVENT_TYPES.flatMap((type) => EVENT_TYPE_TABLE[type].map((word): [string, EventType] => [word, type])),
);
/** The alias words with their types, for reading a subject token in place. */
const TYPE_WORD_LIST = [...TYPE_WORDS];

/** Maps a type word (payload or subject token, any case) to an event type. */
export function eventTypeOf(word: string): EventType | null {
  return TYPE_WORDS.get(word.toLowerCase()) ?? null;
}

/** The subject's n-th dot-separated token (0-based), or undefined. */
function subjectToken(subject: string, n: number): string | undefined {
  let start = 0;
  for (let i = 0; i < n; i++) {
    const dot = subject.indexOf('.', start);
    if (dot < 0) return undefined;
    start = dot + 1;
  }
  const dot = subject.indexOf('.', start);
  const tok = dot < 0 ? subject.slice(start) : subject.slice(start, dot);
  return tok.length > 0 ? tok : undefined;
}

/** Whether `subject[start, end)` is `word` (lower-case ASCII) in any ASCII case. */
function tokenIs(subject: string, start: number, end: number, word: string): boolean {
  if (end - start !== word.length) return false;
  for (let i = 0; i < word.length; i++) {
    const c = subject.charCodeAt(start + i);
    if ((c >= 0x41 && c <= 0x5a ? c + 0x20 : c) !== word.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * The event type named by a subject's third token, for decisions made before
 * parsing (SPEC §6). Runs for every message before it is queued, so it reads
 * the token in place; a token with non-ASCII characters takes the general
 * `toLowerCase` path.
 */
export function subjectEventType(subject: string): EventTypeLabel {
  const d1 = subject.indexOf('.');
  const d2 = d1 < 0 ? -1 : subject.indexOf('.', d1 + 1);
  if (d2 < 0) return 'unknown';
  const start = d2 + 1;
  const d3 = subject.indexOf('.', start);
  const end = d3 < 0 ? subject.length : d3;
  for (let i = start; i < end; i++) {
    if (subject.charCodeAt(i) > 0x7f) {
      const tok = subjectToken(subject, 2);
      return (tok !== undefined && eventTypeOf(tok)) || 'unknown';
    }
  }
  for (let i = 0; i < TYPE_WORD_LIST.length; i++) {
    const [word, type] = TYPE_WORD_LIST[i]!;
    if (tokenIs(subject, start, end, word)) return type;
  }
  return 'unknown';
}


/**
 * Decodes one message published on `subject` (SPEC §2): a bare event or a
 * recorded envelope. Never throws; every failure is a {@link Rejection}.
 */
export function decode(subject: string, bytes: Uint8Array): MarketEvent | Rejection {
  if (bytes.length > MAX_PAYLOAD_BYTES) {
    return reject('invalid', subjectEventType(subject), `payload of ${bytes.length} bytes exceeds 1 MiB`);
  }
  // a line of `record`'s (compute and replay read whole recordings of them), else a bare payload;
  // the `s` of `{"subject"` spares bare payloads the call (decode 1.05 with the call made for every payload)
  const canonical = (bytes[2] === 0x73 ? decodeRecordedEnvelope(bytes) : undefined) ?? decodeCanonical(bytes);
  if (canonical !== undefined) return canonical;
  const parsed = parsePayload(bytes);
  if (!parsed.ok) return reject('parse_error', subjectEventType(subject), parsed.detail);
  return normalize(subject, parsed.value);
}

/** Turns a parsed payload into an event; the tolerant rules of SPEC §2. */
export function normalize(subject: string, payload: unknown): MarketEvent | Rejection {
  if (!isPlainObject(payload)) {
    return reject('parse_error', subjectEventType(subject), 'payload is not a JSON object');
  }
  let obj = payload;
  let envelopeRecvAt: number | null = null;
  const envelope = readEnvelope(obj);
  if (envelope !== null) {
    subject = envelope.subject;
    envelopeRecvAt = envelope.receivedAt;
    obj = envelope.data;
  }

  const typeRaw = pick(obj, TYPE_KEYS);
  let type: EventType | null;
  if (typeRaw === undefined) {
    const tok = subjectToken(subject, 2);
    type = tok === undefined ? null : eventTypeOf(tok);
    if (type === null) return reject('invalid', 'unknown', 'no event type in payload or subject');
  } else {
    type = typeof typeRaw === 'string' ? eventTypeOf(typeRaw) : null;
    if (type === null) return reject('invalid', 'unknown', `unknown event type ${JSON.stringify(typeRaw)}`);
  }

  const providerRaw = pick(obj, PROVIDER_KEYS);
  let provider = 'unknown';
  if (typeof providerRaw === 'string') {
    const p = providerRaw.trim().toLowerCase();
    if (p.length > 0) provider = p;
  }
  const tsExchange = readTimestamp(obj, TS_EXCHANGE_KEYS);
  const tsRecv = readTimestamp(obj, TS_RECV_KEYS);

  if (type === 'heartbeat') {
    return { type, provider, symbol: null, tsExchange, tsRecv, envelopeRecvAt };
  }

  const symbolRaw = pick(obj, SYMBOL_KEYS) ?? subjectToken(subject, 3);
  const symbol =
    typeof symbolRaw === 'string' ? normalizeSymbol(symbolRaw) : typeof symbolRaw === 'number' ? normalizeSymbol(String(symbolRaw)) : null;
  if (symbol === null) {
    return reject('invalid', type, symbolRaw === undefined ? 'missing symbol' : `invalid symbol ${JSON.stringify(symbolRaw)}`);
  }

  switch (type) {
    case 'trade': {
      const price = readNumber(pick(obj, PRICE_KEYS));
      const size = readNumber(pick(obj, SIZE_KEYS));
      if (!(Number.isFinite(price) && price > 0)) return reject('invalid', type, 'trade price must be a finite number > 0');
      if (!(Number.isFinite(size) && size > 0)) return reject('invalid', type, 'trade size must be a finite number > 0');
      if (price > MAX_VALUE || size > MAX_VALUE) return reject('invalid', type, 'trade price and size must be <= 1e15');
      if (price < MIN_VALUE || size < MIN_VALUE) return reject('invalid', type, 'trade price and size must be >= 1e-15');
      const side = readSide(pick(obj, SIDE_KEYS));
      const tradeId = readTradeId(pick(obj, TRADE_ID_KEYS));
      return { type, provider, symbol, price, size, side, tradeId, tsExchange, tsRecv, envelopeRecvAt };
    }
    case 'quote': {
      const bid = readNumber(pick(obj, BID_KEYS));
      const ask = readNumber(pick(obj, ASK_KEYS));
      if (!(Number.isFinite(bid) && bid > 0)) return reject('invalid', type, 'quote bid must be a finite number > 0');
      if (!(Number.isFinite(ask) && ask > 0)) return reject('invalid', type, 'quote ask must be a finite number > 0');
      if (bid > ask) return reject('invalid', type, 'crossed quote (bid > ask)');
      if (ask > MAX_VALUE) return reject('invalid', type, 'quote prices must be <= 1e15');
      if (bid < MIN_VALUE) return reject('invalid', type, 'quote prices must be >= 1e-15');
      const bidSize = optionalSize(pick(obj, BID_SIZE_KEYS));
      const askSize = optionalSize(pick(obj, ASK_SIZE_KEYS));
      return { type, provider, symbol, bid, ask, bidSize, askSize, tsExchange, tsRecv, envelopeRecvAt };
    }
    case 'book_l2': {
      const bids = readLevels(pick(obj, BIDS_KEYS));
      const asks = readLevels(pick(obj, ASKS_KEYS));
      if (bids === null || asks === null) {
        return reject('invalid', type, 'book levels must be [price, size] pairs with 1e-15 <= price <= 1e15 and size >= 0');
      }
      if (bids.length === 0 || asks.length === 0) return reject('invalid', type, 'book has no bid or no ask');
      bids.sort(byPriceDescending);
      asks.sort(byPriceAscending);
      if (bids[0]![0] > asks[0]![0]) return reject('invalid', type, 'crossed book (best bid > best ask)');
      return { type, provider, symbol, bids, asks, tsExchange, tsRecv, envelopeRecvAt };
    }
    default:
      return assertNever(type);
  }
}

function optionalSize(v: unknown): number | null {
  if (v === undefined) return null;
  const n = readNumber(v);
  return Number.isFinite(n) && n >= 0 ? n : null;
}

function byPriceDescending(a: BookLevel, b: BookLevel): number {
  return b[0] - a[0];
}
function byPriceAscending(a: BookLevel, b: BookLevel): number {
  return a[0] - b[0];
}
