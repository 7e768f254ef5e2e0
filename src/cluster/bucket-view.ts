/**
 * What one member knows of the lease bucket: the last revision of every key
 * it has read or watched, when it first saw that revision (on its own
 * monotonic clock), the live members and the other members' live leases.
 *
 * Ages are lower bounds of how long ago a record was last written, so a
 * record is judged dead only when it certainly is: either this member has
 * seen the same revision for a whole lease, or the record's own stamp is
 * older than lease + the assumed clock skew by this member's wall clock.
 */
import { performance } from 'node:perf_hooks';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { KV, KvEntry } from '@nats-io/kv';
import { memberIdOfKey, memberKey, memberRecordOf, parseMember, parsePartitionLease, partitionKey, partitionOfKey } from './lease-records.js';
import type { MemberRecord, PartitionLease, StoredMember } from './lease-records.js';
import type { LeaseTimings } from './lease-options.js';

/** Monotonic milliseconds: what every lease decision is timed on. */
export const monoMs = (): number => performance.now();

/**
 * The last revision of a key, when this member first saw it, and its value
 * parsed — once, when the revision is first seen, not again in every pass.
 */
export interface Observed {
  readonly revision: number;
  readonly firstSeenMono: number;
  readonly entry: KvEntry;
  /** The lease of a `partitions.{k}` entry; null for a delete, an unreadable value or another key. */
  readonly lease: PartitionLease | null;
  /** The record of a `members.{id}` entry; null for a delete, an unreadable value or another key. */
  readonly member: StoredMember | null;
  /** This member saw the lease go from held to released: a hand-over now, not a leftover. */
  readonly handedOver: boolean;
}

/** The lease in a `partitions.{k}` entry; null for a delete or an unreadable value. */
export function leaseOf(e: KvEntry): PartitionLease | null {
  return e.operation === 'PUT' ? parsePartitionLease(e.value) : null;
}

/** The record in a `members.{id}` entry; null for a delete or an unreadable value. */
function memberOf(e: KvEntry): StoredMember | null {
  return e.operation === 'PUT' ? parseMember(e.value) : null;
}

