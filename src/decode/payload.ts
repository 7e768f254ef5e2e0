import { ExactInteger, MAX_SAFE_LITERAL_DIGITS } from './exact-integer.js';
import { scanJson } from './json-scanner.js';

/** SPEC §2: payloads over 1 MiB are rejected without being parsed. */
export const MAX_PAYLOAD_BYTES = 1024 * 1024;

export type ParsedPayload = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly detail: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });
const LONG_DIGIT_RUN = /\d{16}/;
/** Per-process marker for long integer literals while `JSON.parse` runs; cannot occur in input. */
const MARKER = `\u0000senpai-int-${process.pid}-${Math.random().toString(36).slice(2)}:`;

/**
 * Parses one payload: the byte scanner for the canonical shapes, `JSON.parse`
 * for everything else. Integer literals over 15 digits come back as
 * {@link ExactInteger} on both paths. Never throws.
 */
export function parsePayload(bytes: Uint8Array): ParsedPayload {
  const fast = scanJson(bytes);
  if (fast !== undefined) return { ok: true, value: fast.value };
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return { ok: false, detail: 'payload is not valid UTF-8' };
  }
  return parseText(text);
}

/** The general path over text: `JSON.parse`, keeping long integer literals exact. */
export function parseText(text: string): ParsedPayload {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, detail: `invalid JSON: ${(err as Error).message}` };
  }
  if (LONG_DIGIT_RUN.test(text)) {
    const marked = markLongIntegers(text);
    if (marked !== text) value = JSON.parse(marked, reviveMarked);
  }
  return { ok: true, value };
}

function reviveMarked(_key: string, v: unknown): unknown {
  if (typeof v === 'string' && v.startsWith(MARKER)) {
    const literal = v.slice(MARKER.length);
    return new ExactInteger(literal, Number(literal));
  }
  return v;
}

/**
 * Rewrites every integer literal of more than 15 digits outside strings as a
 * marked string. Only called on text `JSON.parse` already accepted, so every
 * number token is a value and the rewrite keeps the document's structure.
 */
function markLongIntegers(text: string): string {
  let out = '';
  let last = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // skip a string, honouring escapes
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i += 2;
        else if (d === 0x22) break;
        else i++;
      }
      i++;
      continue;
    }
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      const start = i;
      if (c === 0x2d) i++;
      const digitsStart = i;
      while (i < n && text.charCodeAt(i) >= 0x30 && text.charCodeAt(i) <= 0x39) i++;
      const digitCount = i - digitsStart;
      let isInteger = true;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 0x2e || d === 0x65 || d === 0x45 || d === 0x2b || d === 0x2d || (d >= 0x30 && d <= 0x39)) {
          isInteger = false;
          i++;
        } else break;
      }
      if (isInteger && digitCount > MAX_SAFE_LITERAL_DIGITS) {
        out += text.slice(last, start) + JSON.stringify(MARKER + text.slice(start, i));
        last = i;
      }
      continue;
    }
    i++;
  }
  return last === 0 ? text : out + text.slice(last);
}
