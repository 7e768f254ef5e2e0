import type { JsonObject } from './fields.js';
import { timestampValue } from './fields.js';

/** A recorded envelope (SPEC §2, `record` in §10): the payload `data` as published on `subject`. */
export interface Envelope {
  readonly subject: string;
  /** `received_at` in epoch ms; null when absent or unreadable. */
  readonly receivedAt: number | null;
  readonly data: JsonObject;
}

export function isPlainObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The envelope a parsed line is, or null when it is a bare event. */
export function readEnvelope(v: JsonObject): Envelope | null {
  const data = v.data;
  if (!isPlainObject(data) || typeof v.subject !== 'string') return null;
  const receivedAt = v.received_at === undefined || v.received_at === null ? null : timestampValue(v.received_at);
  return { subject: v.subject, receivedAt, data };
}
