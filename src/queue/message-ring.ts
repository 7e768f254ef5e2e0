/**
 * A single-producer single-consumer ring of records in a SharedArrayBuffer:
 * the hand-over from the I/O thread (NATS callbacks, admission) to the engine
 * thread (ENGINE_THREAD=worker). Records keep their order. The writer never
 * blocks: {@link RingWriter.tryWrite} says false when the ring lacks room and
 * the caller keeps the record (the bounded queue's policy decides what is
 * admitted; the ring is only the transport). The reader sleeps on an
 * `Atomics.waitAsync` the writer wakes when it finds the reader asleep.
 *
 * Layout: a control block of Int32 slots, then `size` data bytes (a power of
 * two). Byte and record counters run modulo 2^32 and are compared by
 * difference, so they may wrap. A record is a 32-byte header (length,
 * subject length, kind, receive time, read t0, payload length)
 * followed by the subject's UTF-8 bytes and the payload, padded to 8 bytes; it
 * never wraps: a record that would cross the end leaves a zero length there
 * and starts at offset 0.
 */
import { subjectIn } from '../decode/subject-intern.js';

/** What a record asks of the engine thread. */
export const RecordKind = {
  /** A live message: decode, engine, outputs. */
  live: 0,
  /** A stored message replayed by the warm-up (SPEC §11); its signal is not published. */
  replay: 1,
  /** A replayed message above the durable's ack floor: its signal is published. */
  replaySignal: 2,
  /** `coverage_start` set to `recvMs`. */
  coverageStart: 3,
  /** Events up to `recvMs` may have been lost (an overflow drop). */
  coverageLostUntil: 4,
  /** Events may have been lost (a core-mode disconnect): coverage restarts at the next event. */
  coverageLost: 5,
  /** The warm-up is over: publish the features of the symbols it touched above the ack floor. */
  republish: 6,
} as const;
export type RecordKind = (typeof RecordKind)[keyof typeof RecordKind];

const CTL_WRITE_BYTES = 0;
const CTL_READ_BYTES = 1;
const CTL_WRITTEN = 2;
const CTL_READ = 3;
const CTL_SLEEPING = 4;
const CTL_PAYLOAD_READ = 5;
/** 1 while the writer blocks in {@link RingWriter.waitForRoom}: the reader then wakes it on release. */
const CTL_WRITER_WAITING = 6;
const CTL_SLOTS = 16;
const CTL_BYTES = CTL_SLOTS * 4;
/** Bytes of a record's header. */
export const RECORD_HEADER_BYTES = 32;

/** Longest subject, in UTF-16 code units, whose UTF-8 bytes (3 per unit at worst) fit the header's 16-bit length. */
const MAX_SUBJECT_LENGTH = 0x5555;

/** Bytes a record of this subject and payload may take (the subject at its UTF-8 worst). */
function bound(subjectLength: number, dataLength: number): number {
  return (RECORD_HEADER_BYTES + subjectLength * 3 + dataLength + 7) & ~7;
}

/** The shared memory of one ring: pass `buffer` to the other thread and open it there. */
export class MessageRing {
  readonly ctl: Int32Array;
  readonly bytes: Uint8Array;
  readonly buf: Buffer;
  readonly f64: Float64Array;
  readonly u32: Uint32Array;
  readonly mask: number;

  constructor(
    readonly buffer: SharedArrayBuffer,
    readonly size: number,
  ) {
    this.ctl = new Int32Array(buffer, 0, CTL_SLOTS);
    this.bytes = new Uint8Array(buffer, CTL_BYTES, size);
    this.buf = Buffer.from(buffer, CTL_BYTES, size);
    this.f64 = new Float64Array(buffer, CTL_BYTES, size / 8);
    this.u32 = new Uint32Array(buffer, CTL_BYTES, size / 4);
    this.mask = size - 1;
  }

  /** A new ring of `size` data bytes (a power of two, at least 1 KiB). */
  static create(size: number): MessageRing {
    if (!(size >= 1024 && size <= 2 ** 30 && (size & (size - 1)) === 0)) throw new RangeError(`ring size ${size} is not a power of two from 1 KiB to 1 GiB`);
    return new MessageRing(new SharedArrayBuffer(CTL_BYTES + size), size);
  }

