import { describe, expect, it } from 'vitest';
import type { EventTypeLabel } from '../../src/domain/events.js';
import type { QueuedMessage } from '../../src/queue/event-queue.js';
import { EventQueue } from '../../src/queue/event-queue.js';

function msg(type: EventTypeLabel, bytes = 10, id = 0): QueuedMessage {
  return { subject: `md.events.${type}.S${id}`, data: new Uint8Array(bytes), subjectType: type, recvMs: 0, t0: 0, ack: null };
}

describe('EventQueue (SPEC §6)', () => {
  it('is FIFO and grows its ring while keeping the order', () => {
    const q = new EventQueue(5000);
    for (let i = 0; i < 3000; i++) expect(q.offer(msg('quote', 1, i))).toBe('queued');
    for (let i = 0; i < 1000; i++) expect(q.poll()!.subject).toBe(`md.events.quote.S${i}`);
    for (let i = 3000; i < 4000; i++) q.offer(msg('trade', 1, i));
    const order: string[] = [];
    for (let m = q.poll(); m !== undefined; m = q.poll()) order.push(m.subject);
    expect(order).toHaveLength(3000);
    expect(order[0]).toBe('md.events.quote.S1000');
    expect(order[2999]).toBe('md.events.trade.S3999');
    expect(q.size).toBe(0);
  });

  it('from 90 % fill drops heartbeats, quotes and books but never trades; trades pass the capacity', () => {
    const q = new EventQueue(10);
    for (let i = 0; i < 9; i++) expect(q.offer(msg('trade'))).toBe('queued');
    expect(q.fillRatio).toBeCloseTo(0.9, 12);
    for (const t of ['quote', 'book_l2', 'heartbeat', 'unknown'] as const) expect(q.offer(msg(t))).toBe('dropped');
    expect(q.offer(msg('trade'))).toBe('queued');
    expect(q.offer(msg('trade'))).toBe('queued_over_capacity');
    expect(q.size).toBe(11);
    q.poll();
    q.poll();
    q.poll();
    expect(q.offer(msg('quote'))).toBe('queued'); // 8 of 10: below the high-water mark again
  });

  it('bounds the queued payload bytes whatever the type (overflow), and frees them as messages leave', () => {
    const q = new EventQueue(1000, true, 100);
    expect(q.offer(msg('trade', 60))).toBe('queued');
    expect(q.offer(msg('trade', 40))).toBe('queued');
    expect(q.bytes).toBe(100);
    expect(q.offer(msg('trade', 1))).toBe('overflow');
    expect(q.offer(msg('quote', 1))).toBe('overflow');
    q.poll();
    expect(q.bytes).toBe(40);
    expect(q.offer(msg('trade', 60))).toBe('queued');
  });

  it('JetStream mode (no dropping): neither backpressure nor overflow drops, the server stops delivering instead', () => {
    const q = new EventQueue(10, false, 5);
    for (let i = 0; i < 12; i++) expect(q.offer(msg('quote', 10))).not.toMatch(/dropped|overflow/);
    expect(q.size).toBe(12);
  });
});