export class BucketView {
  private readonly observed = new Map<string, Observed>();
  /** Other members' live leases as last seen (null: free, expired, or this member's). */
  readonly others: (PartitionLease | null)[];
  /** The live members as of the last pass, sorted by id, this member included. */
  members: readonly MemberRecord[] = [];
  /** When a record under this member's id from another session was last seen. */
  private impostorSeenMono = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly memberId: string,
    private readonly session: string,
    private readonly partitions: number,
    private readonly bucket: string,
    private readonly timings: LeaseTimings,
  ) {
    this.others = new Array<PartitionLease | null>(partitions).fill(null);
  }

  /** Records an entry read or watched; a stale read (older revision) keeps the newer one. */
  observe(key: string, entry: KvEntry): Observed;
  observe(key: string, entry: KvEntry | null): Observed | null;
  observe(key: string, entry: KvEntry | null): Observed | null {
    const prev = this.observed.get(key);
    if (entry === null) {
      this.observed.delete(key);
      return null;
    }
    if (prev !== undefined && prev.revision >= entry.revision) return prev;
    const lease = partitionOfKey(key) === null ? null : leaseOf(entry);
    const member = memberIdOfKey(key) === null ? null : memberOf(entry);
    const handedOver = (prev?.lease?.owner ?? null) !== null && lease?.owner === null;
    const o: Observed = { revision: entry.revision, firstSeenMono: monoMs(), entry, lease, member, handedOver };
    this.observed.set(key, o);
    return o;
  }

  /** A lower bound of the time since the record was written (see the module comment). */
  ageMs(o: Observed, stampMs: number | null): number {
    const seen = monoMs() - o.firstSeenMono;
    const stamped = stampMs === null ? Number.NEGATIVE_INFINITY : Date.now() - stampMs - this.timings.maxClockSkewMs;
    return Math.max(seen, stamped);
  }

  /** Whether the record certainly was not rewritten for a whole lease. */
  stale(o: Observed, stampMs: number | null): boolean {
    return this.ageMs(o, stampMs) > this.timings.leaseMs;
  }

  /**
   * Whether another live process registered under this member's id within
   * the last lease (a configuration error: the two overwrite each other's
   * record, and the later one gets no partition while the other holds them).
   */
  impostor(): boolean {
    return monoMs() - this.impostorSeenMono < this.timings.leaseMs;
  }

  private noteOwnRecord(o: Observed): void {
    if (o.member !== null && o.member.session !== this.session) this.impostorSeenMono = monoMs();
  }

  /** The other live members (registered, refreshed within the lease), read from the bucket. */
  async readMembers(kv: KV, jsm: JetStreamManager): Promise<MemberRecord[]> {
    const prefix = `$KV.${this.bucket}.`;
    // Stream info lists the keys in one request, without a consumer.
    const si = await jsm.streams.info(`KV_${this.bucket}`, { subjects_filter: `${prefix}members.>` });
    const ids = Object.keys(si.state.subjects ?? {})
      .map((s) => memberIdOfKey(s.slice(prefix.length)))
      .filter((id): id is string => id !== null);
    // Records gone from the bucket (max_age) are forgotten here too.
    const present = new Set(ids.map(memberKey));
    for (const key of this.observed.keys()) if (key.startsWith('members.') && !present.has(key)) this.observed.delete(key);
    const entries = await Promise.all(ids.map((id) => kv.get(memberKey(id))));
    const others: MemberRecord[] = [];
    ids.forEach((id, i) => {
      const o = this.observe(memberKey(id), entries[i] ?? null);
      if (o === null || o.entry.operation !== 'PUT') return;
      if (id === this.memberId) return this.noteOwnRecord(o);
      const rec = o.member;
      if (rec === null || rec.id !== id || this.stale(o, rec.last_seen_ms)) return;
      others.push(memberRecordOf(rec));
    });
    return others;
  }

  /** Every `partitions.{k}` entry, observed. */
  async readPartitions(kv: KV): Promise<(Observed | null)[]> {
    const entries = await Promise.all(Array.from({ length: this.partitions }, (_, k) => kv.get(partitionKey(k))));
    return entries.map((e, k) => this.observe(partitionKey(k), e ?? null));
  }

  /**
   * A write seen on the bucket watch: observed at once (so a lease's clock
   * starts when it was written, not at the next pass) and the others' leases
   * kept current. Returns whether it calls for a pass now: a member joined or
   * left, or a partition was released or changed hands.
   */
  watched(e: KvEntry): boolean {
    const prev = this.observed.get(e.key);
    if (prev !== undefined && e.revision <= prev.revision) return false;
    const o = this.observe(e.key, e);
    const id = memberIdOfKey(e.key);
    if (id === this.memberId) this.noteOwnRecord(o);
    if (id !== null) return e.operation !== 'PUT' || !this.members.some((m) => m.id === id);
    const k = partitionOfKey(e.key);
    if (k === null || k >= this.partitions) return false;
    const lease = o.lease;
    const before = this.others[k]?.owner ?? null;
    this.others[k] = lease !== null && lease.owner !== null && lease.owner !== this.memberId ? lease : null;
    if (lease !== null && lease.owner === this.memberId) return false; // our own write
    return e.operation !== 'PUT' || lease === null || lease.owner === null || lease.owner !== before;
  }

  /** Milliseconds until the next record seen alive could turn stale (Infinity when none). */
  nextExpiryMs(): number {
    const now = monoMs();
    let next = Number.POSITIVE_INFINITY;
    for (const o of this.observed.values()) {
      const due = o.firstSeenMono + this.timings.leaseMs - now;
      if (due > 0 && due < next) next = due;
    }
    return next;
  }
}
