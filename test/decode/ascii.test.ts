import { describe, expect, it } from 'vitest';
import { AsciiMemo, asciiString } from '../../src/decode/ascii.js';
import { mulberry32 } from '../helpers/random.js';

describe('asciiString', () => {
  it('is the latin1 text of the bytes, at every length and offset', () => {
    const rnd = mulberry32(76);
    const b = new Uint8Array(64);
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < b.length; i++) b[i] = 0x20 + Math.floor(rnd() * 95);
      for (let start = 0; start < 5; start++) {
        for (let end = start; end <= start + 40; end++) {
          expect(asciiString(b, start, end)).toBe(Buffer.from(b.subarray(start, end)).toString('latin1'));
        }
      }
    }
  });

  it('reads a view into a larger buffer from the view, not from the buffer', () => {
    const whole = new Uint8Array(Buffer.from('xxxxx1234567890123yyyyyyyyyyyyyyyyyyyyyy'));
    const view = whole.subarray(5, 30);
    expect(asciiString(view, 0, 13)).toBe('1234567890123');
    expect(asciiString(view, 0, 25)).toBe('1234567890123yyyyyyyyyyyy');
  });
});

describe('AsciiMemo', () => {
  it('answers from its slot only for the same bytes', () => {
    let computed = 0;
    const memo = new AsciiMemo<string>(4, (raw) => {
      computed++;
      return raw.toUpperCase();
    });
    const b = new Uint8Array(Buffer.from('btcusdt ethusdt btcusdx'));
    expect(memo.get(b, 0, 7, 1)).toBe('BTCUSDT');
    expect(memo.get(b, 0, 7, 1)).toBe('BTCUSDT');
    expect(computed).toBe(1);
    // the same slot, other bytes of the same length: computed again, not the cached value
    expect(memo.get(b, 16, 23, 1)).toBe('BTCUSDX');
    expect(memo.get(b, 8, 15, 5)).toBe('ETHUSDT');
    expect(computed).toBe(3);
  });
});
