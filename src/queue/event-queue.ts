import type { EventTypeLabel } from '../domain/events.js';
import type { Ackable } from '../nats/jetstream-source.js';
import { Fifo } from './fifo.js';

/** Bytes of one chunk of the record store. */
const CHUNK_BYTES = 1 << 20;
/**
 * Bytes of record store per message of capacity that are made ready up front (a core-mode record is
 * 32 bytes of header and its payload; a JetStream record only the header).
 */
const RESERVE_PER_MESSAGE_CORE = 256;
const RESERVE_PER_MESSAGE_JETSTREAM = 32;
/** The most chunks made ready up front and kept: 16 MiB. */
const MAX_RESERVE_CHUNKS = 16;
/** Chunks kept beyond the reserve while a backlog lasts, for the writer (see `recycle`). */
export const SPARE_CHUNKS = 2;
/** Payloads larger than this are kept as they came instead of copied (a record always fits a chunk). */
const MAX_COPIED_BYTES = 64 * 1024;
/** Most distinct subjects given an id (see {@link EventQueue}); later ones travel as strings. */
const MAX_INTERNED_SUBJECTS = 4096;
/** A record: length, payload length, subject id, flags, receive time, read t0; then the payload, padded to 8 bytes. */
const HEADER_BYTES = 32;
/** Record flags: the payload was kept as it came; the message has an ack; the subject was not interned. */
const KEPT = 1;
const ACKED = 2;
const ODD_SUBJECT = 4;

/** One block of records, with the views its header fields are read through. */
interface Chunk {
  readonly bytes: Uint8Array;
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  /** One past the last record written to it. */
  end: number;
}

function newChunk(): Chunk {
  const buffer = new ArrayBuffer(CHUNK_BYTES);
  return { bytes: new Uint8Array(buffer), i32: new Int32Array(buffer), f64: new Float64Array(buffer), end: 0 };
}

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
 * Storage (DECISIONS 74): each message is one record in 1 MiB chunks — a
 * 32-byte header (subject id, times, flags) and, in core mode, a copy of the
 * payload — so a backlog is a few large arrays the garbage collector never
 * walks, instead of objects per message (the client's message, its view of the
 * socket read, the subject string) that every young collection copies while the
 * backlog lasts. Subjects are interned. The chunks for a full queue (up to
 * 16 MiB) are made ready up front and reused; a backlog beyond them cycles
 * through the chunks it holds (DECISIONS 82), which are given back as it shrinks
 * and once the queue is empty. What a record cannot hold (a
 * JetStream message's ack and payload, a payload over 64 KiB, a subject past
 * the intern table) waits in side FIFOs in record order. The taken message is
 * read through {@link subject}, {@link data}, {@link recvMs}, {@link t0} and
 * {@link ack}, valid until the next {@link offer}.
 */
