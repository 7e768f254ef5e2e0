/**
 * Property test: the canonical fast path (src/decode/canonical-decoder.ts)
 * against the general path (parsePayload + normalize), which is the authority.
 * Whenever decodeCanonical handles a payload it must return exactly what the
 * general path returns; canonical events must take the fast path.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isRejection, reject } from '../../src/domain/events.js';
import { decodeCanonical } from '../../src/decode/canonical-decoder.js';
import { decodeLayout } from '../../src/decode/canonical-layout.js';
import { decode, normalize, subjectEventType } from '../../src/decode/decode.js';
import { decodeRecordedEnvelope } from '../../src/decode/recorded-envelope.js';
import { parsePayload } from '../../src/decode/payload.js';

/** What decode did before the fast path existed. */
function general(subject: string, bytes: Uint8Array): unknown {
  const parsed = parsePayload(bytes);
  if (!parsed.ok) return reject('parse_error', subjectEventType(subject), parsed.detail);
  return normalize(subject, parsed.value);
}

const enc = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));

const num = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer({ min: -5, max: 100_000 }),
  fc.constantFrom(0, -0, 1e-7, 43000.5, 0.012, 1760000000123.123, 1760000000.5, 1760000000123456, 9007199254740992, 1e21, 123456789012345),
);
/** JSON text of a number, in the spellings a producer might write. */
const numText = fc.oneof(
  num.map((n) => JSON.stringify(n)),
  fc.constantFrom('1e3', '1E-2', '-0.0', '0.10', '12345678901234567890', '1760000000123456789', '1e999', '-1e999', '00', '1.', '.5', '+1', '1760000000123.1234567'),
);
const str = fc.oneof(
  fc.constantFrom('trade', 'quote', 'book_l2', 'heartbeat', 'TRADE', 'Book', 'l2', 'binance', 'Bybit', ' okx ', '', 'BTCUSDT', 'btc/usdt', 'ETH:USDT', 'buy', 'sell', 'B', 'Ask', 'x', '007', '3287465', 'a"b', 'é', 'tab\there'),
  fc.string({ maxLength: 12 }),
);
const strText = str.map((s) => JSON.stringify(s));
/** A number spelled as a string, as some exchanges send prices and sizes: `"43000.5"`, `" 1"`, `"1e999"`, … */
const numStrText = fc.oneof(numText.map((t) => JSON.stringify(t)), numText.map((t) => JSON.stringify(` ${t}`)));
const levelText = fc.oneof(
  fc.tuple(numText, numText).map(([p, q]) => `[${p},${q}]`),
  fc.tuple(numText, numText, numText).map(([p, q, r]) => `[${p},${q},${r}]`),
  fc.tuple(numStrText, numStrText).map(([p, q]) => `[${p},${q}]`),
  fc.tuple(numText, numStrText).map(([p, q]) => `[${p},${q}]`),
  fc.constantFrom('[1]', '{"price":1,"size":2}', '["1.5","2"]', '[]', '["1.5\\u0030","2"]', '["1.5"2]'),
);
const levelsText = fc.array(levelText, { maxLength: 4 }).map((ls) => `[${ls.join(',')}]`);
const anyValue = fc.oneof(numText, strText, numStrText, levelsText, fc.constantFrom('null', 'true', 'false', '{}', '{"a":1}'));

const KEYS = ['type', 'provider', 'symbol', 'price', 'size', 'side', 'trade_id', 'ts_exchange', 'ts_recv', 'bid', 'ask', 'bid_size', 'ask_size', 'bids', 'asks'];
const OTHER_KEYS = ['event_type', 'px', 'qty', 'source', 'sym', 'ts', 'data', 'subject', 'extra', 'Type', 'bid\\u0073', '__proto__'];

/** A value for a key: mostly the canonical type, sometimes anything. */
function valueFor(key: string, anyWeight = 1): fc.Arbitrary<string> {
  const typed: Record<string, fc.Arbitrary<string>> = {
    type: fc.constantFrom('"trade"', '"quote"', '"book_l2"', '"heartbeat"'),
    provider: fc.constantFrom('"binance"', '"bybit"', '"alpaca"'),
    symbol: fc.constantFrom('"BTCUSDT"', '"ETHUSDT"', '"SOL-USD"', '"AAPL"'),
    side: fc.constantFrom('"buy"', '"sell"'),
    trade_id: fc.oneof(fc.integer({ min: 0, max: 2 ** 40 }).map((n) => JSON.stringify(String(n))), fc.integer({ min: 0, max: 1e9 }).map(String)),
    bids: fc.array(fc.tuple(fc.double({ min: 1, max: 1e5, noNaN: true }), fc.double({ min: 0, max: 10, noNaN: true })), { minLength: 1, maxLength: 5 }).map((x) => JSON.stringify(x)),
    asks: fc.array(fc.tuple(fc.double({ min: 1, max: 1e5, noNaN: true }), fc.double({ min: 0, max: 10, noNaN: true })), { minLength: 1, maxLength: 5 }).map((x) => JSON.stringify(x)),
  };
  const t = Object.hasOwn(typed, key) ? typed[key]! : fc.double({ min: 1e-3, max: 2e12, noNaN: true }).map((n) => JSON.stringify(n));
  return anyWeight === 0 ? t : fc.oneof({ weight: 4, arbitrary: t }, { weight: anyWeight, arbitrary: anyValue });
}

