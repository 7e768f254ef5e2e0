import type { EventTypeLabel } from '../domain/events.js';
import type { Ackable } from '../nats/jetstream-source.js';

/** Slots allocated up front; the slot ring doubles as it fills. */
const INITIAL_SLOTS = 1024;
/** Payload bytes of the ring at first (it doubles as needed). */
const INITIAL_BYTES = 256 * 1024;
/** An emptied byte ring grown past this many times its first size (4 MiB) is given back: a burst's ring is not kept for good. */
const IDLE_RING_FACTOR = 16;
/** Payloads larger than this are kept as they came instead of copied into the ring (so a few huge ones cannot blow it up). */
const MAX_COPIED_BYTES = 64 * 1024;
/** Most distinct subjects the queue keeps one string of (see {@link EventQueue.offer}). */
const MAX_INTERNED_SUBJECTS = 4096;

/** What the queue did with an offered message. */
export type Admission = 'queued' | 'queued_over_capacity' | 'dropped' | 'overflow';

/** Fill ratio from which non-trades are dropped (SPEC §6). */
export const HIGH_WATER = 0.9;

/** The bound on queued payload bytes: `QUEUE_MAX_BYTES` where the queue may drop (core mode); none in JetStream mode, where the server stops delivering instead. */
export function byteBound(maxBytes: number, dropping: boolean): number {
  return dropping ? maxBytes : Number.POSITIVE_INFINITY;
}

/**
 * The admission policy of SPEC §6, for a queue holding `size` messages and
 * `bytes` payload bytes: the one decision both {@link EventQueue} and the
 * engine thread's ring (ENGINE_THREAD=worker) make. `dropping`: core mode
 * (the queue may drop); JetStream mode never drops.
 */
export function admit(subjectType: EventTypeLabel, dataLength: number, size: number, bytes: number, capacity: number, maxBytes: number, dropping: boolean): Admission {
  if (dropping) {
    if (subjectType !== 'trade' && size >= HIGH_WATER * capacity) return 'dropped';
    if (bytes + dataLength > maxBytes) return 'overflow';
  }
  return size >= capacity ? 'queued_over_capacity' : 'queued';
}

/**
 * The bounded FIFO between the NATS callback and the engine (SPEC §6).
 * Below 90 % fill everything is queued. From 90 % on, heartbeats, quotes and
 * books are dropped; trades are never dropped: in core mode they are admitted
 * beyond the capacity (the server cannot be paused), which the caller reports
 * as critical. Memory has a hard bound all the same: a message that would push
 * the queued payload bytes over `maxBytes` is refused whatever its type
 * (`overflow`). In JetStream mode the server stops delivering at the capacity
 * (max_ack_pending), so nothing is dropped there.
 *
 * Storage (DECISIONS 74): payloads are copied into one byte ring and the rest
 * of a message into typed-array slots, so a backlog is a few large arrays the
 * garbage collector never walks, instead of objects per message (the client's
 * message, its view of the socket read, the subject string) that every young
 * collection would copy while the backlog lasts. Subjects are interned. The
 * taken message is read through {@link subject}, {@link data}, {@link recvMs},
 * {@link t0} and {@link ack}, valid until the next {@link offer}.
 */
export class EventQueue {
  // slots: a power-of-two ring indexed by position & mask
  private subjects: string[];
  private acks: (Ackable | null)[];
  /** Messages kept as they came (larger than MAX_COPIED_BYTES), at their slot; undefined for copied ones. */
  private kept: (Uint8Array | undefined)[];
  /** Per slot: receive time, read t0. */
  private times: Float64Array;
  /** Per slot: offset in the byte ring, payload length. */
  private spans: Int32Array;
  /** Per slot: the byte counter once this message is freed (its bytes and any gap it skipped at the ring's end). */
  private freedAt: Float64Array;
  private mask: number;
  private head = 0;
  private tail = 0;

  // the byte ring: payloads never wrap; one that would cross the end starts at 0 (the gap is its cost)
  private ring: Uint8Array;
  /** Where the next payload goes. */
  private writeOffset = 0;
  /** Bytes taken (payloads and gaps) and freed so far; their difference is the ring's use. */
  private written = 0;
  private freed = 0;

