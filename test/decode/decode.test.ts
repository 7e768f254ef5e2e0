import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { BookEvent, MarketEvent, QuoteEvent, Rejection, TradeEvent } from '../../src/domain/events.js';
import { isRejection } from '../../src/domain/events.js';
import { decode, subjectEventType } from '../../src/decode/decode.js';

const enc = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));
function ok(subject: string, v: unknown): MarketEvent {
  const r = decode(subject, enc(v));
  if (isRejection(r)) throw new Error(`rejected: ${r.reason} ${r.detail}`);
  return r;
}
function rejected(subject: string, v: unknown): Rejection {
  const r = decode(subject, enc(v));
  if (!isRejection(r)) throw new Error(`accepted: ${JSON.stringify(r)}`);
  return r;
}

const TRADE = { type: 'trade', provider: 'binance', symbol: 'BTCUSDT', price: 43000.5, size: 0.012, side: 'buy', trade_id: '3287465', ts_exchange: 1760000000123, ts_recv: 1760000000150 };

describe('decode: canonical payloads', () => {
  it('reads the canonical trade', () => {
    expect(ok('md.events.trade.BTCUSDT', TRADE)).toEqual({
      type: 'trade', provider: 'binance', symbol: 'BTCUSDT', price: 43000.5, size: 0.012, side: 'buy', tradeId: '3287465',
      tsExchange: 1760000000123, tsRecv: 1760000000150, envelopeRecvAt: null,
    });
  });

  it('reads the canonical quote', () => {
    const q = ok('', { type: 'quote', provider: 'binance', symbol: 'BTCUSDT', bid: 43000.0, ask: 43000.5, bid_size: 1.2, ask_size: 0.8, ts_exchange: 1760000000123, ts_recv: 1760000000150 }) as QuoteEvent;
    expect([q.type, q.bid, q.ask, q.bidSize, q.askSize]).toEqual(['quote', 43000, 43000.5, 1.2, 0.8]);
  });

  it('reads a book and sorts bids descending and asks ascending', () => {
    const b = ok('', { type: 'book_l2', provider: 'bybit', symbol: 'BTCUSDT', bids: [[42999.5, 3], [43000.0, 1.2]], asks: [[43001, 1], [43000.5, 0.8]], ts_exchange: 1760000000123 }) as BookEvent;
    expect(b.bids).toEqual([[43000, 1.2], [42999.5, 3]]);
    expect(b.asks).toEqual([[43000.5, 0.8], [43001, 1]]);
  });

  it('reads a heartbeat without symbol', () => {
    expect(ok('md.events.heartbeat.__system__', { type: 'heartbeat', provider: 'binance', ts_exchange: 1760000000123 })).toMatchObject({ type: 'heartbeat', symbol: null, provider: 'binance' });
  });
});

