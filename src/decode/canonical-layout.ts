import type { EventType, MarketEvent, TradeSide } from '../domain/events.js';
import { inValueRange } from '../domain/events.js';
import { assertNever } from '../domain/assert-never.js';
import { asciiString } from './ascii.js';
import { timestampValue } from './fields.js';
import { FNV_OFFSET, FNV_PRIME, MAX_MEMO_LENGTH, bookOf, levelsAt, providers, scanned, symbols } from './canonical-values.js';
import { numberScan, scanJsonNumber, scannedNumber } from './json-number.js';

/**
 * The publisher's own layout, the first reader `decodeCanonical` tries: the
 * canonical keys in SPEC §2's order, no whitespace, string trade ids, read
 * front to back against the expected bytes with no key lookup. Anything else
 * (other order, whitespace, aliases, every payload the general path would
 * reject) is `undefined` as soon as a byte or a value differs, and the
 * field-by-field reader (canonical-decoder.ts) takes it. On what it reads it
 * returns exactly what the general path returns
 * (test/decode/canonical-decoder.property.test.ts).
 *
 * `L_*` are the keys with the punctuation around them, `W_*` the type words
 * with their closing quote. A position of -1 means "not there": the literals and
 * the string scanners pass it on, so a chain of reads checks once at its end.
 */

/** One past `text` when its bytes are at `p` (not -1), else -1. */
export type Literal = (b: Uint8Array, p: number) => number;

/**
 * The matcher of one fixed text, compiled to one comparison per byte with the
 * byte as a constant: half the loads of a loop over a byte array, and no loop
 * (compared in a loop, the literals took ~11 % of the engine path's CPU;
 * compiled, decode takes 0.87 of the time: DECISIONS 75). The text is one of
 * the constants below, never input. Where code generation is disallowed
 * (`--disallow-code-generation-from-strings`), the same test as a loop.
 */
export function lit(text: string): Literal {
  const n = text.length;
  const codes = Uint8Array.from(text, (c) => c.charCodeAt(0));
  const bytes = Array.from(codes, (c, i) => `b[p + ${i}] === ${c}`).join(' && ');
  try {
    return new Function('b', 'p', `return p >= 0 && p + ${n} <= b.length && ${bytes} ? p + ${n} : -1;`) as Literal;
  } catch {
    return (b, p) => {
      if (p < 0 || p + n > b.length) return -1;
      for (let i = 0; i < n; i++) if (b[p + i] !== codes[i]) return -1;
      return p + n;
    };
  }
}
const L_OPEN_TYPE = lit('{"type":"');
const L_PROVIDER = lit(',"provider":"');
const L_SYMBOL = lit(',"symbol":"');
const L_PRICE = lit(',"price":');
const L_SIZE = lit(',"size":');
const L_SIDE = lit(',"side":"');
const L_TRADE_ID = lit(',"trade_id":"');
const L_BID = lit(',"bid":');
const L_ASK = lit(',"ask":');
const L_BID_SIZE = lit(',"bid_size":');
const L_ASK_SIZE = lit(',"ask_size":');
const L_BIDS = lit(',"bids":');
const L_ASKS = lit(',"asks":');
const L_TS_EXCHANGE = lit(',"ts_exchange":');
const L_TS_RECV = lit(',"ts_recv":');
const W_TRADE = lit('trade"');
const W_QUOTE = lit('quote"');
const W_BOOK = lit('book_l2"');
const W_HEARTBEAT = lit('heartbeat"');
const W_BUY = lit('buy"');
const W_SELL = lit('sell"');

/** Hash of the last {@link stringEnd} string. */
let lastHash = 0;

/** The closing quote of a printable-ASCII string without escapes starting at `p` (hashed into `lastHash`); -1 otherwise. */
function stringEnd(b: Uint8Array, p: number): number {
  if (p < 0) return -1;
  const end = b.length;
  let h = FNV_OFFSET;
  for (; p < end; p++) {
    const d = b[p]!;
    if (d === 0x22) {
      lastHash = h;
      return p;
    }
    if (d === 0x5c || d < 0x20 || d > 0x7e) return -1;
    h = Math.imul(h ^ d, FNV_PRIME);
  }
  return -1;
}

/** {@link stringEnd} without the hash, for a string that is not memoised (the trade id). */
export function plainStringEnd(b: Uint8Array, p: number): number {
  if (p < 0) return -1;
  const end = b.length;
  for (; p < end; p++) {
    const d = b[p]!;
    if (d === 0x22) return p;
    if (d === 0x5c || d < 0x20 || d > 0x7e) return -1;
  }
  return -1;
}

/**
 * Reads the number at `p` (a literal's end) into `scannedNumber[0]`, with
 * `scanned.end` past it; returns -1 when `p` is -1 or a number this path reads
 * is not there. The value stays in the typed array rather than being returned,
 * so it is not boxed on the way (DECISIONS 92).
 */
function numberFrom(b: Uint8Array, p: number, longIntegers = false): number {
  if (p < 0) return -1;
  const e = scanJsonNumber(b, p, b.length);
  if (e < 0 || (numberScan.longInteger && !longIntegers)) return -1;
  scanned.end = e;
  return e;
}

/** The timestamps {@link timestampsAt} read last. */
let tsExchangeValue: number | null = null;
let tsRecvValue: number | null = null;

