import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { MessageRing, RecordKind, RingReader, RingWriter } from '../../src/queue/message-ring.js';

const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

/** Reads every record waiting, releasing each. */
function drain(reader: RingReader): { subject: string; data: number[]; recvMs: number; t0: number; kind: number }[] {
  const out = [];
  while (reader.next()) {
    out.push({ subject: reader.subject, data: Array.from(reader.data), recvMs: reader.recvMs, t0: reader.t0, kind: reader.kind });
    reader.release();
  }
  return out;
}

describe('MessageRing', () => {
  it('carries records in order with their subject, payload, kind and times', () => {
    const ring = MessageRing.create(4096);
    const w = new RingWriter(ring);
    const r = new RingReader(MessageRing.open(ring.buffer));
    expect(w.tryWrite(RecordKind.live, 'md.events.trade.BTC', bytes(10, 1), 1.5, 2.25)).toBe(true);
    expect(w.tryWrite(RecordKind.replaySignal, 'md.events.quote.é', bytes(0, 0), 3, 4)).toBe(true);
    expect(w.tryWrite(RecordKind.coverageStart, '', null, 123, 0)).toBe(true);
    expect(ring.pendingRecords).toBe(3);
    expect(w.payloadBytes).toBe(10);
    expect(drain(r)).toEqual([
      { subject: 'md.events.trade.BTC', data: Array.from(bytes(10, 1)), recvMs: 1.5, t0: 2.25, kind: RecordKind.live },
      { subject: 'md.events.quote.é', data: [], recvMs: 3, t0: 4, kind: RecordKind.replaySignal },
      { subject: '', data: [], recvMs: 123, t0: 0, kind: RecordKind.coverageStart },
    ]);
    expect(ring.pendingRecords).toBe(0);
    expect(w.payloadBytes).toBe(0);
    expect(r.next()).toBe(false);
  });

  it('refuses a record when full, and takes it once the reader released room', () => {
    const ring = MessageRing.create(1024);
    const w = new RingWriter(ring);
    const r = new RingReader(ring);
    let written = 0;
    while (w.tryWrite(RecordKind.live, 's', bytes(100, written), written, 0)) written++;
    expect(written).toBe(Math.floor(1024 / 136)); // 32 header + 1 subject + 100 payload, padded to 136
    expect(w.tryWrite(RecordKind.live, 's', bytes(100, 0), 0, 0)).toBe(false);
    expect(r.next()).toBe(true);
    expect(r.recvMs).toBe(0);
    r.release();
    expect(w.tryWrite(RecordKind.live, 's', bytes(100, written), written, 0)).toBe(true);
    expect(drain(r).map((x) => x.recvMs)).toEqual(Array.from({ length: written }, (_, i) => i + 1));
    expect(() => w.tryWrite(RecordKind.live, 's', bytes(600, 0), 0, 0)).toThrow(RangeError);
  });

  it('wraps around the end many times without losing, reordering or corrupting a record', () => {
    const ring = MessageRing.create(1024);
    const w = new RingWriter(ring);
    const r = new RingReader(ring);
    let next = 0;
    let expected = 0;
    // sizes that do not divide the ring, so records keep meeting its end
    for (let round = 0; round < 2000; round++) {
      const n = 1 + (round % 5);
      for (let k = 0; k < n; k++) {
        const len = (next * 37) % 200;
        if (!w.tryWrite(RecordKind.live, `md.events.trade.S${next}`, bytes(len, next), next, next / 2)) break;
        next++;
      }
      for (const rec of drain(r).slice(0)) {
        expect(rec.recvMs).toBe(expected);
        expect(rec.subject).toBe(`md.events.trade.S${expected}`);
        expect(rec.data).toEqual(Array.from(bytes((expected * 37) % 200, expected)));
        expected++;
      }
    }
    expect(expected).toBe(next);
    expect(next).toBeGreaterThan(2000);
  });

  it('hands records to a reader on another thread in order, waking it when it sleeps', async () => {
    const ring = MessageRing.create(8192);
    const w = new RingWriter(ring);
    const N = 20_000;
    // the reader side in a worker, written in plain JS over the same layout through the built module
    const worker = new Worker(
      `
      const { workerData, parentPort } = require('node:worker_threads');
      parentPort.on('message', () => {}); // a pending Atomics.waitAsync alone does not keep a thread alive
      import(workerData.module).then(async ({ MessageRing, RingReader }) => {
        const r = new RingReader(MessageRing.open(workerData.buffer));
        let expected = 0, bad = 0, sum = 0;
        while (expected < workerData.n) {
          while (r.next()) {
            if (r.recvMs !== expected || r.subject !== 'x.' + expected || r.data.length !== expected % 300) bad++;
            for (const b of r.data) sum += b;
            r.release();
            expected++;
          }
          if (expected < workerData.n) await r.waitForRecord();
        }
        parentPort.postMessage({ expected, bad, sum });
      });
      `,
      { eval: true, workerData: { buffer: ring.buffer, n: N, module: new URL('../../dist/queue/message-ring.js', import.meta.url).href } },
    );
    const result = new Promise<{ expected: number; bad: number; sum: number }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    let sum = 0;
    // the writer blocks synchronously while the ring is full: a reader that never started (no dist/) must not hang the run
    const deadline = performance.now() + 60_000;
    for (let i = 0; i < N; ) {
      if (performance.now() > deadline) throw new Error('the reader thread never drained the ring (is dist/ built? npm run build)');
      const data = bytes(i % 300, i);
      if (w.tryWrite(RecordKind.live, `x.${i}`, data, i, 0)) {
        for (const b of data) sum += b;
        i++;
        // now and then let the reader catch up and fall asleep, so the wake-up path runs too
        if (i % 1000 === 0) await new Promise((r) => setTimeout(r, 5));
      } else {
        w.waitForRoom(50);
      }
    }
    expect(await result).toEqual({ expected: N, bad: 0, sum });
    await worker.terminate();
  });
});
