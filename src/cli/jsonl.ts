import type { Readable } from 'node:stream';

/**
 * What a line handler returns: nothing to go on at once, a promise to go on
 * when it settles (the output is full, a pause), or `false` to stop reading.
 */
export type LineResult = Promise<void> | undefined | false;

/**
 * Calls `onLine` for each line of a byte stream (1-based number, bytes
 * without the newline and a trailing CR), without decoding it, so the decoder
 * sees the same bytes as from NATS and memory stays flat whatever the file
 * size. The lines of one chunk are handed over in a plain loop: a promise per
 * line (an async generator) cost `compute` about a third of its time.
 * Resolves to the number of lines read.
 */
export async function forEachLine(input: Readable, onLine: (line: number, bytes: Buffer) => LineResult): Promise<number> {
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
      const r = onLine(++line, trimCr(buf.subarray(start, nl)));
      start = nl + 1;
      if (r === false) return line;
      if (r !== undefined) await r;
    }
    if (start < buf.length) carry = Buffer.from(buf.subarray(start)); // copy: the chunk is released
  }
  if (carry !== null && carry.length > 0) {
    const r = onLine(++line, trimCr(carry));
    if (r !== undefined && r !== false) await r;
  }
  return line;
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
