/**
 * The leases one member holds (SPEC §12): the compare-and-set writes that
 * take, renew and release them, and the deadline after which the member must
 * have stopped. The member ({@link PartitionLeases}) decides what to take and
 * give up; this class only keeps the holding safe.
 *
 * A lease is valid until (send time of its last confirmed write) + lease −
 * margin on this process's monotonic clock. Renewals run every lease/3;
 * a failed one is retried every `retryMs` until the validity runs out, then
 * the partition is lost (`expired`). A renewal that meets another member's
 * lease loses it at once (`taken`). Writes to one key are serialised, so a
 * renewal never races the release.
 */
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { leaseOf, monoMs } from './bucket-view.js';
import type { Observed } from './bucket-view.js';
import { encodeRecord, partitionKey } from './lease-records.js';
import type { PartitionLease } from './lease-records.js';
import type { AcquiredInfo, LeaseLog, LeaseTimings, LostReason } from './lease-options.js';

/** A lease this member holds. */
export interface Held {
  readonly partition: number;
  revision: number;
  readonly sinceMs: number;
  readonly previousOwner: string | null;
  /** Monotonic time at which the last confirmed write was sent: validity runs from here. */
  confirmedMono: number;
  phase: 'active' | 'releasing';
  /** A renewal is queued or in flight. */
  renewing: boolean;
  /** Writes to the key, one at a time. */
  tail: Promise<void>;
  deadline: NodeJS.Timeout | null;
  retry: NodeJS.Timeout | null;
}

/** Counters for metrics (see `PartitionLeases.stats`). */
export interface LeaseStats {
  readonly acquired: number;
  readonly lost: number;
  readonly released: number;
  readonly renewals: number;
  readonly renewalFailures: number;
  readonly maxRenewalGapMs: number;
}

/** What the holder reports to its member. */
export interface HolderEvents {
  /** Stop processing `k`; awaited only for hand-overs (`released`, `stopped`). */
  lost(partition: number, reason: LostReason): Promise<void>;
  /** A lease was dropped (expired or taken): worth a pass. */
  dropped(): void;
}

/** `live`: normal; `stopping`: acquisitions are handed straight back; `dead`: crashed or stopped, no more writes. */
export type HolderMode = 'live' | 'stopping' | 'dead';

