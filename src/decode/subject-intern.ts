import type { EventTypeLabel } from '../domain/events.js';
import { subjectEventType } from './decode.js';

/**
 * Subjects interned by their bytes (DECISIONS 93): the same string object
 * for the same subject bytes, with its event type (SPEC §6, the third token)
 * kept beside it, so admission does not read the subject again. A bounded
 * direct-mapped table: a feed has few distinct subjects (one per type and
 * symbol). Used for nats.js's subject bytes (`src/nats/subject-memo.ts`) and
 * for the engine thread's ring records (`src/queue/message-ring.ts`).
 */

/** Slots of the memo: a direct-mapped table, each slot the last subject hashed there (bounded, whatever the feed). */
const SLOTS = 4096;
/** Longer subjects are decoded as nats.js does (and are not a market-data feed's). */
const MAX_MEMO_BYTES = 128;

const slotBytes: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(SLOTS).fill(undefined);
const slotSubjects: string[] = new Array<string>(SLOTS).fill('');
const slotTypes: EventTypeLabel[] = new Array<EventTypeLabel>(SLOTS).fill('unknown');
const decoder = new TextDecoder();

/** The subject {@link subjectOfBytes} returned last, and its event type. */
let lastSubject: string | null = null;
let lastType: EventTypeLabel = 'unknown';


/** The string of subject bytes `b` (valid UTF-8, as a NATS server delivers), the same object for the same bytes while its slot keeps it. */
export function subjectOfBytes(b: Uint8Array): string {
  return subjectIn(b, 0, b.length);
}

/** {@link subjectOfBytes} of `b[start, end)`, without a view made for it (the engine thread's ring records). */
export function subjectIn(b: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n > MAX_MEMO_BYTES) return rememberSubject(decoder.decode(b.slice(start, end))); // not shared memory, which TextDecoder refuses (a Buffer's slice is a view, of an ArrayBuffer)
  const slot = slotIn(b, start, end);
  const cached = slotBytes[slot];
  if (cached !== undefined && cached.length === n) {
    let i = 0;
    while (i < n && cached[i] === b[start + i]) i++;
    if (i === n) {
      lastSubject = slotSubjects[slot]!;
      lastType = slotTypes[slot]!;
      return lastSubject;
    }
  }
  // a copy of its own: nats.js's bytes are a view into the socket read (a Node Buffer, whose `slice`
  // is a view too), and a slot keeping that view would keep the whole read (up to 64 KiB) alive
  const own = new Uint8Array(n);
  for (let i = 0; i < n; i++) own[i] = b[start + i]!;
  const subject = decoder.decode(own);
  const type = subjectEventType(subject);
  slotBytes[slot] = own;
  slotSubjects[slot] = subject;
  slotTypes[slot] = type;
  lastSubject = subject;
  lastType = type;
  return subject;
}

/** Bytes of the buffers the memo's slots keep alive (their copies of subject bytes). For tests: reading `.buffer` moves a small array's bytes off the heap. */
export function subjectMemoBytes(): number {
  let total = 0;
  for (const own of slotBytes) if (own !== undefined) total += own.buffer.byteLength;
  return total;
}

/** The slot of subject bytes: FNV-1a, its halves folded. */
export function slotOf(b: Uint8Array): number {
  return slotIn(b, 0, b.length);
}

function slotIn(b: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  return (h ^ (h >>> 16)) & (SLOTS - 1);
}

/** A subject read as a string elsewhere (too long for the memo, or from the public `subject`), made the last one. */
export function rememberSubject(subject: string): string {
  lastSubject = subject;
  lastType = subjectEventType(subject);
  return subject;
}

/**
 * The event type a subject names (SPEC §6: its third token), as
 * `subjectEventType`, read from the memo when `subject` is the one it
 * returned last (the message being admitted), else computed.
 */
export function subjectTypeOf(subject: string): EventTypeLabel {
  return subject === lastSubject ? lastType : subjectEventType(subject);
}
