import type { Readable } from 'node:stream';

/** One input line as bytes (no newline, no trailing CR) with its 1-based number. */
export interface ByteLine {
  readonly line: number;
  readonly bytes: Uint8Array;
}

/**
 * Splits a byte stream into lines without decoding them, so the decoder sees
 * the same bytes as from NATS and memory stays flat whatever the file size.
 */
export async function* byteLines(input: Readable): AsyncGenerator<ByteLine> {
  let carry: Buffer | null = null;
  let line = 0;
  for await (const chunk of input as AsyncIterable<Buffer | string>) {
    let buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (carry !== null) {
      buf = Buffer.concat([carry, buf]);
      carry = null;
    }
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(10, start);
      if (nl < 0) break;
      line++;
      yield { line, bytes: trimCr(buf.subarray(start, nl)) };
      start = nl + 1;
    }
    if (start < buf.length) carry = Buffer.from(buf.subarray(start)); // copy: the chunk is released
  }
  if (carry !== null && carry.length > 0) {
    line++;
    yield { line, bytes: trimCr(carry) };
  }
}

function trimCr(b: Buffer): Buffer {
  return b.length > 0 && b[b.length - 1] === 13 ? b.subarray(0, b.length - 1) : b;
}

/** True when the line holds only JSON whitespace. */
export function isBlank(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d && c !== 0x0a) return false;
  }
  return true;
}