describe('decode: tolerated variants', () => {
  it('accepts event_type in any case and the book aliases', () => {
    expect(ok('', { ...TRADE, type: undefined, event_type: 'TRADE' }).type).toBe('trade');
    for (const t of ['book', 'L2', 'OrderBook', 'BOOK_L2']) {
      expect(ok('', { type: t, symbol: 'X', bids: [[1, 1]], asks: [[2, 1]], ts: 1760000000 }).type).toBe('book_l2');
    }
  });

  it('takes type and symbol from the subject when absent', () => {
    const e = ok('md.events.quote.ethusdt', { bid_price: '1.5', ask_price: 2, ts_exchange: 1760000000123 }) as QuoteEvent;
    expect([e.type, e.symbol, e.bid, e.ask]).toEqual(['quote', 'ETHUSDT', 1.5, 2]);
  });

  it('reads provider aliases, lower-cased, unknown when absent', () => {
    expect(ok('', { ...TRADE, provider: undefined, source: 'OKX' }).provider).toBe('okx');
    expect(ok('', { ...TRADE, provider: undefined, exchange: 'Binance' }).provider).toBe('binance');
    expect(ok('', { ...TRADE, provider: undefined }).provider).toBe('unknown');
  });

  it('normalises symbols: trim, upper-case, strip / and :', () => {
    expect((ok('', { ...TRADE, symbol: ' btc/usdt ' }) as TradeEvent).symbol).toBe('BTCUSDT');
    expect((ok('', { ...TRADE, symbol: undefined, sym: 'eth:usdt' }) as TradeEvent).symbol).toBe('ETHUSDT');
    expect((ok('', { ...TRADE, symbol: undefined, instrument: 'BRK-B' }) as TradeEvent).symbol).toBe('BRK-B');
  });

  it('reads price and size aliases and numeric strings', () => {
    const e = ok('', { type: 'trade', symbol: 'X', px: '101.25', qty: '2', ts: 1760000000123 }) as TradeEvent;
    expect([e.price, e.size]).toEqual([101.25, 2]);
    for (const k of ['quantity', 'amount', 'volume', 'q']) {
      expect((ok('', { type: 'trade', symbol: 'X', p: 1, [k]: 3, ts: 1760000000123 }) as TradeEvent).size).toBe(3);
    }
  });

  it('maps sides in any case, anything else to null', () => {
    const side = (s: unknown) => (ok('', { ...TRADE, side: s }) as TradeEvent).side;
    expect([side('B'), side('bid'), side('Buy'), side('s'), side('ASK'), side('sell'), side('x'), side(1)]).toEqual(['buy', 'buy', 'buy', 'sell', 'sell', 'sell', null, null]);
  });

  it('keeps trade ids as strings with the exact digits, above 2^53 too', () => {
    const id = (raw: string) => (ok('', `{"type":"trade","symbol":"X","price":1,"size":1,"ts":1760000000,"id":${raw}}`) as TradeEvent).tradeId;
    expect(id('12345')).toBe('12345');
    expect(id('9007199254740993')).toBe('9007199254740993');
    expect(id('9007199254740992')).not.toBe(id('9007199254740993'));
    expect(id('"abc-1"')).toBe('abc-1');
    expect((ok('', `{"type":"trade","symbol":"X","price":1,"size":1,"ts":1,"tid":123456789012345678901}`) as TradeEvent).tradeId).toBe('123456789012345678901');
  });

  it('reads a numeric trade id of the canonical shape as its digits, and any other number as String(n)', () => {
    // the field-by-field reader takes canonical keys in another order; numeric ids past 2^31 are common
    const id = (raw: string) => (ok('', `{"trade_id":${raw},"type":"trade","provider":"binance","symbol":"BTCUSDT","price":1,"size":1,"side":"buy","ts_exchange":1760000000000,"ts_recv":1760000000001}`) as TradeEvent).tradeId;
    expect(id('5123456789012')).toBe('5123456789012');
    expect(id('0')).toBe('0');
    expect(id('-17')).toBe('-17');
    expect(id('-0')).toBe('0');
    expect(id('12.50')).toBe('12.5');
    expect(id('1e3')).toBe('1000');
    expect(id('123456789012345')).toBe('123456789012345');
  });

  it('keeps exact ids on the JSON.parse path too (escapes force the fallback)', () => {
    const e = ok('', '{"type":"trade","symbol":"X\\u0059","price":1,"size":1,"ts":1760000000,"trade_id":18446744073709551617}') as TradeEvent;
    expect([e.symbol, e.tradeId]).toEqual(['XY', '18446744073709551617']);
  });

  it('converts s, ms, µs and ns timestamps to epoch ms', () => {
    const ts = (v: unknown) => ok('', { ...TRADE, ts_exchange: v }).tsExchange;
    expect(ts(1760000000.5)).toBe(1760000000500);
    expect(ts(1760000000123)).toBe(1760000000123);
    expect(ts(1760000000123456)).toBeCloseTo(1760000000123.456, 3);
    expect(ts('1760000000123456789')).toBeCloseTo(1760000000123.4568, 3);
    expect(ok('', `{"type":"trade","symbol":"X","price":1,"size":1,"ts_exchange":1760000000123456789}`).tsExchange).toBeCloseTo(1760000000123.4568, 3);
  });

  it('parses ISO-8601 timestamps with a zone, keeping fractions', () => {
    const ts = (v: unknown) => ok('', { ...TRADE, ts_exchange: v }).tsExchange;
    expect(ts('2025-10-09T08:55:35.815Z')).toBe(Date.UTC(2025, 9, 9, 8, 55, 35, 815));
    expect(ts('2025-10-09T10:55:35.8155+02:00')).toBeCloseTo(Date.UTC(2025, 9, 9, 8, 55, 35, 815) + 0.5, 6);
    expect(ts('2025-10-09T08:55:35')).toBeNull(); // no zone
    expect(ts('2025-02-30T00:00:00Z')).toBeNull();
  });

  it('tries timestamp aliases in order with no fall-through past an unreadable one', () => {
    const e = (o: object) => ok('', { type: 'quote', symbol: 'X', bid: 1, ask: 2, ...o });
    expect(e({ ts_event: 1760000000001, timestamp: 1760000000002 }).tsExchange).toBe(1760000000001);
    expect(e({ ts_exchange: null, timestamp: 1760000000002 }).tsExchange).toBe(1760000000002);
    expect(e({ ts_exchange: 'junk', timestamp: 1760000000002, ts_recv: 1760000000003 }).tsExchange).toBeNull();
    expect(e({ ts_exchange: -5, timestamp: 1760000000002 }).tsExchange).toBeNull();
    expect(e({ recv_ts: 1760000000004 }).tsRecv).toBe(1760000000004);
    expect(e({ received_at: '2025-10-09T08:55:35Z' }).tsRecv).toBe(Date.UTC(2025, 9, 9, 8, 55, 35));
  });

  it('reads {price, size} levels, zero sizes included', () => {
    const b = ok('', { type: 'orderbook', symbol: 'X', bids: [{ price: '10', size: 0 }, { price: 9, size: 2 }], asks: [{ price: 11, size: 1 }], ts: 1760000000 }) as BookEvent;
    expect(b.bids).toEqual([[10, 0], [9, 2]]);
  });

  it('unwraps recorded envelopes with and without received_at', () => {
    const e = ok('ignored', { subject: 'md.events.trade.SOLUSDT', received_at: 1760000000200, data: { price: 1, size: 2, ts_exchange: 1760000000100 } });
    expect(e).toMatchObject({ type: 'trade', symbol: 'SOLUSDT', envelopeRecvAt: 1760000000200 });
    expect(ok('', { subject: 'md.events.quote.X', data: { bid: 1, ask: 2, ts: 1760000000 } }).envelopeRecvAt).toBeNull();
  });
});

