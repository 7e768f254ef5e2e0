import type { MarketEvent } from '../domain/events.js';
import { decodeCanonical } from './canonical-decoder.js';
import { lit, plainStringEnd } from './canonical-layout.js';
import { numberAt, scanned } from './canonical-values.js';
import { timestampValue } from './fields.js';

/**
 * The fast reader of `record`'s own lines (SPEC §10): exactly
 * `{"subject":"…","received_at":<number>,"data":{…}}`, as `record` writes
 * them, with a payload the canonical readers take. Anything else is
 * `undefined`, and the general path reads it (`readEnvelope`). The event is
 * the one the general path makes: the canonical readers need no subject
 * (their payloads carry `type` and `symbol`), and `received_at` becomes
 * `envelopeRecvAt` through the same `timestampValue`.
 */

const L_SUBJECT = lit('{"subject":"');
const L_RECEIVED_AT = lit(',"received_at":');
const L_DATA = lit(',"data":');

/** The event of a recorded envelope in `record`'s layout; `undefined` for anything else. */
export function decodeRecordedEnvelope(b: Uint8Array): MarketEvent | undefined {
  const subjectEnd = plainStringEnd(b, L_SUBJECT(b, 0));
  if (subjectEnd < 0) return undefined;
  let p = L_RECEIVED_AT(b, subjectEnd + 1);
  if (p < 0) return undefined;
  const receivedAt = numberAt(b, p, b.length, true);
  if (Number.isNaN(receivedAt)) return undefined;
  p = L_DATA(b, scanned.end);
  if (p < 0 || b[p] !== 0x7b || b[b.length - 1] !== 0x7d) return undefined;
  const ev = decodeCanonical(b.subarray(p, b.length - 1));
  // the readers make a new event for every payload: set on it, not copied into another one
  if (ev !== undefined) (ev as { envelopeRecvAt: number | null }).envelopeRecvAt = timestampValue(receivedAt);
  return ev;
}
