/**
 * Independent randomized differential test of EventQueue (SPEC §6) against a trivially correct
 * model: a plain array of { subject, copied bytes, recvMs, t0, ack } plus the admission rule
 * written out from the SPEC text. Every byte of every payload is compared, and every `data` view
 * handed out since the last offer() is re-checked just before the next offer() (its documented
 * lifetime), so chunk recycling / empty-queue resets that clobber a live view are caught.
 */
import { describe, expect, it } from 'vitest';
import type { EventTypeLabel } from '../../src/domain/events.js';
import type { Ackable } from '../../src/nats/jetstream-source.js';
import { EventQueue, SPARE_CHUNKS } from '../../src/queue/event-queue.js';
import { mulberry32 } from '../helpers/random.js';

const CHUNK = 1 << 20;
const MAX_COPIED = 64 * 1024;
const MAX_RECORD = 32 + MAX_COPIED; // largest record that is written into a chunk

const rng = mulberry32;

interface ModelMsg {
  readonly subject: string;
  readonly bytes: Uint8Array; // our own copy, taken at offer time
  readonly recvMs: number;
  readonly t0: number;
  readonly ack: Ackable | null;
  readonly type: EventTypeLabel;
}

type Adm = 'queued' | 'queued_over_capacity' | 'dropped' | 'overflow';

/** SPEC §6 written out independently of src/queue. */
function modelAdmit(type: EventTypeLabel, n: number, size: number, bytes: number, capacity: number, maxBytes: number, dropping: boolean): Adm {
  if (dropping) {
    if (type !== 'trade' && size >= 0.9 * capacity) return 'dropped';
    if (bytes + n > maxBytes) return 'overflow';
  }
  return size >= capacity ? 'queued_over_capacity' : 'queued';
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  return Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
}

function record(n: number, kept: boolean): number {
  return kept ? 32 : (32 + n + 7) & ~7;
}

const TYPES: EventTypeLabel[] = ['trade', 'quote', 'book_l2', 'heartbeat'];
const ODD_TOKENS = ['Ä', 'Ω', '€', '😀', 'ß', '中文', 'e\u0301', '\u0000', ' ', 'İ'];

interface Scenario {
  readonly seed: number;
  readonly ops: number;
  readonly capacity: number;
  readonly dropping: boolean;
  readonly maxBytes: number;
  readonly ackRate: number;
  readonly newSubjectRate: number;
}