describe('decode: rejections', () => {
  it('rejects invalid JSON and non-object JSON as parse_error', () => {
    for (const raw of ['{"type":"trade",', 'null', '[1,2,3]', '"str"', '42', '', '\xff\xfe']) {
      expect(rejected('md.events.trade.X', raw).reason).toBe('parse_error');
    }
    expect(decode('md.events.trade.X', Uint8Array.from([0x7b, 0xff, 0x7d]))).toMatchObject({ reason: 'parse_error' });
  });

  it('rejects unknown types and missing or invalid symbols as invalid', () => {
    expect(rejected('', { type: 'wat', symbol: 'X' })).toMatchObject({ reason: 'invalid', type: 'unknown' });
    expect(rejected('', { price: 1, size: 1, ts: 1 })).toMatchObject({ reason: 'invalid' });
    expect(rejected('', { type: 'trade', price: 1, size: 1, ts: 1 })).toMatchObject({ reason: 'invalid', type: 'trade' });
    for (const s of ['BTC.>', '', '_X', 'A'.repeat(33), 'BTC USDT', 'é']) {
      expect(rejected('', { ...TRADE, symbol: s }).reason).toBe('invalid');
    }
  });

  it('rejects non-finite or non-positive trade prices and sizes', () => {
    for (const bad of [{ price: -5 }, { price: 0 }, { price: 'abc' }, { price: 'NaN' }, { price: 'Infinity' }, { size: 0 }, { size: '1e999' }, { price: null }, { price: true }]) {
      expect(rejected('', { ...TRADE, ...bad }).reason).toBe('invalid');
    }
    expect(rejected('', '{"type":"trade","symbol":"X","price":1e999,"size":1,"ts":1}').reason).toBe('invalid');
  });

  it('rejects non-positive and crossed quotes, accepts a locked one', () => {
    const q = { type: 'quote', symbol: 'X', ts: 1760000000 };
    expect(rejected('', { ...q, bid: 101, ask: 100 }).detail).toMatch(/crossed/);
    expect(rejected('', { ...q, bid: 0, ask: 100 }).reason).toBe('invalid');
    expect(rejected('', { ...q, bid: 1, ask: 'Infinity' }).reason).toBe('invalid');
    expect(ok('', { ...q, bid: 100, ask: 100 }).type).toBe('quote');
  });

  it('rejects empty, crossed and malformed books', () => {
    const b = { type: 'book_l2', symbol: 'X', ts: 1760000000 };
    expect(rejected('', { ...b, bids: [], asks: [[1, 1]] }).detail).toMatch(/no bid/);
    expect(rejected('', { ...b, bids: [[2, 1]], asks: [[1, 1]] }).detail).toMatch(/crossed/);
    expect(rejected('', { ...b, bids: [[0, 1]], asks: [[1, 1]] }).reason).toBe('invalid');
    expect(rejected('', { ...b, bids: [[1, -1]], asks: [[2, 1]] }).reason).toBe('invalid');
    expect(rejected('', { ...b, bids: [[1]], asks: [[2, 1]] }).reason).toBe('invalid');
    expect(rejected('', { ...b, bids: 'x', asks: [[2, 1]] }).reason).toBe('invalid');
  });

  it('rejects payloads over 1 MiB without parsing them', () => {
    const big = Buffer.alloc(1024 * 1024 + 1, 0x20);
    expect(decode('md.events.quote.X', big)).toMatchObject({ reason: 'invalid', type: 'quote' });
  });

  it('tells the type from the subject alone for backpressure decisions', () => {
    expect(['md.events.trade.X', 'md.events.QUOTE.X', 'md.events.book.X', 'md.events.heartbeat.__system__', 'md.events', 'x.y.zzz.X'].map(subjectEventType)).toEqual([
      'trade', 'quote', 'book_l2', 'heartbeat', 'unknown', 'unknown',
    ]);
  });
});