const payload = fc
  .tuple(
    fc.subarray(KEYS, { minLength: 0 }),
    fc.subarray(OTHER_KEYS, { maxLength: 2 }),
    fc.boolean(), // shuffle
    fc.constantFrom('', ' ', '\n', '\t '), // whitespace
    fc.boolean(), // duplicate a key
  )
  .chain(([keys, others, shuffle, ws, dup]) => {
    const all = [...keys, ...others];
    if (dup && all.length > 0) all.push(all[0]!);
    return fc.tuple(fc.constant(all), fc.tuple(...all.map((k) => valueFor(k))), fc.constant(shuffle), fc.constant(ws));
  })
  .map(([keys, values, shuffle, ws]) => {
    const pairs = keys.map((k, i) => `${ws}"${k}"${ws}:${ws}${values[i]}${ws}`);
    if (shuffle) pairs.reverse();
    return `${ws}{${pairs.join(',')}}${ws}`;
  });

const FIELDS_BY_TYPE: Record<string, string[]> = {
  trade: ['type', 'provider', 'symbol', 'price', 'size', 'side', 'trade_id', 'ts_exchange', 'ts_recv'],
  quote: ['type', 'provider', 'symbol', 'bid', 'ask', 'bid_size', 'ask_size', 'ts_exchange', 'ts_recv'],
  book_l2: ['type', 'provider', 'symbol', 'bids', 'asks', 'ts_exchange', 'ts_recv'],
  heartbeat: ['type', 'provider', 'ts_exchange', 'ts_recv'],
};

/** Complete payloads of one type, with a few fields dropped, replaced, added or duplicated. */
const nearCanonical = fc
  .tuple(
    fc.constantFrom('trade', 'quote', 'book_l2', 'heartbeat'),
    fc.option(fc.nat(8), { nil: undefined }), // drop one field
    fc.array(fc.tuple(fc.nat(8), anyValue), { maxLength: 2 }), // replace values
    fc.option(fc.constantFrom(...KEYS, ...OTHER_KEYS), { freq: 5, nil: undefined }), // one more key
    fc.boolean(),
    fc.constantFrom('', ' ', '\n'),
  )
  .chain(([type, drop, replace, extra, shuffle, ws]) => {
    const keys = FIELDS_BY_TYPE[type]!.filter((_, i) => i !== drop);
    if (extra !== undefined) keys.push(extra);
    return fc.tuple(
      fc.constant(type),
      fc.constant(keys),
      fc.tuple(...keys.map((k) => (k === 'type' ? fc.constant(JSON.stringify(type)) : valueFor(k, 0)))),
      fc.constant(replace),
      fc.constant(shuffle),
      fc.constant(ws),
    );
  })
  .map(([, keys, values, replace, shuffle, ws]) => {
    const vals = [...values];
    for (const [i, v] of replace) if (vals.length > 0) vals[i % vals.length] = v;
    const pairs = keys.map((k, i) => `"${k}":${ws}${vals[i]}`);
    if (shuffle) pairs.reverse();
    return `{${pairs.join(`,${ws}`)}}`;
  });

/**
 * The publisher's exact layout (every field of the type in SPEC §2's order, no
 * whitespace), with values often replaced by other spellings: the layout
 * reader's inputs, edge values included.
 */
