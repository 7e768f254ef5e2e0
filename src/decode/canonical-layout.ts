import type { EventType, MarketEvent, TradeSide } from '../domain/events.js';
import { inValueRange } from '../domain/events.js';
import { assertNever } from '../domain/assert-never.js';
import { tradeIdString } from './ascii.js';
import { timestampValue } from './fields.js';
import { FNV_OFFSET, FNV_PRIME, MAX_MEMO_LENGTH, bookOf, levelsAt, numberAt, providers, scanned, symbols } from './canonical-values.js';

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
 * with their closing quote. A position of -1 means "not there": `litAt` and
 * `stringEnd` pass it on, so a chain of reads checks once at its end.
 */

const lit = (text: string): Uint8Array => Uint8Array.from(text, (c) => c.charCodeAt(0));
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

/** One past `text` when its bytes are at `p`, else -1. */
function litAt(b: Uint8Array, p: number, text: Uint8Array): number {
  const n = text.length;
  if (p < 0 || p + n > b.length) return -1;
  for (let i = 0; i < n; i++) if (b[p + i] !== text[i]) return -1;
  return p + n;
}

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

/** The number after `key` at `p`, with `scanned.end` past it; NaN when the key or a number this path reads is not there. */
function keyedNumber(b: Uint8Array, p: number, key: Uint8Array): number {
  p = litAt(b, p, key);
  return p < 0 ? NaN : numberAt(b, p, b.length);
}

/** The timestamps {@link timestampsAt} read last. */
let tsExchangeValue: number | null = null;
let tsRecvValue: number | null = null;

/**
 * `ts_exchange` and `ts_recv` at `p`, ending the payload; false when not
 * exactly that. Sets {@link tsExchangeValue} and {@link tsRecvValue}.
 */
function timestampsAt(b: Uint8Array, p: number): boolean {
  const ex = keyedNumber(b, p, L_TS_EXCHANGE);
  if (Number.isNaN(ex)) return false;
  const recv = keyedNumber(b, scanned.end, L_TS_RECV);
  if (Number.isNaN(recv) || scanned.end !== b.length - 1 || b[scanned.end] !== 0x7d) return false;
  tsExchangeValue = timestampValue(ex);
  tsRecvValue = timestampValue(recv);
  return true;
}

/** The event of a payload in the publisher's layout; `undefined` for anything else. */
export function decodeLayout(b: Uint8Array): MarketEvent | undefined {
  let p = litAt(b, 0, L_OPEN_TYPE);
  if (p < 0) return undefined;
  let type: EventType;
  switch (b[p]) {
    case 0x74: // t
      type = 'trade';
      p = litAt(b, p, W_TRADE);
      break;
    case 0x71: // q
      type = 'quote';
      p = litAt(b, p, W_QUOTE);
      break;
    case 0x62: // b
      type = 'book_l2';
      p = litAt(b, p, W_BOOK);
      break;
    case 0x68: // h
      type = 'heartbeat';
      p = litAt(b, p, W_HEARTBEAT);
      break;
    default:
      return undefined;
  }
  const providerStart = litAt(b, p, L_PROVIDER);
  const providerEnd = stringEnd(b, providerStart);
  if (providerEnd < 0 || providerEnd - providerStart > MAX_MEMO_LENGTH) return undefined;
  const provider = providers.get(b, providerStart, providerEnd, lastHash);
  p = providerEnd + 1;
  if (type === 'heartbeat') {
    if (!timestampsAt(b, p)) return undefined;
    return { type, provider, symbol: null, tsExchange: tsExchangeValue, tsRecv: tsRecvValue, envelopeRecvAt: null };
  }
  const symbolStart = litAt(b, p, L_SYMBOL);
  const symbolEnd = stringEnd(b, symbolStart);
  if (symbolEnd < 0 || symbolEnd - symbolStart > MAX_MEMO_LENGTH) return undefined;
  const symbol = symbols.get(b, symbolStart, symbolEnd, lastHash);
  if (symbol === null) return undefined;
  p = symbolEnd + 1;
  switch (type) {
    case 'trade': {
      const price = keyedNumber(b, p, L_PRICE);
      if (!inValueRange(price)) return undefined;
      const size = keyedNumber(b, scanned.end, L_SIZE);
      if (!inValueRange(size)) return undefined;
      // `buy` or `sell` exactly; any other spelling is the general path's (readSide)
      const sideStart = litAt(b, scanned.end, L_SIDE);
      let side: TradeSide = 'buy';
      let sideEnd = litAt(b, sideStart, W_BUY);
      if (sideEnd < 0) {
        side = 'sell';
        sideEnd = litAt(b, sideStart, W_SELL);
      }
      const idStart = litAt(b, sideEnd, L_TRADE_ID);
      const idEnd = stringEnd(b, idStart);
      if (idEnd <= idStart || !timestampsAt(b, idEnd + 1)) return undefined;
      const tradeId = tradeIdString(b, idStart, idEnd);
      return { type, provider, symbol, price, size, side, tradeId, tsExchange: tsExchangeValue, tsRecv: tsRecvValue, envelopeRecvAt: null };
    }
    case 'quote': {
      const bid = keyedNumber(b, p, L_BID);
      if (!inValueRange(bid)) return undefined;
      const ask = keyedNumber(b, scanned.end, L_ASK);
      if (!(inValueRange(ask) && bid <= ask)) return undefined;
      const bidSize = keyedNumber(b, scanned.end, L_BID_SIZE);
      if (Number.isNaN(bidSize)) return undefined;
      const askSize = keyedNumber(b, scanned.end, L_ASK_SIZE);
      if (Number.isNaN(askSize) || !timestampsAt(b, scanned.end)) return undefined;
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
      p = litAt(b, p, L_BIDS);
      if (p < 0 || b[p] !== 0x5b) return undefined;
      const bids = levelsAt(b, p, b.length);
      if (bids === null) return undefined;
      p = litAt(b, scanned.end, L_ASKS);
      if (p < 0 || b[p] !== 0x5b) return undefined;
      const asks = levelsAt(b, p, b.length);
      if (asks === null || !timestampsAt(b, scanned.end)) return undefined;
      return bookOf(provider, symbol, bids, asks, tsExchangeValue, tsRecvValue);
    }
    default:
      return assertNever(type);
  }
}