describe('decode: value bound (SPEC §2)', () => {
  it('rejects prices and trade sizes above 1e15 as invalid, on the canonical and the general path', () => {
    for (const over of [{ size: 1e308 }, { size: 2e15 }, { price: 2e15 }, { price: '1e16' }, { qty: 1e16, size: undefined }]) {
      expect(rejected('md.events.trade.BTCUSDT', { ...TRADE, ...over }).reason).toBe('invalid');
    }
    expect(ok('', { ...TRADE, price: 1e15, size: 1e15 })).toMatchObject({ price: 1e15, size: 1e15 });
    const q = { type: 'quote', provider: 'binance', symbol: 'BTCUSDT', bid: 49200, ask: 1e16, ts_exchange: 1760000000123 };
    expect(rejected('', q).reason).toBe('invalid');
    expect(rejected('', { ...q, bid: 2e15, ask: 3e15 }).reason).toBe('invalid');
    const b = { type: 'book_l2', provider: 'bybit', symbol: 'BTCUSDT', bids: [[67800, 1]], asks: [[67900, 1], [1e16, 2]], ts_exchange: 1760000000123 };
    expect(rejected('', b).reason).toBe('invalid');
    expect(rejected('', { ...b, asks: [[67900, 1], { price: 1e16, size: 2 }] }).reason).toBe('invalid');
    // book sizes are not bounded
    expect(ok('', { ...b, asks: [[67900, 1e20]] })).toMatchObject({ type: 'book_l2' });
  });

  it('rejects prices and trade sizes below 1e-15 as invalid, on the canonical and the general path (DECISIONS 63)', () => {
    for (const under of [{ price: 1e-320 }, { price: 5e-16 }, { size: 1e-300 }, { price: '1e-16' }, { qty: 1e-16, size: undefined }]) {
      const r = rejected('md.events.trade.BTCUSDT', { ...TRADE, ...under });
      expect(r.reason).toBe('invalid');
      expect(r.detail).toMatch(/>= 1e-15/);
    }
    expect(ok('', { ...TRADE, price: 1e-15, size: 1e-15 })).toMatchObject({ price: 1e-15, size: 1e-15 });
    expect(ok('', { ...TRADE, price: 0.00000812, size: 0.00000001 })).toMatchObject({ price: 0.00000812 });
    const q = { type: 'quote', provider: 'binance', symbol: 'BTCUSDT', bid: 1e-320, ask: 1, ts_exchange: 1760000000123 };
    expect(rejected('', q).reason).toBe('invalid');
    expect(ok('', { ...q, bid: 1e-15 })).toMatchObject({ bid: 1e-15 });
    const b = { type: 'book_l2', provider: 'bybit', symbol: 'BTCUSDT', bids: [[1e-320, 1]], asks: [[67900, 1]], ts_exchange: 1760000000123 };
    expect(rejected('', b).reason).toBe('invalid');
    expect(rejected('', { ...b, bids: [{ price: 1e-16, size: 1 }] }).reason).toBe('invalid');
    // book sizes may be anything >= 0
    expect(ok('', { ...b, bids: [[67800, 1e-320]] })).toMatchObject({ type: 'book_l2' });
  });
});

