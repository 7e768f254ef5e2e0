/**
 * Property test: the byte-level JSON number reader (src/decode/json-number.ts)
 * against `JSON.parse` on number literals written digit by digit, so the
 * lengths that matter to the reader come up often: integer and fraction parts
 * around its 8-digit chunks, mantissas around 2^53 (the end of the exact fast
 * path), the 15-digit limit of integers read as doubles, exponents around the
 * exact powers of ten (±22).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { numberScan, readJsonNumber } from '../../src/decode/json-number.js';

const digitString = (min: number, max: number) => fc.array(fc.integer({ min: 0, max: 9 }), { minLength: min, maxLength: max }).map((d) => d.join(''));

/** A JSON number literal. */
const literal = fc
  .record({
    neg: fc.boolean(),
    int: fc.oneof(
      fc.constant('0'),
      fc.tuple(fc.integer({ min: 1, max: 9 }), digitString(0, 24)).map(([h, t]) => `${h}${t}`),
      fc.constantFrom('9007199254740991', '9007199254740992', '9007199254740993', '900719925474099', '1760000000123', '99999999', '100000000'),
    ),
    frac: fc.option(digitString(1, 24), { nil: undefined }),
    exp: fc.option(fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), fc.integer({ min: 0, max: 400 })), { nil: undefined }),
  })
  .map(({ neg, int, frac, exp }) => `${neg ? '-' : ''}${int}${frac === undefined ? '' : `.${frac}`}${exp === undefined ? '' : `${exp[0]}${exp[1]}${exp[2]}`}`);

describe('readJsonNumber', () => {
  it('reads every JSON number literal to the value JSON.parse gives, and ends where it ends', () => {
    fc.assert(
      fc.property(literal, fc.constantFrom('', ',', '}', ']', ' '), (text, after) => {
        const b = Buffer.from(text + after, 'latin1');
        const v = readJsonNumber(b, 0, b.length);
        expect(Object.is(v, JSON.parse(text))).toBe(true);
        expect(numberScan.end).toBe(text.length);
        const digits = text.replace(/^-/, '');
        expect(numberScan.longInteger).toBe(/^[0-9]+$/.test(digits) && digits.length > 15);
      }),
      { numRuns: 20_000 },
    );
  });

  it('rounds 16- to 20-digit integers as JSON.parse does, at and around the midpoints between doubles', () => {
    // the midpoint between a double in [2^53, 2^64) and the next one up, and its integer neighbours:
    // where reading the digits in two parts could round twice (nanosecond timestamps are 19 digits)
    const view = new DataView(new ArrayBuffer(8));
    const around = fc.tuple(fc.bigInt({ min: 0x4340000000000000n, max: 0x43f0000000000000n }), fc.integer({ min: -2, max: 2 }), fc.boolean()).map(([bits, delta, neg]) => {
      view.setBigUint64(0, bits);
      const lower = BigInt(view.getFloat64(0));
      view.setBigUint64(0, bits + 1n);
      const upper = BigInt(view.getFloat64(0));
      return `${neg ? '-' : ''}${(lower + upper) / 2n + BigInt(delta)}`;
    });
    fc.assert(
      fc.property(around, (text) => {
        const b = Buffer.from(text, 'latin1');
        expect(Object.is(readJsonNumber(b, 0, b.length), JSON.parse(text))).toBe(true);
        expect(numberScan.longInteger).toBe(true);
      }),
      { numRuns: 20_000 },
    );
    for (const text of ['9999999999999999999', '18446744073709551615', '18446744073709551616', '1700000000123456789', '-1700000000123456789', '1000000000000000000']) {
      const b = Buffer.from(text, 'latin1');
      expect(readJsonNumber(b, 0, b.length)).toBe(JSON.parse(text));
    }
  });

  it('is NaN where the bytes are not a JSON number', () => {
    for (const text of ['', '-', '+1', '.5', '1.', '1e', '1e+', '-.5', 'x', '--1', '1.e5']) {
      const b = Buffer.from(text, 'latin1');
      expect(readJsonNumber(b, 0, b.length)).toBeNaN();
    }
    // a literal followed by other bytes is read up to them; the caller then meets the byte it does not expect
    for (const text of ['01', '0x10', '-0.5.5']) {
      const b = Buffer.from(text, 'latin1');
      expect([readJsonNumber(b, 0, b.length), numberScan.end]).toEqual(text === '-0.5.5' ? [-0.5, 4] : [0, 1]);
    }
  });
});