export class EventQueue {
  /** Chunks holding queued records, oldest first: reading at the first, writing at the last. */
  private readonly chunks = new Fifo<Chunk>();
  /** Emptied chunks kept for reuse: the reserve, and a few more while a backlog lasts (see `recycle`). */
  private readonly spare: Chunk[] = [];
  private allocated = 0;
  /** Chunks made ready at construction and kept for good (see the constructor). */
  readonly reserveChunks: number;
  private writeChunk: Chunk;
  /** Where the next record to take starts, in the first of {@link chunks}. */
  private readOffset = 0;
  /** The rare parts of a record that are objects, in the order of the records that have them. */
  private readonly keptPayloads = new Fifo<Uint8Array>();
  private readonly pendingAcks = new Fifo<Ackable>();
  private readonly oddSubjects = new Fifo<string>();
  private readonly subjectIds = new Map<string, number>();
  private readonly subjectNames: string[] = [];
  private queued = 0;
  private taken = 0;
  /** The one queued message was offered in place: it is in the fields, not in a record. */
  private inPlace = false;
  private inPlaceType: EventTypeLabel = 'unknown';

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
    /** False for a queue that will never be offered anything (the unused one of ENGINE_THREAD=worker): one untouched chunk. */
    prepare = true,
  ) {
    this.maxBytes = byteBound(maxBytes, dropNonTradesWhenFull);
    // The store for a full queue of typical messages (up to 16 MiB) is allocated and touched now and
    // kept: the first write to fresh memory costs a page fault per 4 KiB (about 14 µs each on this
    // project's VM), which a burst would otherwise pay exactly when it can least afford it.
    const perMessage = dropNonTradesWhenFull ? RESERVE_PER_MESSAGE_CORE : RESERVE_PER_MESSAGE_JETSTREAM;
    this.reserveChunks = prepare ? Math.min(MAX_RESERVE_CHUNKS, Math.max(1, Math.ceil((capacity * perMessage) / CHUNK_BYTES))) : 1;
    for (let i = 0; i < this.reserveChunks; i++) {
      const c = this.newChunk();
      if (prepare) c.bytes.fill(0);
      this.spare.push(c);
    }
    this.writeChunk = this.spare.pop()!;
    this.chunks.push(this.writeChunk);
  }

  get size(): number {
    return this.queued - this.taken;
  }

  /** Messages queued so far: the position in line the next queued message takes. */
  get queuedTotal(): number {
    return this.queued;
  }

  /** Messages taken off so far: the position in line of the next one {@link poll} returns. */
  get takenTotal(): number {
    return this.taken;
  }

  /** Bytes of the chunks held (memory held, queued or spare). */
  get heldBytes(): number {
    return (this.chunks.length + this.spare.length) * CHUNK_BYTES;
  }

  /** Payload bytes queued now. */
  get bytes(): number {
    return this.queuedBytes;
  }

  get fillRatio(): number {
    return this.size / this.capacity;
  }

  /**
   * Offers a message (`subjectType` told from the subject alone, SPEC §6); never blocks. A payload of
   * at most 64 KiB without an ack (core mode) is copied; a larger one, and every JetStream payload, is
   * kept as it is, so the caller must not reuse those bytes (nats.js never does).
   */
  offer(subject: string, data: Uint8Array, subjectType: EventTypeLabel, recvMs: number, t0: number, ack: Ackable | null): Admission {
    if (this.inPlace) this.storeInPlace();
    const n = data.length;
    const admission = admit(subjectType, n, this.queued - this.taken, this.queuedBytes, this.capacity, this.maxBytes, this.dropNonTradesWhenFull);
    if (admission === 'dropped' || admission === 'overflow') return admission;
    // a JetStream message stays alive until acknowledged anyway: its payload is kept, not copied
    const keep = n > MAX_COPIED_BYTES || ack !== null;
    const len = keep ? HEADER_BYTES : (HEADER_BYTES + n + 7) & ~7;
    let c = this.writeChunk;
    if (c.end + len > CHUNK_BYTES) c = this.nextWriteChunk();
    const off = c.end;
    let flags = 0;
    if (keep) {
      flags = KEPT;
      this.keptPayloads.push(data);
    } else {
      c.bytes.set(data, off + HEADER_BYTES);
    }
    if (ack !== null) {
      flags |= ACKED;
      this.pendingAcks.push(ack);
    }
    let id = this.subjectIds.get(subject);
    if (id === undefined) {
      if (this.subjectNames.length < MAX_INTERNED_SUBJECTS) {
        id = this.subjectNames.length;
        this.subjectIds.set(subject, id);
        this.subjectNames.push(subject);
      } else {
        id = -1;
        flags |= ODD_SUBJECT;
        this.oddSubjects.push(subject);
      }
    }
    const h = off >> 2;
    c.i32[h] = len;
    c.i32[h + 1] = n;
    c.i32[h + 2] = id;
    c.i32[h + 3] = flags;
    c.f64[(off >> 3) + 2] = recvMs;
    c.f64[(off >> 3) + 3] = t0;
    c.end = off + len;
    this.queued++;
    this.queuedBytes += n;
    if (this.queuedBytes > this.peakBytes) this.peakBytes = this.queuedBytes;
    return admission;
  }

  /**
   * {@link offer} for an empty queue whose caller takes the message at once
   * (inline processing): admitted exactly as `offer` would admit it, but not
   * stored — the next {@link poll} hands back these very arguments, the
   * caller's bytes included, so it must come before the caller's bytes change
   * and before any other offer.
   */
  offerInPlace(subject: string, data: Uint8Array, subjectType: EventTypeLabel, recvMs: number, t0: number, ack: Ackable | null): Admission {
    // not empty (a caller that did not check, or a message offered in place not yet taken): queued as usual
    if (this.queued !== this.taken) return this.offer(subject, data, subjectType, recvMs, t0, ack);
    const n = data.length;
    const admission = admit(subjectType, n, 0, 0, this.capacity, this.maxBytes, this.dropNonTradesWhenFull);
    if (admission === 'dropped' || admission === 'overflow') return admission;
    this.subject = subject;
    this.data = data;
    this.recvMs = recvMs;
    this.t0 = t0;
    this.ack = ack;
    this.inPlaceType = subjectType;
    this.inPlace = true;
    this.queued++;
    this.queuedBytes = n;
    if (n > this.peakBytes) this.peakBytes = n;
    return admission;
  }

  /** Takes the oldest message into {@link subject}, {@link data}, …; false when empty. */
  poll(): boolean {
    if (this.queued === this.taken) return false;
    if (this.inPlace) {
      // offered in place into an empty queue: the fields already hold it
      this.inPlace = false;
      this.taken++;
      this.queuedBytes = 0;
      return true;
    }
    let c = this.chunks.peek()!;
    if (this.readOffset >= c.end) {
      // this chunk is read to its end and a later one holds the rest: it is free
      this.chunks.shift();
      this.recycle(c);
      c = this.chunks.peek()!;
      this.readOffset = 0;
    }
    const off = this.readOffset;
    const h = off >> 2;
    const n = c.i32[h + 1]!;
    const flags = c.i32[h + 3]!;
    this.data = (flags & KEPT) !== 0 ? this.keptPayloads.shift()! : c.bytes.subarray(off + HEADER_BYTES, off + HEADER_BYTES + n);
    this.ack = (flags & ACKED) !== 0 ? this.pendingAcks.shift()! : null;
    this.subject = (flags & ODD_SUBJECT) !== 0 ? this.oddSubjects.shift()! : this.subjectNames[c.i32[h + 2]!]!;
    this.recvMs = c.f64[(off >> 3) + 2]!;
    this.t0 = c.f64[(off >> 3) + 3]!;
    this.readOffset = off + c.i32[h]!;
    this.taken++;
    this.queuedBytes -= n;
    if (this.queued === this.taken) {
      // empty: writing starts over at the start of this chunk (`data` may still point into it, until the next offer)
      this.readOffset = 0;
      c.end = 0;
      // the backlog is gone: the chunks it held beyond the reserve are given back
      if (this.spare.length + this.chunks.length > this.reserveChunks) this.trimSpare();
      // no record refers to a subject id now: a table filled by passing subjects starts over
      if (this.subjectNames.length >= MAX_INTERNED_SUBJECTS) {
        this.subjectIds.clear();
        this.subjectNames.length = 0;
      }
    }
    return true;
  }

  /**
   * An offer came before the message offered in place was taken (its caller
   * did not take it at once, against the contract): it becomes a record like
   * any other, ahead of the new one, so nothing is lost or reordered.
   */
  private storeInPlace(): void {
    this.inPlace = false;
    this.queued--;
    this.queuedBytes = 0;
    this.offer(this.subject, this.data, this.inPlaceType, this.recvMs, this.t0, this.ack);
  }

  /** Seals the write chunk and starts writing into a spare one (or a new one). */
  private nextWriteChunk(): Chunk {
    const c = this.spare.pop() ?? this.newChunk();
    c.end = 0;
    this.chunks.push(c);
    this.writeChunk = c;
    return c;
  }

  /** Chunks allocated so far, the reserve included (each a megabyte of fresh pages to fault in). */
  get allocatedChunks(): number {
    return this.allocated;
  }

  private newChunk(): Chunk {
    this.allocated++;
    return newChunk();
  }

  /**
   * Keeps a chunk read to its end: within the reserve, and beyond it up to {@link SPARE_CHUNKS}
   * for the writer, so a backlog past the reserve cycles through the chunks it holds (the writer
   * needs one as often as the reader frees one) instead of taking a fresh one each time, whose
   * every 4 KiB page faults on first write. A shrinking backlog gives back the rest.
   */
  private recycle(c: Chunk): void {
    if (this.spare.length + this.chunks.length < this.reserveChunks || this.spare.length < SPARE_CHUNKS) this.spare.push(c);
  }

  /** Gives back the spare chunks beyond the reserve. */
  private trimSpare(): void {
    const keep = Math.max(0, this.reserveChunks - this.chunks.length);
    if (this.spare.length > keep) this.spare.length = keep;
  }
}
