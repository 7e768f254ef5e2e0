import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { forEachLine, isBlank } from '../../src/cli/jsonl.js';

/** Every line of `chunks` as [number, text], read with forEachLine. */
async function lines(chunks: (string | Buffer)[], handler?: (line: number, text: string) => Promise<void> | undefined | false) {
  const seen: [number, string][] = [];
  const count = await forEachLine(Readable.from(chunks, { objectMode: true }), (line, bytes) => {
    const text = bytes.toString('latin1');
    seen.push([line, text]);
    return handler?.(line, text);
  });
  return { seen, count };
}

describe('forEachLine', () => {
  it('splits on LF, strips one trailing CR, and keeps a last line without a newline', async () => {
    const { seen, count } = await lines(['a\r\nb\n\nc\r\r\nd']);
    expect(seen).toEqual([[1, 'a'], [2, 'b'], [3, ''], [4, 'c\r'], [5, 'd']]);
    expect(count).toBe(5);
  });

  it('joins a line split across chunks, wherever the chunks break', async () => {
    const text = '{"type":"trade"}\n{"x":1}\r\r\n\nlast';
    for (let cut = 0; cut <= text.length; cut++) {
      for (let cut2 = cut; cut2 <= text.length; cut2 += 3) {
        const { seen } = await lines([Buffer.from(text.slice(0, cut)), text.slice(cut, cut2), Buffer.from(text.slice(cut2))]);
        expect(seen.map((l) => l[1])).toEqual(['{"type":"trade"}', '{"x":1}\r', '', 'last']);
      }
    }
  });

  it('waits for a returned promise before the next line, and stops on false', async () => {
    const order: string[] = [];
    const { seen, count } = await lines(['1\n2\n3\n4\n'], (line) => {
      order.push(`start ${line}`);
      if (line === 3) return false;
      return new Promise<void>((resolve) =>
        setTimeout(() => {
          order.push(`done ${line}`);
          resolve();
        }, 5),
      );
    });
    expect(order).toEqual(['start 1', 'done 1', 'start 2', 'done 2', 'start 3']);
    expect(seen).toHaveLength(3);
    expect(count).toBe(3);
  });

  it('waits for the promise of a last line without a newline', async () => {
    let done = false;
    await lines(['a\nb'], (line) => (line === 2 ? new Promise<void>((r) => setTimeout(() => ((done = true), r()), 5)) : undefined));
    expect(done).toBe(true);
  });
});

describe('forEachLine with a line limit', () => {
  /** Lines of `chunks` read with a limit of `max` bytes: kept ones as text, oversize ones as their length. */
  async function limited(chunks: string[], max: number) {
    const seen: (string | number)[][] = [];
    await forEachLine(
      Readable.from(chunks.map((c) => Buffer.from(c, 'latin1'))),
      (line, bytes) => void seen.push([line, bytes.toString('latin1')]),
      { maxBytes: max, onOversize: (line, bytes) => void seen.push([line, bytes, 'oversize']) },
    );
    return seen;
  }

  it('keeps lines up to the limit and reports longer ones by length only, wherever the chunks break', async () => {
    const text = `${'a'.repeat(10)}\n${'b'.repeat(11)}\n\n${'c'.repeat(25)}\n${'d'.repeat(10)}`;
    const want = [[1, 'a'.repeat(10)], [2, 11, 'oversize'], [3, ''], [4, 25, 'oversize'], [5, 'd'.repeat(10)]];
    for (let cut = 0; cut <= text.length; cut++) {
      for (let cut2 = cut; cut2 <= text.length; cut2 += 4) {
        expect(await limited([text.slice(0, cut), text.slice(cut, cut2), text.slice(cut2)], 10), `${cut}/${cut2}`).toEqual(want);
      }
    }
  });

  it('does not count the CR that ends a CRLF line against the limit', async () => {
    const ten = 'x'.repeat(10);
    for (const chunks of [[`${ten}\r\n${ten}x\r\n`], [ten, '\r', `\n${ten}x\r`, '\n'], [`${ten}\r`, `\n${ten}`, 'x\r\n']]) {
      expect(await limited(chunks, 10), JSON.stringify(chunks)).toEqual([[1, ten], [2, 11, 'oversize']]);
    }
  });

  it('reports an input without newlines as one oversize line of its whole length', async () => {
    const chunks = Array.from({ length: 200 }, () => 'x'.repeat(1000));
    expect(await limited(chunks, 4096)).toEqual([[1, 200_000, 'oversize']]);
  });
});

describe('isBlank', () => {
  it('is true only for JSON whitespace', () => {
    expect(isBlank(Buffer.from(' \t\r\n'))).toBe(true);
    expect(isBlank(Buffer.from(''))).toBe(true);
    expect(isBlank(Buffer.from(' x '))).toBe(false);
  });
});
