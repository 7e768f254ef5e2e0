/**
 * The records cluster members keep in the lease bucket (SPEC §12), their keys,
 * and strict parsing: a value in the bucket is `unknown` until read here.
 *
 *   members.{id}      {"id","http_url","partitions":[…],"last_seen_ms","session"}
 *   partitions.{k}    {"owner","session","since_ms","renewed_ms","previous_owner"}
 *
 * `session` is random per `PartitionLeases.start()`: a member restarted under
 * the same id does not mistake its previous life's leases for its own.
 * A partition with `owner: null` was released and is free.
 */

import type { ClusterMember } from '../domain/http-answers.js';

/** A member id: letters, digits, `_`, `-`, `=` (a single KV key token), 1–64 characters. */
export const MEMBER_ID_PATTERN = /^[A-Za-z0-9_=-]{1,64}$/;

/**
 * A member as it registers itself: exactly a `members` entry of `GET /cluster`
 * (the contract's {@link ClusterMember}, the one definition of its fields).
 */
export type MemberRecord = Readonly<ClusterMember>;

/** A member record as stored: the record plus the writer's session, which `GET /cluster` does not show. */
export interface StoredMember extends MemberRecord {
  readonly session: string;
}

/** The record of a stored member as `GET /cluster` shows it: everything but the session. */
export function memberRecordOf(stored: StoredMember): MemberRecord {
  const { session: _session, ...record } = stored;
  return record;
}

/** The value of `partitions.{k}`. */
export interface PartitionLease {
  /** The holder's member id; null when released. */
  readonly owner: string | null;
  /** The holder's session; null when released. */
  readonly session: string | null;
  /** Epoch ms (holder's clock) the current holder acquired it, or it was released. */
  readonly since_ms: number;
  /** Epoch ms (holder's clock) at which the last renewal was sent. */
  readonly renewed_ms: number;
  /** Who held it before (for the `cluster` alert and `acquired` events). */
  readonly previous_owner: string | null;
}

/** `members.{id}` */
export function memberKey(id: string): string {
  return `members.${id}`;
}

/** `partitions.{k}` */
export function partitionKey(partition: number): string {
  return `partitions.${partition}`;
}

/** The member id of a `members.{id}` key, null for any other key. */
export function memberIdOfKey(key: string): string | null {
  if (!key.startsWith('members.')) return null;
  const id = key.slice('members.'.length);
  return MEMBER_ID_PATTERN.test(id) ? id : null;
}

/** The partition of a `partitions.{k}` key, null for any other key. */
export function partitionOfKey(key: string): number | null {
  if (!key.startsWith('partitions.')) return null;
  const tok = key.slice('partitions.'.length);
  return /^(0|[1-9][0-9]{0,8})$/.test(tok) ? Number(tok) : null;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** JSON bytes of a record. */
export function encodeRecord(record: StoredMember | PartitionLease): Uint8Array {
  return encoder.encode(JSON.stringify(record));
}

function readObject(bytes: Uint8Array): Record<string, unknown> | null {
  let v: unknown;
  try {
    v = JSON.parse(decoder.decode(bytes));
  } catch {
    return null;
  }
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}

function isStamp(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0;
}

function nullableId(v: unknown): string | null | undefined {
  if (v === null) return null;
  return typeof v === 'string' && MEMBER_ID_PATTERN.test(v) ? v : undefined;
}

/** A `members.{id}` value, or null when it is not one. */
export function parseMember(bytes: Uint8Array): StoredMember | null {
  const o = readObject(bytes);
  if (o === null) return null;
  const { id, http_url, partitions, last_seen_ms, session } = o;
  if (typeof id !== 'string' || !MEMBER_ID_PATTERN.test(id)) return null;
  if (typeof http_url !== 'string' || typeof session !== 'string' || !isStamp(last_seen_ms)) return null;
  if (!Array.isArray(partitions) || !partitions.every((p) => Number.isInteger(p) && (p as number) >= 0)) return null;
  return { id, http_url, partitions: partitions as number[], last_seen_ms, session };
}

/** A `partitions.{k}` value, or null when it is not one. */
export function parsePartitionLease(bytes: Uint8Array): PartitionLease | null {
  const o = readObject(bytes);
  if (o === null) return null;
  const owner = nullableId(o.owner);
  const previous = nullableId(o.previous_owner ?? null);
  const session = o.session;
  if (owner === undefined || previous === undefined) return null;
  if (!(session === null || typeof session === 'string') || (owner === null) !== (session === null)) return null;
  if (!isStamp(o.since_ms) || !isStamp(o.renewed_ms)) return null;
  return { owner, session, since_ms: o.since_ms, renewed_ms: o.renewed_ms, previous_owner: previous };
}
