import type { EventTypeLabel } from '../domain/events.js';
import type { Ackable } from '../nats/jetstream-source.js';

/** One received message waiting to be processed. */
export interface QueuedMessage {
  readonly subject: string;
  readonly data: Uint8Array;
  /** Type told from the subject alone (SPEC §6), for the admission decision. */
  readonly subjectType: EventTypeLabel;
  /** Local wall-clock receive time, epoch ms. */
  readonly recvMs: number;
  /** `performance.now()` at the first NATS callback of the socket read that carried it, for processing latency. */
  readonly t0: number;
  /** JetStream: settled once processed (acknowledged, or handed back for redelivery); null in core mode. */
  readonly ack: Ackable | null;
}

/** Slots allocated up front; the ring doubles as it fills. */
const INITIAL_SLOTS = 1024;

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
 */
export class EventQueue {
  private buf: (QueuedMessage | undefined)[];
  private mask: number;
  private head = 0;
  private tail = 0;
  /** Bound on the queued payload bytes; infinite when the queue never drops. */
  readonly maxBytes: number;
  /** Sum of the queued payloads' `data.length`. */
  private queuedBytes = 0;
  /** The most payload bytes ever queued at once. */
  peakBytes = 0;
  /** Fill ratio from which non-trades are dropped. */
  readonly highWater = HIGH_WATER;

  constructor(
    readonly capacity: number,
    private readonly dropNonTradesWhenFull = true,
    maxBytes = Number.POSITIVE_INFINITY,
  ) {
    this.maxBytes = byteBound(maxBytes, dropNonTradesWhenFull);
    // start small and double on demand: a large QUEUE_MAX_SIZE costs memory only when used
    let cap = 16;
    while (cap < capacity + 1 && cap < INITIAL_SLOTS) cap <<= 1;
    this.buf = new Array<QueuedMessage | undefined>(cap);
    this.mask = cap - 1;
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

  /** Payload bytes queued now. */
  get bytes(): number {
    return this.queuedBytes;
  }

  get fillRatio(): number {
    return this.size / this.capacity;
  }

  /** Offers a message; never blocks. */
  offer(m: QueuedMessage): Admission {
    const size = this.tail - this.head;
    const admission = admit(m.subjectType, m.data.length, size, this.queuedBytes, this.capacity, this.maxBytes, this.dropNonTradesWhenFull);
    if (admission === 'dropped' || admission === 'overflow') return admission;
    if (size === this.buf.length) this.grow();
    this.buf[this.tail & this.mask] = m;
    this.tail++;
    this.queuedBytes += m.data.length;
    if (this.queuedBytes > this.peakBytes) this.peakBytes = this.queuedBytes;
    return admission;
  }

  /** Takes the oldest message, or undefined when empty. */
  poll(): QueuedMessage | undefined {
    if (this.head === this.tail) return undefined;
    const i = this.head & this.mask;
    const m = this.buf[i];
    this.buf[i] = undefined;
    this.head++;
    this.queuedBytes -= m!.data.length;
    return m;
  }

  /** The ring doubles when full: on the way up to the capacity, and for trades beyond it (core mode). */
  private grow(): void {
    const old = this.buf;
    const oldMask = this.mask;
    const next = new Array<QueuedMessage | undefined>(old.length * 2);
    const mask = next.length - 1;
    for (let p = this.head; p < this.tail; p++) next[p & mask] = old[p & oldMask];
    this.buf = next;
    this.mask = mask;
  }
}