export function isWrongSequence(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamWrongLastSequence || err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

export function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class LeaseHolder {
  private readonly held = new Map<number, Held>();
  private readonly acquiring = new Set<number>();
  /** Hand-overs in progress. */
  private readonly handovers = new Set<Promise<void>>();
  private readonly counters = { acquired: 0, lost: 0, released: 0, renewals: 0, renewalFailures: 0, maxRenewalGapMs: 0 };
  kv: KV | null = null;
  mode: HolderMode = 'live';

  constructor(
    private readonly memberId: string,
    private readonly session: string,
    private readonly timings: LeaseTimings,
    private readonly events: HolderEvents,
    private readonly log: LeaseLog,
  ) {}

  /** Whether this member may process `k` now: held, not being handed over, within its validity. */
  owns(partition: number): boolean {
    const h = this.held.get(partition);
    return h !== undefined && h.phase === 'active' && monoMs() < h.confirmedMono + this.timings.validMs;
  }

  /** Held partitions, hand-overs included (they are ours until released). */
  heldPartitions(): number[] {
    return [...this.held.keys()];
  }

  has(partition: number): boolean {
    return this.held.has(partition);
  }

  sinceMs(partition: number): number | null {
    return this.held.get(partition)?.sinceMs ?? null;
  }

  stats(): LeaseStats {
    return { ...this.counters };
  }

  /**
   * Takes partition `k` with CAS on what was observed (`create` when the key
   * was absent); resolves to what the `acquired` event says, or null when the
   * lease is someone else's or the write failed (the next pass looks again).
   */
  async acquire(k: number, o: Observed | null, stale: boolean): Promise<AcquiredInfo | null> {
    const kv = this.kv;
    if (kv === null || this.mode !== 'live' || this.acquiring.has(k) || this.held.has(k)) return null;
    const lease = o?.lease ?? null;
    if (o !== null && o.entry.operation === 'PUT') {
      const mine = lease?.owner === this.memberId && lease.session === this.session;
      const free = lease !== null && lease.owner === null;
      if (!mine && !free && !stale) return null; // a live lease: wait for its release or expiry
    }
    this.acquiring.add(k);
    const previousOwner = lease === null ? null : (lease.owner ?? lease.previous_owner);
    const wall = Date.now();
    const unownedMs = lease === null ? null : Math.max(0, wall - (lease.owner === null ? lease.since_ms : lease.renewed_ms));
    const value: PartitionLease = { owner: this.memberId, session: this.session, since_ms: wall, renewed_ms: wall, previous_owner: previousOwner };
    const sentMono = monoMs();
    let revision: number;
    try {
      const data = encodeRecord(value);
      revision = o === null ? await kv.create(partitionKey(k), data) : await kv.update(partitionKey(k), data, o.revision, this.timings.opTimeoutMs);
    } catch (err) {
      this.log('debug', 'cluster: acquiring failed', { partition: k, err: message(err) });
      return null;
    } finally {
      this.acquiring.delete(k);
    }
    const h: Held = { partition: k, revision, sinceMs: wall, previousOwner, confirmedMono: sentMono, phase: 'active', renewing: false, tail: Promise.resolve(), deadline: null, retry: null };
    if (this.mode !== 'live') {
      // Stopped while acquiring: hand it straight back (dead: leave it to expire).
      if (this.mode === 'stopping') await this.writeRelease(h);
      return null;
    }
    this.held.set(k, h);
    this.arm(h);
    this.counters.acquired++;
    return { previousOwner, unownedMs };
  }

  /** Renews every held lease (hand-overs included: they must not expire before release). */
  renewAll(): void {
    for (const h of this.held.values()) this.renew(h);
  }

  /** Hands `k` over: `lost` (awaited, renewing meanwhile), then `owner: null` with CAS. */
  release(partition: number, reason: 'released' | 'stopped'): void {
    const h = this.held.get(partition);
    if (h === undefined || h.phase !== 'active') return;
    h.phase = 'releasing';
    this.log('info', `cluster: handing partition ${partition} over (${reason})`, { partition });
    const run = (async () => {
      await this.events.lost(partition, reason);
      await this.exclusive(h, () => this.writeRelease(h));
    })().catch((err: unknown) => this.log('warn', 'cluster: hand-over failed', { partition, err: message(err) }));
    this.handovers.add(run);
    void run.finally(() => this.handovers.delete(run));
  }

  /** Resolves when no hand-over is in progress. */
  async settled(): Promise<void> {
    while (this.handovers.size > 0) await Promise.all(this.handovers);
  }

  /** Forgets everything without a write or an event (crash, or after stop). */
  forget(): void {
    for (const h of this.held.values()) this.clearTimers(h);
    this.held.clear();
  }

  private clearTimers(h: Held): void {
    if (h.deadline !== null) clearTimeout(h.deadline);
    if (h.retry !== null) clearTimeout(h.retry);
    h.deadline = h.retry = null;
  }

  /** The deadline: stop before anyone else could take the lease. */
  private arm(h: Held): void {
    if (h.deadline !== null) clearTimeout(h.deadline);
    h.deadline = setTimeout(() => this.expire(h), Math.max(0, h.confirmedMono + this.timings.validMs - monoMs()));
    h.deadline.unref();
  }

  private expire(h: Held): void {
    h.deadline = null;
    if (this.held.get(h.partition) !== h) return;
    if (monoMs() < h.confirmedMono + this.timings.validMs) return this.arm(h);
    this.drop(h, 'expired');
  }

  /** Forgets a lease this member can no longer vouch for; tells the member unless a hand-over already did. */
  private drop(h: Held, reason: 'expired' | 'taken'): void {
    if (this.held.get(h.partition) !== h) return;
    this.held.delete(h.partition);
    this.clearTimers(h);
    const wasActive = h.phase === 'active';
    h.phase = 'releasing';
    this.log('warn', `cluster: partition ${h.partition} lost (${reason})`, { partition: h.partition, reason });
    if (wasActive) {
      this.counters.lost++;
      void this.events.lost(h.partition, reason);
    }
    this.events.dropped();
  }

  /** Runs writes to one key one at a time. */
  private exclusive(h: Held, fn: () => Promise<void>): Promise<void> {
    const run = h.tail.then(fn, fn);
    h.tail = run.catch(() => undefined);
    return run;
  }

  private renew(h: Held): void {
    if (h.renewing || this.held.get(h.partition) !== h || this.mode === 'dead') return;
    h.renewing = true;
    void this.exclusive(h, async () => {
      try {
        await this.writeRenewal(h);
      } finally {
        h.renewing = false;
      }
    });
  }

  private async writeRenewal(h: Held): Promise<void> {
    const kv = this.kv;
    if (kv === null || this.held.get(h.partition) !== h) return;
    const value: PartitionLease = { owner: this.memberId, session: this.session, since_ms: h.sinceMs, renewed_ms: Date.now(), previous_owner: h.previousOwner };
    const sentMono = monoMs();
    try {
      const revision = await kv.update(partitionKey(h.partition), encodeRecord(value), h.revision, this.timings.opTimeoutMs);
      if (this.held.get(h.partition) !== h) return;
      this.counters.renewals++;
      this.counters.maxRenewalGapMs = Math.max(this.counters.maxRenewalGapMs, sentMono - h.confirmedMono);
      h.revision = revision;
      h.confirmedMono = Math.max(h.confirmedMono, sentMono);
      this.arm(h);
    } catch (err) {
      if (this.held.get(h.partition) !== h) return;
      this.counters.renewalFailures++;
      if (!isWrongSequence(err)) {
        this.log('debug', 'cluster: renewal failed, retrying', { partition: h.partition, err: message(err) });
        return this.retrySoon(h);
      }
      if (await this.adoptOwnRevision(h)) return this.retrySoon(h);
      if (this.held.get(h.partition) === h) this.drop(h, 'taken');
    }
  }

  private retrySoon(h: Held): void {
    if (h.retry !== null || this.mode === 'dead') return;
    h.retry = setTimeout(() => {
      h.retry = null;
      this.renew(h);
    }, this.timings.retryMs);
    h.retry.unref();
  }

  /**
   * A write met another revision. When the key still holds this member's
   * lease (an earlier write landed after its timeout), adopts that revision —
   * validity stays where it was — and returns true; false when someone else
   * holds it. A failed read counts as ours: the deadline still bounds it.
   */
  private async adoptOwnRevision(h: Held): Promise<boolean> {
    try {
      const entry = (await this.kv?.get(partitionKey(h.partition))) ?? null;
      const lease = entry === null ? null : leaseOf(entry);
      if (entry === null || lease?.owner !== this.memberId || lease.session !== this.session) return false;
      h.revision = Math.max(h.revision, entry.revision);
      return true;
    } catch (err) {
      this.log('debug', 'cluster: reading a contested lease failed', { partition: h.partition, err: message(err) });
      return true;
    }
  }

  /** Writes `owner: null`, retrying within the lease's validity; past it the lease simply expires. */
  private async writeRelease(h: Held): Promise<void> {
    const kv = this.kv;
    const value: PartitionLease = { owner: null, session: null, since_ms: Date.now(), renewed_ms: Date.now(), previous_owner: this.memberId };
    while (kv !== null && this.mode !== 'dead' && monoMs() < h.confirmedMono + this.timings.validMs) {
      try {
        await kv.update(partitionKey(h.partition), encodeRecord(value), h.revision, this.timings.opTimeoutMs);
        this.counters.released++;
        break;
      } catch (err) {
        this.log('debug', 'cluster: release failed', { partition: h.partition, err: message(err) });
        if (isWrongSequence(err) && !(await this.adoptOwnRevision(h))) break; // someone else's now
        await sleep(this.timings.retryMs);
      }
    }
    if (this.held.get(h.partition) === h) {
      this.held.delete(h.partition);
      this.clearTimers(h);
    }
  }
}