  private readonly internedSubjects = new Map<string, string>();

  /** Bound on the queued payload bytes; infinite when the queue never drops. */
  readonly maxBytes: number;
  /** Sum of the queued payloads' `data.length`. */
  private queuedBytes = 0;
  /** The most payload bytes ever queued at once. */
  peakBytes = 0;
  /** Fill ratio from which non-trades are dropped. */
  readonly highWater = HIGH_WATER;

  /** The message {@link poll} took last: valid until the next {@link offer}. */
  subject = '';
  data: Uint8Array = new Uint8Array(0);
  /** Local wall-clock receive time, epoch ms. */
  recvMs = 0;
  /** `performance.now()` at the first NATS callback of the socket read that carried it, for processing latency. */
  t0 = 0;
  /** JetStream: settled once processed (acknowledged, or handed back for redelivery); null in core mode. */
  ack: Ackable | null = null;

  constructor(
    readonly capacity: number,
    private readonly dropNonTradesWhenFull = true,
    maxBytes = Number.POSITIVE_INFINITY,
    /** Bytes of the payload ring at first (tests start it small to make it wrap and grow). */
    private readonly initialRingBytes = INITIAL_BYTES,
  ) {
    this.maxBytes = byteBound(maxBytes, dropNonTradesWhenFull);
    // start small and double on demand: a large QUEUE_MAX_SIZE costs memory only when used
    let slots = 16;
    while (slots < capacity + 1 && slots < INITIAL_SLOTS) slots <<= 1;
    this.subjects = new Array<string>(slots).fill('');
    this.acks = new Array<Ackable | null>(slots).fill(null);
    this.kept = new Array<Uint8Array | undefined>(slots).fill(undefined);
    this.times = new Float64Array(slots * 2);
    this.spans = new Int32Array(slots * 2);
    this.freedAt = new Float64Array(slots);
    this.mask = slots - 1;
    this.ring = new Uint8Array(initialRingBytes);
  }

  get size(): number {
    return this.tail - this.head;
  }

  /** Messages queued so far: the position in line the next queued message takes. */
  get queuedTotal(): number {
    return this.tail;
  }

  /** Messages taken off so far: the position in line of the next one {@link poll} returns. */
  get takenTotal(): number {
    return this.head;
  }

  /** Bytes of the ring the payloads are copied into (memory held, queued or not). */
  get ringBytes(): number {
    return this.ring.length;
  }

  /** Payload bytes queued now. */
  get bytes(): number {
    return this.queuedBytes;
  }

  get fillRatio(): number {
    return this.size / this.capacity;
  }

  /** Offers a message (`subjectType` told from the subject alone, SPEC §6); never blocks. The bytes are copied. */
  offer(subject: string, data: Uint8Array, subjectType: EventTypeLabel, recvMs: number, t0: number, ack: Ackable | null): Admission {
    const size = this.tail - this.head;
    const n = data.length;
    const admission = admit(subjectType, n, size, this.queuedBytes, this.capacity, this.maxBytes, this.dropNonTradesWhenFull);
    if (admission === 'dropped' || admission === 'overflow') return admission;
    if (size === this.subjects.length) this.growSlots();
    const i = this.tail & this.mask;
    let off = 0;
    let freedAt = this.written;
    if (n > MAX_COPIED_BYTES) {
      this.kept[i] = data;
    } else if (n > 0) {
      off = this.place(n);
      this.ring.set(data, off);
      freedAt = this.written;
    }
    this.subjects[i] = this.intern(subject);
    this.acks[i] = ack;
    this.times[i * 2] = recvMs;
    this.times[i * 2 + 1] = t0;
    this.spans[i * 2] = off;
    this.spans[i * 2 + 1] = n;
    this.freedAt[i] = freedAt;
    this.tail++;
    this.queuedBytes += n;
    if (this.queuedBytes > this.peakBytes) this.peakBytes = this.queuedBytes;
    return admission;
  }