/**
 * `ts_exchange` and `ts_recv` at `p`, ending the payload; false when not
 * exactly that. Sets {@link tsExchangeValue} and {@link tsRecvValue}.
 */
function timestampsAt(b: Uint8Array, p: number): boolean {
  if (numberFrom(b, L_TS_EXCHANGE(b, p), true) < 0) return false;
  const ex = scannedNumber[0]!;
  if (numberFrom(b, L_TS_RECV(b, scanned.end), true) < 0) return false;
  const recv = scannedNumber[0]!;
  if (scanned.end !== b.length - 1 || b[scanned.end] !== 0x7d) return false;
  tsExchangeValue = timestampValue(ex);
  tsRecvValue = timestampValue(recv);
  return true;
}

/** The event of a payload in the publisher's layout; `undefined` for anything else. */
export function decodeLayout(b: Uint8Array): MarketEvent | undefined {
  let p = L_OPEN_TYPE(b, 0);
  if (p < 0) return undefined;
  let type: EventType;
  switch (b[p]) {
    case 0x74: // t
      type = 'trade';
      p = W_TRADE(b, p);
      break;
    case 0x71: // q
      type = 'quote';
      p = W_QUOTE(b, p);
      break;
    case 0x62: // b
      type = 'book_l2';
      p = W_BOOK(b, p);
      break;
    case 0x68: // h
      type = 'heartbeat';
      p = W_HEARTBEAT(b, p);
      break;
    default:
      return undefined;
  }
  const providerStart = L_PROVIDER(b, p);
  const providerEnd = stringEnd(b, providerStart);
  if (providerEnd < 0 || providerEnd - providerStart > MAX_MEMO_LENGTH) return undefined;
  const provider = providers.get(b, providerStart, providerEnd, lastHash);
  p = providerEnd + 1;
  if (type === 'heartbeat') {
    if (!timestampsAt(b, p)) return undefined;
    return { type, provider, symbol: null, tsExchange: tsExchangeValue, tsRecv: tsRecvValue, envelopeRecvAt: null };
  }
  const symbolStart = L_SYMBOL(b, p);
  const symbolEnd = stringEnd(b, symbolStart);
  if (symbolEnd < 0 || symbolEnd - symbolStart > MAX_MEMO_LENGTH) return undefined;
  const symbol = symbols.get(b, symbolStart, symbolEnd, lastHash);
  if (symbol === null) return undefined;
  p = symbolEnd + 1;
  switch (type) {
    case 'trade': {
      if (numberFrom(b, L_PRICE(b, p)) < 0) return undefined;
      const price = scannedNumber[0]!;
      if (!inValueRange(price) || numberFrom(b, L_SIZE(b, scanned.end)) < 0) return undefined;
      const size = scannedNumber[0]!;
      if (!inValueRange(size)) return undefined;
      // `buy` or `sell` exactly; any other spelling is the general path's (readSide)
      const sideStart = L_SIDE(b, scanned.end);
      let side: TradeSide = 'buy';
      let sideEnd = W_BUY(b, sideStart);
      if (sideEnd < 0) {
        side = 'sell';
        sideEnd = W_SELL(b, sideStart);
      }
      const idStart = L_TRADE_ID(b, sideEnd);
      const idEnd = plainStringEnd(b, idStart);
      if (idEnd <= idStart || !timestampsAt(b, idEnd + 1)) return undefined;
      const tradeId = asciiString(b, idStart, idEnd);
      return { type, provider, symbol, price, size, side, tradeId, tsExchange: tsExchangeValue, tsRecv: tsRecvValue, envelopeRecvAt: null };
    }
    case 'quote': {
      if (numberFrom(b, L_BID(b, p)) < 0) return undefined;
      const bid = scannedNumber[0]!;
      if (!inValueRange(bid) || numberFrom(b, L_ASK(b, scanned.end)) < 0) return undefined;
      const ask = scannedNumber[0]!;
      if (!(inValueRange(ask) && bid <= ask) || numberFrom(b, L_BID_SIZE(b, scanned.end)) < 0) return undefined;
      const bidSize = scannedNumber[0]!;
      if (numberFrom(b, L_ASK_SIZE(b, scanned.end)) < 0) return undefined;
      const askSize = scannedNumber[0]!;
      if (!timestampsAt(b, scanned.end)) return undefined;
      return {
        type,
        provider,
        symbol,
        bid,
        ask,
        bidSize: Number.isFinite(bidSize) && bidSize >= 0 ? bidSize : null,
        askSize: Number.isFinite(askSize) && askSize >= 0 ? askSize : null,
        tsExchange: tsExchangeValue,
        tsRecv: tsRecvValue,
        envelopeRecvAt: null,
      };
    }
    case 'book_l2': {
      p = L_BIDS(b, p);
      if (p < 0 || b[p] !== 0x5b) return undefined;
      const bids = levelsAt(b, p, b.length);
      if (bids === null) return undefined;
      p = L_ASKS(b, scanned.end);
      if (p < 0 || b[p] !== 0x5b) return undefined;
      const asks = levelsAt(b, p, b.length);
      if (asks === null || !timestampsAt(b, scanned.end)) return undefined;
      return bookOf(provider, symbol, bids, asks, tsExchangeValue, tsRecvValue);
    }
    default:
      return assertNever(type);
  }
}