function runScenario(s: Scenario): { maxSize: number; distinctSubjects: number; polled: number; reserve: number; maxHeld: number } {
  const r = rng(s.seed);
  const q = new EventQueue(s.capacity, s.dropping, s.maxBytes);
  const model: ModelMsg[] = [];
  let head = 0; // model[head..] is queued
  let modelBytes = 0;
  let modelPeak = 0;
  let queuedTotal = 0;
  let takenTotal = 0;
  let recordBytes = 0; // bytes of unread records that live in chunks
  /** Where the next record would start in its chunk if the layout is as documented: only steers the generator toward chunk ends. */
  let writeEnd = 0;
  const symbols: string[] = ['BTCUSD'];
  let symbolSeq = 0;
  /** views handed out since the last offer, with what they must still hold */
  let live: { view: Uint8Array; expect: Uint8Array; at: number }[] = [];
  let maxSize = 0;
  let polled = 0;
  let maxHeld = 0;
  const fail = (op: number, what: string): never => {
    throw new Error(`seed ${s.seed} op ${op}: ${what}`);
  };

  const genSize = (): number => {
    const rem = CHUNK - writeEnd;
    if (r() < 0.06 && rem >= 32 && rem - 32 <= MAX_COPIED + 40) {
      const y = r();
      // exactly fill the chunk (with or without padding), overshoot by a little, or fit the payload but not the header
      const n = y < 0.4 ? rem - 32 - Math.floor(r() * 8) : y < 0.7 ? rem - 32 + 1 + Math.floor(r() * 8) : rem - Math.floor(r() * 32);
      return Math.max(0, n);
    }
    const x = r();
    if (x < 0.08) return 0;
    if (x < 0.55) return 1 + Math.floor(r() * 300);
    if (x < 0.8) return 1 + Math.floor(r() * 4096);
    if (x < 0.9) return Math.floor(r() * MAX_COPIED);
    if (x < 0.93) return MAX_COPIED - 32; // a record of exactly 64 KiB: 16 of them fill a chunk exactly
    if (x < 0.95) return MAX_COPIED; // largest copied
    if (x < 0.965) return MAX_COPIED + 1; // smallest kept
    if (x < 0.975) return MAX_COPIED - 1;
    if (x < 0.985) return MAX_COPIED + 1 + Math.floor(r() * 200_000);
    return [1, 7, 8, 9, 24, 25, 31, 32, 33][Math.floor(r() * 9)]!;
  };

  const genSubject = (type: EventTypeLabel): string => {
    let sym: string;
    if (r() < s.newSubjectRate) {
      symbolSeq++;
      sym = r() < 0.2 ? `S${symbolSeq}${ODD_TOKENS[symbolSeq % ODD_TOKENS.length]}` : `S${symbolSeq}`;
      symbols.push(sym);
    } else {
      sym = symbols[Math.floor(r() * symbols.length)]!;
    }
    return `md.events.${type}.${sym}`;
  };

  const checkLive = (op: number): void => {
    for (const l of live) if (!sameBytes(l.view, l.expect)) fail(op, `a data view taken at op ${l.at} changed before the next offer()`);
  };

  const checkCounters = (op: number): void => {
    const size = queuedTotal - takenTotal;
    if (q.size !== size) fail(op, `size ${q.size} != ${size}`);
    if (q.queuedTotal !== queuedTotal) fail(op, `queuedTotal ${q.queuedTotal} != ${queuedTotal}`);
    if (q.takenTotal !== takenTotal) fail(op, `takenTotal ${q.takenTotal} != ${takenTotal}`);
    if (q.bytes !== modelBytes) fail(op, `bytes ${q.bytes} != ${modelBytes}`);
    if (q.peakBytes !== modelPeak) fail(op, `peakBytes ${q.peakBytes} != ${modelPeak}`);
    if (q.fillRatio !== size / s.capacity) fail(op, `fillRatio ${q.fillRatio}`);
    const held = q.heldBytes;
    if (held % CHUNK !== 0) fail(op, `heldBytes ${held} not whole chunks`);
    if (held < q.reserveChunks * CHUNK) fail(op, `heldBytes ${held} below the reserve ${q.reserveChunks} chunks`);
    // memory held stays near what the unread records need: no leak of emptied chunks (beyond the
    // few spares a backlog keeps for its writer)
    const need = Math.ceil(recordBytes / (CHUNK - MAX_RECORD)) + 2 + SPARE_CHUNKS;
    if (held > Math.max(q.reserveChunks, need) * CHUNK) fail(op, `heldBytes ${held} for ${recordBytes} record bytes (reserve ${q.reserveChunks})`);
    if (size === 0 && held !== q.reserveChunks * CHUNK) fail(op, `empty queue holds ${held / CHUNK} chunks, reserve ${q.reserveChunks}`);
    maxHeld = Math.max(maxHeld, held);
  };

  const doOffer = (op: number): void => {
    checkLive(op);
    live = [];
    const type = TYPES[Math.floor(r() * TYPES.length)]!;
    const subject = genSubject(type);
    const n = genSize();
    const src = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      const v = (r() * 4294967296) >>> 0;
      src[i] = v;
      if (i + 1 < n) src[i + 1] = v >>> 8;
      if (i + 2 < n) src[i + 2] = v >>> 16;
      if (i + 3 < n) src[i + 3] = v >>> 24;
    }
    // sometimes a view into a larger buffer at an odd offset (what nats.js hands over)
    let data = src;
    if (r() < 0.2) {
      const big = new Uint8Array(n + 13);
      big.fill(0xee);
      big.set(src, 5);
      data = big.subarray(5, 5 + n);
    }
    const rv = r();
    const recvMs = rv < 0.02 ? -0 : rv < 0.04 ? Number.NaN : 1.7e12 + r() * 1e9;
    const t0 = r() < 0.02 ? Number.MAX_VALUE : r() * 1e7 - 5e6;
    const ack: Ackable | null = s.dropping ? (r() < s.ackRate ? { ack() {}, nak() {} } : null) : { ack() {}, nak() {} };
    const size = queuedTotal - takenTotal;
    const expected = modelAdmit(type, n, size, modelBytes, s.capacity, s.maxBytes, s.dropping);
    const got = q.offer(subject, data, type, recvMs, t0, ack);
    if (got !== expected) fail(op, `admission ${got} != ${expected} (type ${type}, n ${n}, size ${size}, bytes ${modelBytes})`);
    if (got === 'dropped' || got === 'overflow') return;
    const kept = n > MAX_COPIED || ack !== null;
    model.push({ subject, bytes: src.slice(), recvMs, t0, ack, type });
    queuedTotal++;
    modelBytes += n;
    modelPeak = Math.max(modelPeak, modelBytes);
    recordBytes += record(n, kept);
    if (writeEnd + record(n, kept) > CHUNK) writeEnd = 0;
    writeEnd += record(n, kept);
    maxSize = Math.max(maxSize, queuedTotal - takenTotal);
    // the caller may reuse its bytes once offer() returns when they were copied (core, <= 64 KiB, no ack)
    if (!kept) data.fill(0xa5);
  };

  const doPoll = (op: number): void => {
    const ok = q.poll();
    if (head === model.length) {
      if (ok) fail(op, 'poll() true on an empty queue');
      return;
    }
    if (!ok) fail(op, `poll() false with ${model.length - head} queued`);
    const m = model[head]!;
    model[head] = undefined as unknown as ModelMsg; // let it go
    head++;
    takenTotal++;
    polled++;
    modelBytes -= m.bytes.length;
    recordBytes -= record(m.bytes.length, m.bytes.length > MAX_COPIED || m.ack !== null);
    if (q.subject !== m.subject) fail(op, `subject ${JSON.stringify(q.subject)} != ${JSON.stringify(m.subject)}`);
    if (!sameBytes(q.data, m.bytes)) fail(op, `payload of ${m.subject} differs (len ${q.data.length} vs ${m.bytes.length})`);
    if (!Object.is(q.recvMs, m.recvMs)) fail(op, `recvMs ${q.recvMs} != ${m.recvMs}`);
    if (!Object.is(q.t0, m.t0)) fail(op, `t0 ${q.t0} != ${m.t0}`);
    if (q.ack !== m.ack) fail(op, `ack differs (${q.ack === null ? 'null' : 'object'} vs ${m.ack === null ? 'null' : 'object'})`);
    live.push({ view: q.data, expect: m.bytes, at: op });
    if (head === model.length) writeEnd = 0;
  };

  // phases: bursts of offers, bursts of polls, balanced stretches, full drains
  let op = 0;
  while (op < s.ops) {
    const kind = r();
    const len = 1 + Math.floor(r() * (kind < 0.15 ? 3000 : 200));
    const pOffer = kind < 0.15 ? 0.97 : kind < 0.35 ? 0.15 : kind < 0.45 ? 1.0 : 0.5;
    for (let i = 0; i < len && op < s.ops; i++, op++) {
      if (r() < pOffer) doOffer(op);
      else doPoll(op);
      checkCounters(op);
    }
    if (r() < 0.1) {
      while (head < model.length) {
        doPoll(op++);
        checkCounters(op);
      }
      doPoll(op++); // on empty
      checkCounters(op);
    }
  }
  while (head < model.length) doPoll(op++);
  if (q.poll()) fail(op, 'poll() true after the model emptied');
  checkLive(op);
  checkCounters(op);
  return { maxSize, distinctSubjects: symbols.length * TYPES.length, polled, reserve: q.reserveChunks, maxHeld };
}

