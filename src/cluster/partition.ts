/**
 * Symbol partitions of cluster mode (SPEC §12).
 *
 * NATS does the partitioning: the server's subject mapping
 * `md.events.*.*` → `md.events.{{wildcard(1)}}.{{wildcard(2)}}.{{partition(P,2)}}`
 * appends a fifth token, FNV-1a 32 of the raw symbol token's bytes mod P
 * (nats-server `subjectTransform.getHashPartition`: the bytes of the listed
 * wildcard tokens, concatenated without separator, `fnv.New32a()`,
 * `Sum32() % P`). This module computes the same number only to name the owner
 * of a symbol; `test/cluster/partition.test.ts` holds it to a real server.
 */

/** The source subject of the partition mapping. */
export const PARTITION_MAPPING_SOURCE = 'md.events.*.*';

/** The destination of the partition mapping for `partitions` partitions. */
export function partitionMappingDestination(partitions: number): string {
  checkPartitions(partitions);
  return `md.events.{{wildcard(1)}}.{{wildcard(2)}}.{{partition(${partitions},2)}}`;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

function step(h: number, byte: number): number {
  return Math.imul(h ^ byte, FNV_PRIME) >>> 0;
}

/** FNV-1a 32 of a string's UTF-8 bytes (lone surrogates as U+FFFD, like TextEncoder). */
export function fnv1a32(text: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c < 0x80) {
      h = step(h, c);
      continue;
    }
    if (c < 0x800) {
      h = step(step(h, 0xc0 | (c >> 6)), 0x80 | (c & 0x3f));
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        const cp = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        i++;
        h = step(h, 0xf0 | (cp >> 18));
        h = step(h, 0x80 | ((cp >> 12) & 0x3f));
        h = step(h, 0x80 | ((cp >> 6) & 0x3f));
        h = step(h, 0x80 | (cp & 0x3f));
        continue;
      }
      c = 0xfffd;
    }
    h = step(h, 0xe0 | (c >> 12));
    h = step(h, 0x80 | ((c >> 6) & 0x3f));
    h = step(h, 0x80 | (c & 0x3f));
  }
  return h;
}

/** FNV-1a 32 of raw bytes. */
export function fnv1a32Bytes(bytes: Uint8Array): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < bytes.length; i++) h = step(h, bytes[i] as number);
  return h;
}

function checkPartitions(partitions: number): void {
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > 0x7fffffff) {
    throw new RangeError(`partitions must be an integer from 1, got ${partitions}`);
  }
}

/**
 * The partition nats-server's `partition(P, 2)` mapping gives a subject whose
 * symbol token is `symbolToken` — the raw token as published, not the
 * normalised symbol (`btcusdt` and `BTCUSDT` land in different partitions).
 */
export function partitionOf(symbolToken: string, partitions: number): number {
  checkPartitions(partitions);
  return fnv1a32(symbolToken) % partitions;
}

/** The subject filter of partition `k`'s durable consumer: `md.events.*.*.K`. */
export function partitionedSubjectFilter(partition: number): string {
  if (!Number.isInteger(partition) || partition < 0) throw new RangeError(`partition must be a non-negative integer, got ${partition}`);
  return `md.events.*.*.${partition}`;
}

/**
 * The partition token of a mapped subject `md.events.{type}.{symbol}.{K}`:
 * K when the subject has exactly five tokens and the fifth is a canonical
 * decimal integer, else null (an unmapped subject, or a foreign shape).
 */
export function partitionOfSubject(subject: string): number | null {
  let dots = 0;
  let last = -1;
  for (let i = 0; i < subject.length; i++) {
    if (subject.charCodeAt(i) === 0x2e) {
      dots++;
      last = i;
    }
  }
  if (dots !== 4) return null;
  const tok = subject.slice(last + 1);
  if (!/^(0|[1-9][0-9]{0,9})$/.test(tok)) return null;
  const k = Number(tok);
  return k <= 0x7fffffff ? k : null;
}
