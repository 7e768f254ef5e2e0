/** Strings from bytes known to be ASCII (the scanners admit nothing else), shared by the decoders. */

/** A string from ASCII bytes; up to 8 characters in one call, without intermediate strings. */
export function asciiString(b: Uint8Array, start: number, end: number): string {
  const f = String.fromCharCode;
  const s = start;
  switch (end - start) {
    case 0:
      return '';
    case 1:
      return f(b[s]!);
    case 2:
      return f(b[s]!, b[s + 1]!);
    case 3:
      return f(b[s]!, b[s + 1]!, b[s + 2]!);
    case 4:
      return f(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!);
    case 5:
      return f(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!);
    case 6:
      return f(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!);
    case 7:
      return f(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!);
    case 8:
      return f(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!);
    default:
      return Buffer.from(b.buffer, b.byteOffset + start, end - start).toString('latin1');
  }
}

/**
 * Short ASCII strings (providers, symbols) mapped to what they normalise to,
 * found by their bytes, so the common values allocate nothing. A slot keeps
 * the last string that hashed there: bounded, whatever the input.
 */
export class AsciiMemo<V> {
  private readonly raw: (string | undefined)[];
  private readonly values: V[];
  private readonly mask: number;

  constructor(
    size: number,
    private readonly compute: (raw: string) => V,
  ) {
    this.raw = new Array<string | undefined>(size).fill(undefined);
    this.values = new Array<V>(size);
    this.mask = size - 1;
  }

  get(b: Uint8Array, start: number, end: number, hash: number): V {
    const slot = hash & this.mask;
    const cached = this.raw[slot];
    const len = end - start;
    if (cached !== undefined && cached.length === len) {
      let i = 0;
      while (i < len && cached.charCodeAt(i) === b[start + i]) i++;
      if (i === len) return this.values[slot]!;
    }
    const s = asciiString(b, start, end);
    const v = this.compute(s);
    this.raw[slot] = s;
    this.values[slot] = v;
    return v;
  }
}

/**
 * A trade id string: decimal digits without a leading zero (the common case)
 * print back from their value, exactly, in one allocation.
 */
export function tradeIdString(b: Uint8Array, start: number, end: number): string {
  const len = end - start;
  if (len > 8 && len <= 15 && b[start] !== 0x30) {
    let n = 0;
    for (let i = start; i < end; i++) {
      const d = b[i]! - 0x30;
      if (d < 0 || d > 9) return asciiString(b, start, end);
      n = n * 10 + d;
    }
    return '' + n;
  }
  return asciiString(b, start, end);
}
