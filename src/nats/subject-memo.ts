import type { Msg } from '@nats-io/transport-node';
import type { JsMsg } from '@nats-io/jetstream';
import type { EventTypeLabel } from '../domain/events.js';
import { subjectEventType } from '../decode/decode.js';

/**
 * A message's subject as a string, without decoding it for every message
 * (DECISIONS 93). nats.js keeps a message's subject as bytes and decodes them
 * with a `TextDecoder` each time a message's `subject` is first read — a call
 * into C++ per message, about 100 ns here, that a bare subscriber never pays —
 * and each decoded string is new, so the queue's subject table hashes and
 * compares it again. The service's feed has few distinct subjects (one per
 * type and symbol), so this memo finds the string by the subject's bytes: one
 * FNV-1a pass and one comparison, and the same string object every time, its
 * hash already computed. Its event type (SPEC §6, read from the third token)
 * is kept beside it, so admission does not read the subject again.
 *
 * The bytes are nats.js's own (`_msg.subject` of its message class, 3.x);
 * where they are not there (another version, another message class) the
 * public `subject` is read, as before: the same strings, only slower. A test
 * checks that the bytes are found on the pinned client, so an upgrade that
 * moves them fails there rather than slowing the service quietly.
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

/** How the memo was used: reads that found the bytes, and reads that fell back to `msg.subject`. */
export const subjectMemoStats = { bytes: 0, fallback: 0 };

/** The string of subject bytes `b` (valid UTF-8, as a NATS server delivers), the same object for the same bytes while its slot keeps it. */
export function subjectOfBytes(b: Uint8Array): string {
  return subjectIn(b, 0, b.length);
}

/** {@link subjectOfBytes} of `b[start, end)`, without a view made for it (the engine thread's ring records). */
export function subjectIn(b: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n > MAX_MEMO_BYTES) return remember(decoder.decode(b.slice(start, end))); // a copy: TextDecoder refuses views of shared memory
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
  const own = b.slice(start, end); // a copy: nats.js's bytes are a view into the socket buffer
  const subject = decoder.decode(own);
  const type = subjectEventType(subject);
  slotBytes[slot] = own;
  slotSubjects[slot] = subject;
  slotTypes[slot] = type;
  lastSubject = subject;
  lastType = type;
  return subject;
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

function remember(subject: string): string {
  lastSubject = subject;
  lastType = subjectEventType(subject);
  return subject;
}

/** nats.js's bytes of a core message's subject, or undefined where they are not where 3.x keeps them. */
function rawSubject(msg: Msg): Uint8Array | undefined {
  const raw = (msg as unknown as { _msg?: { subject?: unknown } })._msg?.subject;
  return raw instanceof Uint8Array ? raw : undefined;
}

/** A core NATS message's subject (see the module comment). */
export function subjectOf(msg: Msg): string {
  return subjectFrom(rawSubject(msg), msg);
}

/** A JetStream message's subject: its core message's (see the module comment). */
export function jsSubjectOf(m: JsMsg): string {
  const msg = (m as unknown as { msg?: Msg }).msg;
  return subjectFrom(msg === undefined ? undefined : rawSubject(msg), m);
}

/** The subject from nats.js's bytes when found, else from the message's public `subject`. */
function subjectFrom(raw: Uint8Array | undefined, m: { readonly subject: string }): string {
  if (raw !== undefined) {
    subjectMemoStats.bytes++;
    return subjectOfBytes(raw);
  }
  subjectMemoStats.fallback++;
  return remember(m.subject);
}

/**
 * The event type a subject names (SPEC §6: its third token), as
 * `subjectEventType`, read from the memo when `subject` is the one it
 * returned last (the message being admitted), else computed.
 */
export function subjectTypeOf(subject: string): EventTypeLabel {
  return subject === lastSubject ? lastType : subjectEventType(subject);
}