describe('decode: where code generation is disallowed', () => {
  it('reads and refuses the same payloads under --disallow-code-generation-from-strings (built dist/)', () => {
    // the layout reader compiles its key matchers with new Function; a process
    // hardened against code generation gets the same matchers as loops
    const payloads = [
      JSON.stringify(TRADE),
      JSON.stringify({ type: 'quote', provider: 'binance', symbol: 'BTCUSDT', bid: 1, ask: 2, bid_size: 3, ask_size: 4, ts_exchange: 5, ts_recv: 6 }),
      JSON.stringify({ type: 'heartbeat', provider: 'bybit', ts_exchange: 5, ts_recv: 6 }),
      JSON.stringify(TRADE).replace(',"size"', ';"size"'),
      JSON.stringify(TRADE).replace('"ts_recv"', '"ts_recx"'),
      JSON.stringify(TRADE).replace('"side":"buy"', '"side":"bux"'),
    ];
    const decodeJs = new URL('../../dist/decode/decode.js', import.meta.url).href;
    const script = `
      let generated = true;
      try { new Function('return 1'); } catch { generated = false; }
      const { decode } = await import(${JSON.stringify(decodeJs)});
      const payloads = JSON.parse(process.argv[1]);
      console.log(JSON.stringify({ generated, out: payloads.map((p) => decode('md.events.trade.BTCUSDT', Buffer.from(p))) }));`;
    const child = spawnSync(process.execPath, ['--disallow-code-generation-from-strings', '--input-type=module', '-e', script, JSON.stringify(payloads)], {
      encoding: 'utf8',
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
    });
    expect(child.stderr).toBe('');
    const { generated, out } = JSON.parse(child.stdout) as { generated: boolean; out: unknown[] };
    expect(generated).toBe(false);
    const here = payloads.map((p) => decode('md.events.trade.BTCUSDT', Buffer.from(p)));
    expect(out).toEqual(JSON.parse(JSON.stringify(here)));
    expect(here.map((r) => isRejection(r))).toEqual([false, false, false, true, false, false]); // an unknown key and side are tolerated (the general path)
  });
});
