import { describe, expect, it } from 'vitest';
import type { EventTypeLabel } from '../../src/domain/events.js';
import type { Admission } from '../../src/queue/event-queue.js';
import { EventQueue, SPARE_CHUNKS } from '../../src/queue/event-queue.js';
import type { Ackable } from '../../src/nats/jetstream-source.js';

function offer(q: EventQueue, type: EventTypeLabel, bytes = 10, id = 0): Admission {
  return q.offer(`md.events.${type}.S${id}`, new Uint8Array(bytes), type, 0, 0, null);
}

/** The subjects of everything left in the queue, in the order it gives them. */
function drainSubjects(q: EventQueue): string[] {
  const out: string[] = [];
  while (q.poll()) out.push(q.subject);
  return out;
}

/** A payload that tells which message it is: `n` bytes from a generator seeded with `id`. */
function payload(id: number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = (id * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

describe('EventQueue.offerInPlace (inline processing)', () => {
  it('admits as offer does on an empty queue and hands back the very bytes, uncopied, at the next poll', () => {
    const q = new EventQueue(10, true, 1000);
    const data = payload(1, 180);
    const ack: Ackable = { ack: () => undefined, nak: () => undefined };
    expect(q.offerInPlace('md.events.trade.BTCUSDT', data, 'trade', 5, 6, ack)).toBe('queued');
    expect([q.size, q.queuedTotal, q.takenTotal, q.bytes]).toEqual([1, 1, 0, 180]);
    expect(q.poll()).toBe(true);
    expect(q.data).toBe(data);
    expect([q.subject, q.recvMs, q.t0, q.ack]).toEqual(['md.events.trade.BTCUSDT', 5, 6, ack]);
    expect([q.size, q.queuedTotal, q.takenTotal, q.bytes]).toEqual([0, 1, 1, 0]);
    expect(q.poll()).toBe(false);
    expect(q.peakBytes).toBe(180);
    // the byte bound refuses in place what it refuses in the queue
    expect(q.offerInPlace('md.events.trade.BTCUSDT', new Uint8Array(1001), 'trade', 0, 0, null)).toBe('overflow');
    expect(q.offer('md.events.trade.BTCUSDT', new Uint8Array(1001), 'trade', 0, 0, null)).toBe('overflow');
    expect([q.size, q.queuedTotal]).toEqual([0, 1]);
    // records offered afterwards come from the store as before
    expect(offer(q, 'quote', 20, 7)).toBe('queued');
    expect(drainSubjects(q)).toEqual(['md.events.quote.S7']);
  });

  it('is a plain offer on a queue that is not empty, so a careless caller cannot reorder or lose messages', () => {
    const q = new EventQueue(10);
    offer(q, 'trade', 10, 1);
    expect(q.offerInPlace('md.events.trade.S2', payload(2, 30), 'trade', 0, 0, null)).toBe('queued');
    expect(q.offerInPlace('md.events.trade.S3', payload(3, 30), 'trade', 0, 0, null)).toBe('queued');
    expect(q.bytes).toBe(70);
    expect(drainSubjects(q)).toEqual(['md.events.trade.S1', 'md.events.trade.S2', 'md.events.trade.S3']);
    // two in place without a poll between them: the first is stored, then the second follows it
    q.offerInPlace('md.events.trade.S4', payload(4, 30), 'trade', 0, 0, null);
    q.offerInPlace('md.events.trade.S5', payload(5, 30), 'trade', 0, 0, null);
    expect([q.size, q.bytes]).toEqual([2, 60]);
    expect(drainSubjects(q)).toEqual(['md.events.trade.S4', 'md.events.trade.S5']);
    expect([q.size, q.bytes]).toEqual([0, 0]);
  });

  it('keeps order when an offer comes before the message offered in place was taken: it is stored first', () => {
    const q = new EventQueue(10);
    const first = payload(2, 50);
    q.offerInPlace('md.events.trade.A', first, 'trade', 1, 1, null);
    q.offer('md.events.trade.B', payload(3, 60), 'trade', 2, 2, null);
    expect(q.size).toBe(2);
    const expected = first.slice();
    first.fill(0); // stored as a copy once the second offer came
    expect(q.poll()).toBe(true);
    expect([q.subject, q.recvMs]).toEqual(['md.events.trade.A', 1]);
    expect(q.data).toEqual(expected);
    expect(q.poll()).toBe(true);
    expect(q.subject).toBe('md.events.trade.B');
    expect(q.data).toEqual(payload(3, 60));
    expect(q.poll()).toBe(false);
  });
});

describe('EventQueue (SPEC §6)', () => {
  it('is FIFO and grows its ring while keeping the order', () => {
    const q = new EventQueue(5000);
    for (let i = 0; i < 3000; i++) expect(offer(q, 'quote', 1, i)).toBe('queued');
    for (let i = 0; i < 1000; i++) {
      expect(q.poll()).toBe(true);
      expect(q.subject).toBe(`md.events.quote.S${i}`);
    }
    for (let i = 3000; i < 4000; i++) offer(q, 'trade', 1, i);
    const order = drainSubjects(q);
    expect(order).toHaveLength(3000);
    expect(order[0]).toBe('md.events.quote.S1000');
    expect(order[2999]).toBe('md.events.trade.S3999');
    expect(q.size).toBe(0);
    expect(q.poll()).toBe(false);
  });

  it('from 90 % fill drops heartbeats, quotes and books but never trades; trades pass the capacity', () => {
    const q = new EventQueue(10);
    for (let i = 0; i < 9; i++) expect(offer(q, 'trade')).toBe('queued');
    expect(q.fillRatio).toBeCloseTo(0.9, 12);
    for (const t of ['quote', 'book_l2', 'heartbeat', 'unknown'] as const) expect(offer(q, t)).toBe('dropped');
    expect(offer(q, 'trade')).toBe('queued');
    expect(offer(q, 'trade')).toBe('queued_over_capacity');
    expect(q.size).toBe(11);
    q.poll();
    q.poll();
    q.poll();
    expect(offer(q, 'quote')).toBe('queued'); // 8 of 10: below the high-water mark again
  });

  it('bounds the queued payload bytes whatever the type (overflow), and frees them as messages leave', () => {
    const q = new EventQueue(1000, true, 100);
    expect(offer(q, 'trade', 60)).toBe('queued');
    expect(offer(q, 'trade', 40)).toBe('queued');
    expect(q.bytes).toBe(100);
    expect(offer(q, 'trade', 1)).toBe('overflow');
    expect(offer(q, 'quote', 1)).toBe('overflow');
    q.poll();
    expect(q.bytes).toBe(40);
    expect(offer(q, 'trade', 60)).toBe('queued');
  });

  it('JetStream mode (no dropping): neither backpressure nor overflow drops, the server stops delivering instead', () => {
    const q = new EventQueue(10, false, 5);
    for (let i = 0; i < 12; i++) expect(offer(q, 'quote', 10)).not.toMatch(/dropped|overflow/);
    expect(q.size).toBe(12);
  });

  it('gives back each message as it was offered: bytes, subject, times and ack (core-mode bytes are a copy)', () => {
    const q = new EventQueue(100, false);
    const ack: Ackable = { ack: () => undefined, nak: () => undefined } as unknown as Ackable;
    const data = payload(7, 300);
    q.offer('md.events.trade.A', data, 'trade', 1234.5, 99.25, null);
    q.offer('md.events.quote.B', new Uint8Array(0), 'quote', 1, 2, ack);
    data.fill(0); // core mode: the client may reuse its buffer once the callback returns
    expect(q.poll()).toBe(true);
    expect([q.subject, q.recvMs, q.t0, q.ack]).toEqual(['md.events.trade.A', 1234.5, 99.25, null]);
    expect(Array.from(q.data)).toEqual(Array.from(payload(7, 300)));
    expect(q.poll()).toBe(true);
    expect([q.subject, q.data.length, q.ack]).toEqual(['md.events.quote.B', 0, ack]);
  });

  // against a plain array of copies: random sizes (empty, tiny, up to the largest copied payload, and
  // past it), random interleaving, so records fill chunks to their ends, chunks are freed and reused,
  // the queue starts over when empty, and spare chunks beyond the few kept are given back
  it('agrees with a plain FIFO of copies over random offers and polls (chunk ends, reuse, large payloads)', () => {
    let seed = 12345;
    const rnd = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const sizes = (): number => {
      const r = rnd();
      if (r < 0.05) return 0;
      if (r < 0.55) return 1 + Math.floor(rnd() * 300);
      if (r < 0.9) return 1 + Math.floor(rnd() * 30_000);
      if (r < 0.98) return 30_000 + Math.floor(rnd() * 35_537); // up to the largest copied payload
      return 65_537 + Math.floor(rnd() * 10_000); // kept as it came, not copied
    };
    const q = new EventQueue(4000, true, Infinity); // its reserve: one chunk
    const model: { id: number; n: number; ack: Ackable | null }[] = [];
    let next = 0;
    let checked = 0;
    let modelBytes = 0;
    let peakHeld = 0;
    let givenBack = 0;
    let held = q.heldBytes;
    for (let step = 0; step < 20_000; step++) {
      // phases: mostly offering, mostly polling, balanced
      const phase = Math.floor(step / 1000) % 3;
      const pOffer = phase === 0 ? 0.8 : phase === 1 ? 0.2 : 0.5;
      if (rnd() < pOffer) {
        const n = sizes();
        const id = next++;
        const data = payload(id, n);
        // some carry an ack (JetStream: the payload is kept, not copied)
        const ack = rnd() < 0.2 ? ({ id } as unknown as Ackable) : null;
        expect(q.offer(`md.events.trade.S${id % 6000}`, data, 'trade', id, -id, ack)).toMatch(/^queued/);
        if (ack === null && n <= 65_536) data.fill(0); // a copy was taken
        model.push({ id, n, ack });
        modelBytes += n;
      } else {
        const m = model.shift();
        expect(q.poll()).toBe(m !== undefined);
        if (m === undefined) continue;
        modelBytes -= m.n;
        expect(q.recvMs).toBe(m.id);
        expect(q.t0).toBe(-m.id);
        // past the first 4096 distinct subjects they are not interned
        expect(q.subject).toBe(`md.events.trade.S${m.id % 6000}`);
        expect(q.ack).toBe(m.ack);
        expect(q.data.length).toBe(m.n);
        const want = payload(m.id, m.n);
        for (let i = 0; i < m.n; i += 97) if (q.data[i] !== want[i]) expect.fail(`message ${m.id} byte ${i}`);
        if (m.n > 0) expect(q.data[m.n - 1]).toBe(want[m.n - 1]);
        checked++;
      }
      expect(q.size).toBe(model.length);
      expect(q.bytes).toBe(modelBytes);
      const ring = q.heldBytes;
      peakHeld = Math.max(peakHeld, ring);
      if (ring < held) givenBack++;
      held = ring;
    }
    for (let m = model.shift(); m !== undefined; m = model.shift()) {
      expect(q.poll()).toBe(true);
      expect([q.recvMs, q.data.length]).toEqual([m.id, m.n]);
    }
    expect(q.poll()).toBe(false);
    expect(checked).toBeGreaterThan(5000);
    expect(peakHeld).toBeGreaterThanOrEqual(4 * 2 ** 20); // records over several chunks
    expect(givenBack).toBeGreaterThan(0);
    expect(q.heldBytes).toBe(2 ** 20); // emptied, it holds its reserve and no more
  });

  it('makes the store for a full queue ready up front (up to 16 MiB) and keeps no more than that once emptied', () => {
    expect(new EventQueue(10).reserveChunks).toBe(1);
    expect(new EventQueue(10_000, false).reserveChunks).toBe(1); // JetStream: records without payloads
    expect(new EventQueue(10_000_000).reserveChunks).toBe(16);
    expect(new EventQueue(10_000_000, true, Infinity, false).reserveChunks).toBe(1); // never offered to: nothing made ready
    const q = new EventQueue(10_000); // 10000 × 256 B: 3 chunks of 1 MiB
    expect(q.reserveChunks).toBe(3);
    expect(q.heldBytes).toBe(3 * 2 ** 20);
    for (let i = 0; i < 40_000; i++) offer(q, 'trade', 200, i);
    expect(q.heldBytes).toBeGreaterThan(8 * 2 ** 20);
    expect(drainSubjects(q)).toHaveLength(40_000);
    expect(q.heldBytes).toBe(3 * 2 ** 20);
  });

  it('cycles a lasting backlog past the reserve through the chunks it holds, allocating none', () => {
    const q = new EventQueue(10_000); // reserve: 3 chunks
    for (let i = 0; i < 40_000; i++) offer(q, 'trade', 200, i); // ~9 chunks of records
    expect(q.allocatedChunks).toBeGreaterThan(8);
    // a steady backlog: one in, one out, for about 30 chunks' worth of records
    let allocated = 0;
    for (let i = 40_000; i < 160_000; i++) {
      if (i === 50_000) allocated = q.allocatedChunks; // the writer may have needed one before the reader freed one
      offer(q, 'trade', 200, i);
      expect(q.poll()).toBe(true);
      expect(q.subject).toBe(`md.events.trade.S${i - 40_000}`);
    }
    expect(q.allocatedChunks).toBe(allocated);
    // what 40,000 records of 232 bytes need, a chunk being read and one being written, and the spares
    expect(q.heldBytes).toBeLessThanOrEqual((Math.ceil((40_000 * 232) / 2 ** 20) + 2 + SPARE_CHUNKS) * 2 ** 20);
    // a shrinking backlog gives its chunks back as they empty, and the empty queue holds its reserve
    expect(drainSubjects(q)).toHaveLength(40_000);
    expect(q.heldBytes).toBe(3 * 2 ** 20);
  });
});