  /** Takes the oldest message into {@link subject}, {@link data}, …; false when empty. */
  poll(): boolean {
    if (this.head === this.tail) return false;
    const i = this.head & this.mask;
    const off = this.spans[i * 2]!;
    const n = this.spans[i * 2 + 1]!;
    const kept = this.kept[i];
    if (kept !== undefined) {
      this.data = kept;
      this.kept[i] = undefined;
    } else {
      this.data = this.ring.subarray(off, off + n);
    }
    this.subject = this.subjects[i]!;
    this.ack = this.acks[i]!;
    this.acks[i] = null;
    this.recvMs = this.times[i * 2]!;
    this.t0 = this.times[i * 2 + 1]!;
    this.freed = this.freedAt[i]!;
    this.head++;
    this.queuedBytes -= n;
    if (this.head === this.tail) {
      // empty: the ring starts over at 0, and a burst's large ring is given back (`data` keeps its own view)
      this.written = this.freed = this.writeOffset = 0;
      if (this.ring.length > IDLE_RING_FACTOR * this.initialRingBytes) this.ring = new Uint8Array(this.initialRingBytes);
    }
    return true;
  }

  /** The one string kept per subject (up to MAX_INTERNED_SUBJECTS of them): the client's fresh one dies young. */
  private intern(subject: string): string {
    const known = this.internedSubjects.get(subject);
    if (known !== undefined) return known;
    if (this.internedSubjects.size < MAX_INTERNED_SUBJECTS) this.internedSubjects.set(subject, subject);
    return subject;
  }

  /** The ring offset for `n` more bytes, growing the ring when it lacks room. */
  private place(n: number): number {
    for (;;) {
      const size = this.ring.length;
      const off = this.writeOffset;
      const skip = n > size - off ? size - off : 0;
      if (this.written - this.freed + skip + n <= size) {
        const at = skip > 0 ? 0 : off;
        this.written += skip + n;
        this.writeOffset = at + n;
        return at;
      }
      this.growRing(n);
    }
  }

  /** Doubles the byte ring (at least to hold `n` more bytes), moving the queued payloads to its start in order. */
  private growRing(n: number): void {
    let size = this.ring.length * 2;
    while (size < 2 * (this.queuedBytes + n)) size *= 2;
    const next = new Uint8Array(size);
    let w = 0;
    for (let p = this.head; p < this.tail; p++) {
      const i = p & this.mask;
      const len = this.spans[i * 2 + 1]!;
      if (this.kept[i] === undefined && len > 0) {
        const off = this.spans[i * 2]!;
        next.set(this.ring.subarray(off, off + len), w);
        this.spans[i * 2] = w;
        w += len;
      }
      this.freedAt[i] = w;
    }
    this.ring = next;
    this.written = w;
    this.freed = 0;
    this.writeOffset = w;
  }

  /** The slot ring doubles when full: on the way up to the capacity, and for trades beyond it (core mode). */
  private growSlots(): void {
    const oldMask = this.mask;
    const slots = this.subjects.length * 2;
    const mask = slots - 1;
    const subjects = new Array<string>(slots).fill('');
    const acks = new Array<Ackable | null>(slots).fill(null);
    const kept = new Array<Uint8Array | undefined>(slots).fill(undefined);
    const times = new Float64Array(slots * 2);
    const spans = new Int32Array(slots * 2);
    const freedAt = new Float64Array(slots);
    for (let p = this.head; p < this.tail; p++) {
      const from = p & oldMask;
      const to = p & mask;
      subjects[to] = this.subjects[from]!;
      acks[to] = this.acks[from]!;
      kept[to] = this.kept[from];
      times[to * 2] = this.times[from * 2]!;
      times[to * 2 + 1] = this.times[from * 2 + 1]!;
      spans[to * 2] = this.spans[from * 2]!;
      spans[to * 2 + 1] = this.spans[from * 2 + 1]!;
      freedAt[to] = this.freedAt[from]!;
    }
    this.subjects = subjects;
    this.acks = acks;
    this.kept = kept;
    this.times = times;
    this.spans = spans;
    this.freedAt = freedAt;
    this.mask = mask;
  }
}
