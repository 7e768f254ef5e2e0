import type { Msg } from '@nats-io/transport-node';
import type { JsMsg } from '@nats-io/jetstream';
import { rememberSubject, subjectOfBytes } from '../decode/subject-intern.js';

/**
 * A message's subject as a string, without decoding it for every message
 * (DECISIONS 93). nats.js keeps a message's subject as bytes and decodes them
 * with a `TextDecoder` each time a message's `subject` is first read — a call
 * into C++ per message, about 100 ns here, that a bare subscriber never pays —
 * and each decoded string is new, so the queue's subject table hashes and
 * compares it again. The service's feed has few distinct subjects (one per
 * type and symbol), so this memo finds the string by the subject's bytes: one
 * FNV-1a pass and one comparison, and the same string object every time, its
 * hash already computed, its event type beside it (`src/decode/subject-intern.ts`).
 *
 * The bytes are nats.js's own (`_msg.subject` of its message class, 3.x);
 * where they are not there (another version, another message class) the
 * public `subject` is read, as before: the same strings, only slower. A test
 * checks that the bytes are found on the pinned client, so an upgrade that
 * moves them fails there rather than slowing the service quietly.
 */

/** How the memo was used: reads that found the bytes, and reads that fell back to `msg.subject`. */
export const subjectMemoStats = { bytes: 0, fallback: 0 };

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
  return rememberSubject(m.subject);
}