  /** The ring over a buffer made by {@link create} (on the other thread). */
  static open(buffer: SharedArrayBuffer): MessageRing {
    return new MessageRing(buffer, buffer.byteLength - CTL_BYTES);
  }

  /**
   * Whether a record of this subject and payload length fits the ring (at most half of it, so one
   * always fits an empty ring). One that does not never will: {@link RingWriter.tryWrite} throws.
   */
  carries(subjectLength: number, dataLength: number): boolean {
    return subjectLength <= MAX_SUBJECT_LENGTH && bound(subjectLength, dataLength) <= this.size / 2;
  }

  /** Records written and not yet released by the reader. */
  get pendingRecords(): number {
    return (Atomics.load(this.ctl, CTL_WRITTEN) - Atomics.load(this.ctl, CTL_READ)) | 0;
  }

  /** Records released by the reader so far (modulo 2^32, as an unsigned number). */
  get recordsRead(): number {
    return Atomics.load(this.ctl, CTL_READ) >>> 0;
  }
}

/** `Atomics.waitAsync` (ES2024, in Node since 16), not in this project's `lib`. */
interface AtomicsWaitAsync {
  waitAsync(array: Int32Array, index: number, value: number): { async: false; value: string } | { async: true; value: Promise<string> };
}

/** The producer's side; one thread only. */
export class RingWriter {
  private w = 0;
  private written = 0;
  /** Payload bytes written, modulo 2^32. */
  private payloadWritten = 0;

  constructor(readonly ring: MessageRing) {}

  /** Records written so far (modulo 2^32, as an unsigned number). */
  get recordsWritten(): number {
    return this.written >>> 0;
  }

  /** Payload bytes in the ring not yet released by the reader. */
  get payloadBytes(): number {
    return (this.payloadWritten - Atomics.load(this.ring.ctl, CTL_PAYLOAD_READ)) >>> 0;
  }

  /**
   * Appends a record, or returns false when the ring has no room for it now
   * (it never will for one the ring does not {@link MessageRing.carries}: a
   * RangeError). `t0` is this thread's `performance.now()` at the socket read.
   */
  tryWrite(kind: RecordKind, subject: string, data: Uint8Array | null, recvMs: number, t0: number): boolean {
    const ring = this.ring;
    const dataLength = data === null ? 0 : data.length;
    if (subject.length > MAX_SUBJECT_LENGTH) throw new RangeError(`a subject of ${subject.length} characters is longer than a ring record allows`);
    const need = bound(subject.length, dataLength);
    const size = ring.size;
    if (need > size / 2) throw new RangeError(`a record of ${need} bytes does not fit a ring of ${size} bytes`);
    const used = (this.w - Atomics.load(ring.ctl, CTL_READ_BYTES)) >>> 0;
    let off = this.w & ring.mask;
    const tail = size - off;
    const skip = need > tail ? tail : 0;
    if (used + skip + need > size) return false;
    if (skip > 0) {
      ring.u32[off >> 2] = 0; // nothing more before the end: the reader jumps to offset 0
      this.w = (this.w + skip) | 0;
      off = 0;
    }
    const subjectBytes = subject.length === 0 ? 0 : ring.buf.write(subject, off + RECORD_HEADER_BYTES, 'utf8');
    if (data !== null) ring.bytes.set(data, off + RECORD_HEADER_BYTES + subjectBytes);
    const len = (RECORD_HEADER_BYTES + subjectBytes + dataLength + 7) & ~7;
    const u = off >> 2;
    ring.u32[u] = len;
    ring.u32[u + 1] = subjectBytes | (kind << 16);
    ring.f64[(off >> 3) + 1] = recvMs;
    ring.f64[(off >> 3) + 2] = t0;
    ring.u32[u + 6] = dataLength;
    this.w = (this.w + len) | 0;
    this.written = (this.written + 1) | 0;
    this.payloadWritten = (this.payloadWritten + dataLength) | 0;
    // publish the record (a release store: the bytes above are visible before the counters)
    Atomics.store(ring.ctl, CTL_WRITE_BYTES, this.w);
    Atomics.store(ring.ctl, CTL_WRITTEN, this.written);
    if (Atomics.load(ring.ctl, CTL_SLEEPING) === 1) {
      Atomics.store(ring.ctl, CTL_SLEEPING, 0);
      Atomics.notify(ring.ctl, CTL_SLEEPING);
    }
    return true;
  }

