import type { Readable } from 'node:stream';

/**
 * What a line handler returns: nothing to go on at once, a promise to go on
 * when it settles (the output is full, a pause), or `false` to stop reading.
 */
export type LineResult = Promise<void> | undefined | false;

export interface LineOptions {
  /** Lines longer than this many bytes are not kept: {@link onOversize} gets their length instead. */
  readonly maxBytes: number;
  readonly onOversize: (line: number, bytes: number) => LineResult;
}

/**
 * Calls `onLine` for each line of a byte stream (1-based number, bytes
 * without the newline and a trailing CR), without decoding it, so the decoder
 * sees the same bytes as from NATS and memory stays flat whatever the file
 * size. The lines of one chunk are handed over in a plain loop: a promise per
 * line (an async generator) cost `compute` about a third of its time. A line
 * split across chunks is searched only in the chunk that ends it, and one past
 * `maxBytes` is not kept at all (a file without newlines is read in constant
 * memory and linear time). Resolves to the number of lines read.
 */
export async function forEachLine(input: Readable, onLine: (line: number, bytes: Buffer) => LineResult, opts?: LineOptions): Promise<number> {
  const maxBytes = opts?.maxBytes ?? Number.POSITIVE_INFINITY;
  /** The start of the line being read, from earlier chunks; its length (which may exceed what is kept). */
  let carry: Buffer[] = [];
  let carryBytes = 0;
  /** The last byte carried, kept or not. */
  let carryLast = -1;
  let line = 0;
  const finish = (tail: Buffer): LineResult => {
    // the length without the CR trimCr takes off (a kept line has its last byte at hand)
    const last = tail.length > 0 ? tail[tail.length - 1] : carryLast;
    const length = carryBytes + tail.length - (last === 13 ? 1 : 0);
    line++;
    let r: LineResult;
    if (length > maxBytes) r = opts!.onOversize(line, length);
    else if (carry.length === 0) r = onLine(line, trimCr(tail));
    else r = onLine(line, trimCr(Buffer.concat([...carry, tail])));
    carry = [];
    carryBytes = 0;
    return r;
  };
  for await (const chunk of input as AsyncIterable<Buffer | string>) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(10, start);
      if (nl < 0) break;
      const r = finish(buf.subarray(start, nl));
      start = nl + 1;
      if (r === false) return line;
      if (r !== undefined) await r;
    }
    if (start < buf.length) {
      const rest = buf.length - start;
      // copied: the chunk is released; past the limit (and a CR) only the length is kept
      if (carryBytes + rest <= maxBytes + 1) carry.push(Buffer.from(buf.subarray(start)));
      else carry = [];
      carryBytes += rest;
      carryLast = buf[buf.length - 1]!;
    }
  }
  if (carryBytes > 0) {
    const r = finish(Buffer.alloc(0));
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