const laidOut = fc
  .constantFrom('trade', 'quote', 'book_l2', 'heartbeat')
  .chain((type) => {
    const keys = FIELDS_BY_TYPE[type]!;
    const value = (k: string) =>
      k === 'type'
        ? fc.oneof({ weight: 8, arbitrary: fc.constant(JSON.stringify(type)) }, { weight: 1, arbitrary: anyValue })
        : fc.oneof(
            { weight: 6, arbitrary: valueFor(k, 0) },
            { weight: 1, arbitrary: k === 'bids' || k === 'asks' ? levelsText : numText },
            { weight: 1, arbitrary: strText },
            { weight: 1, arbitrary: numStrText },
          );
    // mostly nothing after the object; sometimes what JSON allows there, or what it does not
    const after = fc.oneof({ weight: 8, arbitrary: fc.constant('') }, { weight: 1, arbitrary: fc.constantFrom(' ', '\n', 'x', '}', ',"a":1}', '{}') });
    return fc.tuple(fc.constant(keys), fc.tuple(...keys.map(value)), after);
  })
  .map(([keys, values, after]) => `{${keys.map((k, i) => `"${k}":${values[i]}`).join(',')}}${after}`);

const canonicalTrade = fc.record({
  provider: fc.constantFrom('binance', 'bybit'),
  symbol: fc.constantFrom('BTCUSDT', 'ETHUSDT'),
  price: fc.double({ min: 1e-4, max: 1e6, noNaN: true }),
  size: fc.double({ min: 1e-6, max: 1e4, noNaN: true }),
  side: fc.constantFrom('buy', 'sell'),
  trade_id: fc.integer({ min: 1, max: 2 ** 50 }).map(String),
  ts_exchange: fc.double({ min: 1.5e12, max: 1.9e12, noNaN: true }),
  ts_recv: fc.double({ min: 1.5e12, max: 1.9e12, noNaN: true }),
});