describe('EventQueue against a plain-array model (independent differential test)', () => {
  const scenarios: Scenario[] = [];
  for (let i = 0; i < 12; i++) {
    const seed = 0x5eed0000 + i;
    const r = rng(seed * 7 + 1);
    const dropping = i % 3 !== 2;
    const caps = [8, 100, 1000, 10_000, 70_000];
    const capacity = caps[Math.floor(r() * caps.length)]!;
    const maxBytes = !dropping || r() < 0.4 ? Number.POSITIVE_INFINITY : [50_000, 400_000, 3_000_000, 40_000_000][Math.floor(r() * 4)]!;
    scenarios.push({ seed, ops: 12_000, capacity, dropping, maxBytes, ackRate: i % 4 === 0 ? 0 : 0.15, newSubjectRate: i % 2 === 0 ? 0.02 : 0.4 });
  }

  it.each(scenarios)('seed $seed (capacity $capacity, dropping $dropping, maxBytes $maxBytes)', (s) => {
    const stats = runScenario(s);
    expect(stats.polled).toBeGreaterThan(0);
  });

  it('exercises > 4096 distinct subjects, multi-chunk backlogs beyond the reserve, and repeats of un-interned subjects', () => {
    const stats = runScenario({ seed: 4242, ops: 40_000, capacity: 100_000, dropping: true, maxBytes: Number.POSITIVE_INFINITY, ackRate: 0.1, newSubjectRate: 0.5 });
    expect(stats.distinctSubjects).toBeGreaterThan(4096 * 2);
    expect(stats.maxHeld).toBeGreaterThan(stats.reserve * CHUNK);
    expect(stats.maxSize).toBeGreaterThan(2000);
  });

  it('records that exactly fill a chunk, then a zero-length one, the empty reset, and views kept across polls', () => {
    for (const dropping of [true, false]) {
      const q = new EventQueue(10, dropping);
      const ack = (): Ackable | null => (dropping ? null : { ack() {}, nak() {} });
      const sizes = [...Array<number>(16).fill(MAX_COPIED - 32), 0, MAX_COPIED, MAX_COPIED + 1, 0, 5];
      for (let round = 0; round < 3; round++) {
        const want: { s: string; b: Uint8Array; a: Ackable | null }[] = [];
        for (let k = 0; k < sizes.length; k++) {
          const b = new Uint8Array(sizes[k]!);
          for (let i = 0; i < b.length; i++) b[i] = (i * 31 + k * 7 + round) & 0xff;
          const a = ack();
          const subj = `md.events.trade.X${k}ü`;
          expect(q.offer(subj, b, 'trade', k, -k, a)).not.toBe('dropped');
          want.push({ s: subj, b: b.slice(), a });
          b.fill(0);
          if (!dropping || b.length > MAX_COPIED) b.set(want[k]!.b); // kept payloads are not copies
        }
        const views: Uint8Array[] = [];
        for (let k = 0; k < sizes.length; k++) {
          expect(q.poll()).toBe(true);
          expect(q.subject).toBe(want[k]!.s);
          expect(sameBytes(q.data, want[k]!.b)).toBe(true);
          expect(q.ack).toBe(want[k]!.a);
          expect(q.recvMs).toBe(k);
          views.push(q.data);
        }
        expect(q.poll()).toBe(false);
        // all views stay intact until the next offer
        for (let k = 0; k < sizes.length; k++) expect(sameBytes(views[k]!, want[k]!.b)).toBe(true);
        expect(q.heldBytes).toBe(q.reserveChunks * CHUNK);
      }
    }
  });
});