  /**
   * Blocks this thread until the reader releases a record (or has released
   * them all), or `timeoutMs` passes: for the warm-up, which must not outrun
   * the engine thread.
   */
  waitForRoom(timeoutMs: number): void {
    const ctl = this.ring.ctl;
    Atomics.store(ctl, CTL_WRITER_WAITING, 1);
    const read = Atomics.load(ctl, CTL_READ);
    if (read !== this.written) Atomics.wait(ctl, CTL_READ, read, timeoutMs);
    Atomics.store(ctl, CTL_WRITER_WAITING, 0);
  }
}

/** The consumer's side; one thread only. The record's fields are valid until {@link release}. */
export class RingReader {
  private r = 0;
  private read = 0;
  private payloadRead = 0;
  private len = 0;
  kind: RecordKind = RecordKind.live;
  subject = '';
  /** A view into the ring: valid until {@link release}; copy what must outlive it. */
  data: Uint8Array = new Uint8Array(0);
  recvMs = 0;
  t0 = 0;

  constructor(readonly ring: MessageRing) {}

  /** Records released so far (modulo 2^32, as an unsigned number). */
  get recordsRead(): number {
    return this.read >>> 0;
  }

  /** Whether a record is waiting. */
  hasRecord(): boolean {
    return Atomics.load(this.ring.ctl, CTL_WRITE_BYTES) !== this.r;
  }

  /** Loads the next record into the fields; false when the ring is empty. */
  next(): boolean {
    const ring = this.ring;
    if (Atomics.load(ring.ctl, CTL_WRITE_BYTES) === this.r) return false;
    let off = this.r & ring.mask;
    let len = ring.u32[off >> 2]!;
    if (len === 0) {
      this.r = (this.r + (ring.size - off)) | 0;
      off = 0;
      len = ring.u32[0]!;
    }
    const u = off >> 2;
    const meta = ring.u32[u + 1]!;
    const subjectBytes = meta & 0xffff;
    this.kind = (meta >>> 16) as RecordKind;
    this.recvMs = ring.f64[(off >> 3) + 1]!;
    this.t0 = ring.f64[(off >> 3) + 2]!;
    const dataLength = ring.u32[u + 6]!;
    const start = off + RECORD_HEADER_BYTES;
    this.subject = subjectBytes === 0 ? '' : subjectIn(ring.bytes, start, start + subjectBytes);
    this.data = ring.bytes.subarray(start + subjectBytes, start + subjectBytes + dataLength);
    this.len = len;
    return true;
  }

  /** Frees the current record's room and counts it as read (the writer's acknowledgements follow this count). */
  release(): void {
    const ctl = this.ring.ctl;
    this.r = (this.r + this.len) | 0;
    this.read = (this.read + 1) | 0;
    this.payloadRead = (this.payloadRead + this.data.length) | 0;
    Atomics.store(ctl, CTL_READ_BYTES, this.r);
    Atomics.store(ctl, CTL_PAYLOAD_READ, this.payloadRead);
    Atomics.store(ctl, CTL_READ, this.read);
    if (Atomics.load(ctl, CTL_WRITER_WAITING) === 1) Atomics.notify(ctl, CTL_READ);
  }

  /**
   * Resolves when a record may be waiting: at once if one is, else when the
   * writer wakes this reader. The event loop keeps running meanwhile; the
   * wait alone does not keep a thread alive (the engine thread's message port does).
   */
  async waitForRecord(): Promise<void> {
    const ctl = this.ring.ctl;
    Atomics.store(ctl, CTL_SLEEPING, 1);
    // a record written before the flag was set would not wake us: look again
    if (this.hasRecord()) {
      Atomics.store(ctl, CTL_SLEEPING, 0);
      return;
    }
    const res = (Atomics as unknown as AtomicsWaitAsync).waitAsync(ctl, CTL_SLEEPING, 1);
    if (res.async) await res.value;
  }
}
