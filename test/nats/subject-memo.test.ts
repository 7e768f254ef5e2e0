/**
 * The subject memo (src/nats/subject-memo.ts, DECISIONS 93): the strings it
 * gives for subject bytes are what nats.js's `TextDecoder` gives, whatever
 * the mix of subjects (repeats, slot collisions, non-ASCII, over-long), with
 * the event type `subjectEventType` reads; and on the pinned nats.js it finds
 * the bytes of core and JetStream messages (else it would be quietly slow).
 */
import fc from 'fast-check';
import { connect } from '@nats-io/transport-node';
import type { Msg } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { JsMsg } from '@nats-io/jetstream';
import { afterAll, describe, expect, it } from 'vitest';
import { subjectEventType } from '../../src/decode/decode.js';
import { slotOf, subjectIn, subjectMemoBytes, subjectOfBytes, subjectTypeOf } from '../../src/decode/subject-intern.js';
import { jsSubjectOf, subjectMemoStats, subjectOf } from '../../src/nats/subject-memo.js';
import { TestNatsServer, waitFor } from '../helpers/nats-server.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const token = fc.oneof(
  fc.constantFrom('md', 'events', 'trade', 'TRADE', 'quote', 'book_l2', 'l2', 'heartbeat', 'tick', 'BTCUSDT', 'ETH-USD', 'x'),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }).map((s) => s.replace(/[.\s*>]/g, '_')),
  fc.string({ minLength: 1, maxLength: 200 }).map((s) => s.replace(/[.\s*>]/g, '_')), // over the memo's 128 bytes at times
);
const subject = fc.array(token, { minLength: 1, maxLength: 6 }).map((t) => t.join('.'));

describe('subject memo', () => {
  it('gives the decoded string and its event type for every subject, repeated or not', () => {
    fc.assert(
      fc.property(fc.array(subject, { minLength: 1, maxLength: 60 }), fc.array(fc.nat(), { minLength: 1, maxLength: 200 }), (subjects, picks) => {
        for (const k of picks) {
          const s = subjects[k % subjects.length]!;
          // a view into a larger buffer, as nats.js hands its bytes over, then overwritten as a socket buffer is
          const buf = new Uint8Array(encoder.encode(s).length + 8);
          buf.set(encoder.encode(s), 3);
          const view = buf.subarray(3, buf.length - 5);
          const got = subjectOfBytes(view);
          buf.fill(0x41);
          expect(got).toBe(decoder.decode(encoder.encode(s)));
          expect(subjectTypeOf(got)).toBe(subjectEventType(got));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('keeps giving right strings when far more subjects than its slots come and go', () => {
    const subjects = Array.from({ length: 20_000 }, (_, i) => `md.events.${['trade', 'quote', 'book_l2', 'other'][i % 4]}.S${i}`);
    for (let round = 0; round < 2; round++) {
      for (const s of subjects) {
        const got = subjectOfBytes(encoder.encode(s));
        if (got !== s || subjectTypeOf(got) !== subjectEventType(s)) expect([got, subjectTypeOf(got)]).toEqual([s, subjectEventType(s)]);
      }
    }
    // a subject read earlier and no longer the last: the type is computed, not the last one's
    expect(subjectTypeOf('md.events.quote.A')).toBe('quote');
  });

  it('keeps its own copy of the bytes: a buffer reused for another subject of the same slot is not taken for the first', () => {
    const first = 'md.events.trade.COPY0';
    const slot = slotOf(encoder.encode(first));
    let other = '';
    for (let i = 1; other === ''; i++) {
      const s = `md.events.quote.${i.toString(36).padStart(5, '0')}`; // as long as the first
      if (s !== first && slotOf(encoder.encode(s)) === slot) other = s;
    }
    const buf = encoder.encode(first);
    expect(subjectOfBytes(buf)).toBe(first);
    buf.set(encoder.encode(other)); // a socket buffer read into again
    expect(subjectOfBytes(buf)).toBe(other);
    expect(subjectTypeOf(other)).toBe(subjectEventType(other));
  });

  it('copies bytes handed over as a view into a Node Buffer (how nats.js gives them): the socket read is not kept alive, nor read again', () => {
    // nats.js's subject bytes are a Buffer view into the 64 KiB socket read; a Buffer's `slice` is a view too
    const before = subjectMemoBytes();
    const subjects = Array.from({ length: 50 }, (_, i) => `md.events.trade.READ${i}`);
    for (const s of subjects) {
      const read = Buffer.alloc(64 * 1024, 0x20);
      read.write(s, 1000, 'latin1');
      expect(subjectOfBytes(read.subarray(1000, 1000 + s.length))).toBe(s);
      read.fill(0x41); // whatever becomes of the read, the slot's copy stays the subject's
    }
    // 50 slots newly filled (or refilled) hold ~20-byte copies, not 50 reads of 64 KiB
    expect(subjectMemoBytes() - before).toBeLessThan(50 * 64);
    for (const s of subjects) expect(subjectOfBytes(Buffer.from(s, 'latin1'))).toBe(s);
  });

  it('reads subjects out of shared memory (the engine thread\'s ring), short and long', () => {
    const shared = new Uint8Array(new SharedArrayBuffer(1024));
    for (const s of ['md.events.trade.SHARED', `md.events.quote.${'Ü'.repeat(100)}`]) {
      const bytes = encoder.encode(s);
      shared.set(bytes, 10);
      expect(subjectIn(shared, 10, 10 + bytes.length)).toBe(s);
      expect(subjectIn(shared, 10, 10 + bytes.length)).toBe(s);
    }
  });

  describe('on nats.js messages', () => {
    const servers: TestNatsServer[] = [];
    afterAll(async () => {
      for (const s of servers) await s.stop();
    });

    it('reads the bytes of core and JetStream messages, and gives what msg.subject gives', async () => {
      const nats = await TestNatsServer.start({ jetstream: true });
      servers.push(nats);
      const nc = await connect({ servers: nats.url });
      try {
        const names = ['md.events.trade.BTCUSDT', 'md.events.quote.ÉTH', 'md.events.book_l2.X', `md.events.trade.${'L'.repeat(150)}`];
        const core: Msg[] = [];
        nc.subscribe('md.events.>', {
          callback: (err, m) => {
            if (err === null) core.push(m);
          },
        });
        await nc.flush();
        const before = { ...subjectMemoStats };
        for (const s of [...names, ...names]) nc.publish(s, '{}');
        await waitFor(() => core.length === 8, 'eight core messages');
        const fromMemo = core.map((m) => subjectOf(m));
        expect(fromMemo).toEqual(core.map((m) => m.subject));
        expect(subjectMemoStats.bytes - before.bytes).toBe(8);
        expect(subjectMemoStats.fallback).toBe(before.fallback);

        const jsm = await jetstreamManager(nc);
        await jsm.streams.add({ name: 'MEMO', subjects: ['md.events.>'] });
        for (const s of names) await jetstream(nc).publish(s, '{}');
        const consumer = await jetstream(nc).consumers.get('MEMO');
        const stored: JsMsg[] = [];
        const messages = await consumer.consume({
          callback: (m) => {
            stored.push(m);
          },
        });
        await waitFor(() => stored.length === names.length, 'four stored messages');
        messages.stop();
        const mid = { ...subjectMemoStats };
        expect(stored.map((m) => jsSubjectOf(m))).toEqual(names);
        expect(subjectMemoStats.bytes - mid.bytes).toBe(names.length);
        expect(subjectMemoStats.fallback).toBe(before.fallback);
      } finally {
        await nc.close();
      }
    });
  });
});