describe('canonical fast path = general path', () => {
  it('agrees with parsePayload + normalize whenever it handles a payload', () => {
    let handled = 0;
    let inLayout = 0;
    fc.assert(
      fc.property(fc.oneof(payload, nearCanonical, nearCanonical), fc.constantFrom('md.events.trade.BTCUSDT', 'md.events.quote.ethusdt', ''), (text, subject) => {
        const bytes = enc(text);
        const fast = decodeCanonical(bytes);
        const slow = general(subject, bytes);
        if (fast !== undefined) {
          handled++;
          expect(fast).toStrictEqual(slow);
          expect(isRejection(slow as never)).toBe(false);
        }
        const fromLayout = decodeLayout(bytes);
        if (fromLayout !== undefined) {
          inLayout++;
          expect(fromLayout).toStrictEqual(slow);
        }
        expect(decode(subject, bytes)).toStrictEqual(slow);
      }),
      { numRuns: 20_000, seed: 4242 },
    );
    expect(handled).toBeGreaterThan(1_000);
    expect(inLayout).toBeGreaterThan(20);
  });

  it('reads the publisher layout exactly as the general path does, edge values included', () => {
    let inLayout = 0;
    fc.assert(
      fc.property(laidOut, (text) => {
        const bytes = enc(text);
        const slow = general('md.events.trade.BTCUSDT', bytes);
        const fast = decodeLayout(bytes);
        if (fast !== undefined) {
          inLayout++;
          expect(fast).toStrictEqual(slow);
        }
        expect(decode('md.events.trade.BTCUSDT', bytes)).toStrictEqual(slow);
      }),
      { numRuns: 20_000, seed: 7 },
    );
    expect(inLayout).toBeGreaterThan(2_000);
  });

  it('reads the publisher layout with one byte changed, dropped or added exactly as the general path does', () => {
    // the layout reader matches every key and every byte of punctuation where it
    // must be; a payload one byte off that layout is either read the same as the
    // general path reads it or left to the general path, at every position
    const exact = laidOut.filter((text) => decodeLayout(enc(text)) !== undefined);
    const byte = fc.oneof(fc.constantFrom(...Array.from('{}[]:,"\\ 0123456789.-eE+tqbhrsaxyz', (c) => c.charCodeAt(0))), fc.integer({ min: 0, max: 255 }));
    const edit = fc.tuple(fc.constantFrom('change', 'drop', 'add'), fc.nat(), byte);
    let changed = 0;
    fc.assert(
      fc.property(exact, edit, (text, [how, at, value]) => {
        const src = enc(text);
        const i = at % (src.length + (how === 'add' ? 1 : 0));
        let bytes: Uint8Array;
        if (how === 'change') {
          if (src[i] === value) return;
          bytes = src.slice();
          bytes[i] = value;
        } else if (how === 'drop') {
          bytes = new Uint8Array([...src.subarray(0, i), ...src.subarray(i + 1)]);
        } else {
          bytes = new Uint8Array([...src.subarray(0, i), value, ...src.subarray(i)]);
        }
        changed++;
        const slow = general('md.events.trade.BTCUSDT', bytes);
        const fast = decodeLayout(bytes);
        if (fast !== undefined) expect(fast).toStrictEqual(slow);
        expect(decode('md.events.trade.BTCUSDT', bytes)).toStrictEqual(slow);
      }),
      { numRuns: 8_000, seed: 11 },
    );
    expect(changed).toBeGreaterThan(7_000);
  });

  it('reads nanosecond timestamps (integers past 15 digits) in both fast readers, as the general path does', () => {
    const ns = `{"type":"trade","provider":"binance","symbol":"BTCUSDT","price":1.5,"size":2,"side":"buy","trade_id":"5123456789","ts_exchange":1760000000123456789,"ts_recv":1760000000150999999}`;
    const reordered = `{"ts_recv":1760000000150999999,"type":"trade","provider":"binance","symbol":"BTCUSDT","price":1.5,"size":2,"side":"buy","trade_id":"5123456789","ts_exchange":1760000000123456789}`;
    for (const text of [ns, reordered]) {
      const bytes = enc(text);
      const fast = decodeCanonical(bytes);
      expect(fast).toMatchObject({ tsExchange: Number('1760000000123456789') / 1e6, tsRecv: Number('1760000000150999999') / 1e6 });
      expect(fast).toStrictEqual(general('', bytes));
    }
    expect(decodeLayout(enc(ns))).toStrictEqual(general('', enc(ns)));
    // a trade id past 15 digits keeps its exact digits: still the general path's to read
    const longId = enc(ns.replace('"5123456789"', '12345678901234567890'));
    expect(decodeCanonical(longId)).toBeUndefined();
    expect((general('', longId) as { tradeId: string }).tradeId).toBe('12345678901234567890');
  });

  it("reads record's envelope lines exactly as the general path does", () => {
    // `{"subject":…,"received_at":…,"data":…}` as `record` writes them, and near misses
    const subject = fc.oneof(fc.constantFrom('md.events.trade.BTCUSDT', 'md.events.quote.ethusdt', '', 'a\\"b', 'md.events.book_l2.X'), fc.string({ maxLength: 8 }));
    const receivedAt = fc.oneof(numText, fc.constantFrom('null', '"1760000000123"', '1760000000123', '1760000000123456789', '0', '-5'));
    const line = fc
      .tuple(subject, receivedAt, fc.oneof({ weight: 4, arbitrary: laidOut }, { weight: 1, arbitrary: payload }, { weight: 1, arbitrary: nearCanonical }), fc.constantFrom('', '', '', '', '', ' ', '}', 'x'))
      .map(([s, r, data, after]) => `{"subject":${JSON.stringify(s)},"received_at":${r},"data":${data}}${after}`);
    let fast = 0;
    fc.assert(
      fc.property(line, (text) => {
        const bytes = enc(text);
        const slow = general('md.events.trade.OTHER', bytes);
        const env = decodeRecordedEnvelope(bytes);
        if (env !== undefined) {
          fast++;
          expect(env).toStrictEqual(slow);
        }
        expect(decode('md.events.trade.OTHER', bytes)).toStrictEqual(slow);
      }),
      { numRuns: 10_000, seed: 78 },
    );
    expect(fast).toBeGreaterThan(500);
  });

  it('handles every canonical trade, quote, book and heartbeat from JSON.stringify, in the layout reader', () => {
    fc.assert(
      fc.property(canonicalTrade, (t) => {
        const trade = { type: 'trade', ...t };
        const quote = { type: 'quote', provider: t.provider, symbol: t.symbol, bid: t.price, ask: t.price * 1.001, bid_size: t.size, ask_size: t.size, ts_exchange: t.ts_exchange, ts_recv: t.ts_recv };
        const book = { type: 'book_l2', provider: t.provider, symbol: t.symbol, bids: [[t.price, t.size], [t.price * 0.99, 1]], asks: [[t.price * 1.01, 2]], ts_exchange: t.ts_exchange, ts_recv: t.ts_recv };
        const heartbeat = { type: 'heartbeat', provider: t.provider, ts_exchange: t.ts_exchange, ts_recv: t.ts_recv };
        for (const ev of [trade, quote, book, heartbeat]) {
          const bytes = enc(JSON.stringify(ev));
          const fast = decodeCanonical(bytes);
          expect(fast).not.toBeUndefined();
          expect(fast).toStrictEqual(general('', bytes));
          // the publisher's layout is read by the layout reader, not the field-by-field one
          expect(decodeLayout(bytes)).toStrictEqual(fast);
        }
      }),
      { numRuns: 3_000, seed: 99 },
    );
  });
});
