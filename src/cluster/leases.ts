import { randomUUID } from 'node:crypto';
import { JetStreamApiCodes, JetStreamApiError, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { JetStreamManager } from '@nats-io/jetstream';
import { KvWatchInclude, Kvm } from '@nats-io/kv';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import { assignPartitions } from './assignment.js';
import { BucketView, leaseOf, monoMs } from './bucket-view.js';
import type { Observed } from './bucket-view.js';
import { MEMBER_ID_PATTERN, encodeRecord, memberKey, partitionKey } from './lease-records.js';
import type { MemberRecord, PartitionLease, StoredMember } from './lease-records.js';
import { ClusterBucketError, leaseTimings } from './lease-options.js';
import type { ClusterView, LeaseHandlers, LeaseLog, LeaseTimings, LostReason, PartitionLeasesOptions, PartitionOwnership } from './lease-options.js';

export { ClusterBucketError, DEFAULT_BUCKET, DEFAULT_LEASE_MS } from './lease-options.js';
export type { AcquiredInfo, ClusterView, LeaseHandlers, LeaseLog, LostReason, PartitionLeasesOptions, PartitionOwnership } from './lease-options.js';

/** A lease this member holds. */
interface Held {
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

type State = 'new' | 'starting' | 'running' | 'stopping' | 'stopped' | 'crashed';

/** Counters for metrics (see {@link PartitionLeases.stats}). */
export interface LeaseStats {
  readonly acquired: number;
  readonly lost: number;
  readonly released: number;
  readonly renewals: number;
  readonly renewalFailures: number;
  readonly maxRenewalGapMs: number;
}

function isWrongSequence(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamWrongLastSequence || err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

const byId = (a: MemberRecord, b: MemberRecord): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * Partition ownership by leases in a JetStream KV bucket (SPEC §12).
 *
 * Every lease/3 a member renews its leases with compare-and-set, refreshes
 * its `members.{id}` record and reads the bucket; from the sorted live member
 * ids and the current holders it computes the target assignment
 * ({@link assignPartitions}, the same in every member), acquires the free or
 * expired partitions given to it (CAS: `create` when absent, `update` on the
 * revision read) and hands over the ones given to others. A watch on the
 * bucket runs the same pass at once when a member joins or leaves or a
 * partition is released, so hand-overs take milliseconds, not a period.
 *
 * Safety — no two members process one partition at once:
 * - a holder's lease is valid until (send time of its last confirmed write)
 *   + lease − margin on its own monotonic clock; then it emits
 *   `lost(k, expired)` and {@link owns} turns false. A renewal that meets
 *   another member's lease emits `lost(k, taken)` at once; other failures
 *   (timeouts, a leader election) are retried until the validity runs out;
 * - another member takes a lease over only when it has seen the same
 *   revision unchanged for a whole lease on its own monotonic clock (it saw
 *   it after the holder sent it, so the holder stopped ≥ margin earlier), or
 *   when the record's `renewed_ms` is older than lease + maxClockSkew by its
 *   own wall clock (safe while the clocks differ by less than maxClockSkew);
 *   and the take-over is a CAS on that revision, so a renewal in between wins;
 * - a hand-over (rebalancing, stop) keeps renewing while `lost` runs and
 *   releases the lease only after it settled.
 * The holder must stop within the margin: an event loop blocked for longer
 * breaks the guarantee, which is why {@link owns} checks the clock itself —
 * ask it before publishing.
 *
 * KV errors never escape a timer; only {@link start} throws, when the bucket
 * cannot be opened.
 */
export class PartitionLeases {
  readonly memberId: string;
  readonly partitions: number;
  readonly timings: LeaseTimings;
  private readonly bucketName: string;
  private readonly replicas: number;
  private readonly handlers: LeaseHandlers;
  private readonly log: LeaseLog;
  private readonly session = randomUUID();
  private readonly bucket: BucketView;

  private state: State = 'new';
  private kv: KV | null = null;
  private jsm: JetStreamManager | null = null;
  private readonly held = new Map<number, Held>();
  private readonly acquiring = new Set<number>();
  /** Hand-overs in progress (awaited by {@link stop}). */
  private readonly handovers = new Set<Promise<void>>();
  private membersKey = '';
  private acquireAfterMono = 0;
  private ticker: NodeJS.Timeout | null = null;
  private nudgeTimer: NodeJS.Timeout | null = null;
  private settleTimer: NodeJS.Timeout | null = null;
  private expiryTimer: NodeJS.Timeout | null = null;
  private watcher: { stop(): void } | null = null;
  private syncing: Promise<void> | null = null;
  private syncAgain = false;
  private readonly counters = { acquired: 0, lost: 0, released: 0, renewals: 0, renewalFailures: 0, maxRenewalGapMs: 0 };

  constructor(
    private readonly nc: NatsConnection,
    private readonly opts: PartitionLeasesOptions,
  ) {
    if (!MEMBER_ID_PATTERN.test(opts.memberId)) throw new RangeError(`member id must match ${MEMBER_ID_PATTERN}, got ${JSON.stringify(opts.memberId)}`);
    if (!Number.isInteger(opts.partitions) || opts.partitions < 1) throw new RangeError(`partitions must be a positive integer, got ${opts.partitions}`);
    this.memberId = opts.memberId;
    this.partitions = opts.partitions;
    this.timings = leaseTimings(opts);
    this.bucketName = opts.bucket ?? 'senpai_cluster';
    this.replicas = opts.replicas ?? 1;
    this.handlers = opts.handlers ?? {};
    this.log = opts.log ?? (() => undefined);
    this.bucket = new BucketView(this.memberId, this.partitions, this.bucketName, this.timings);
  }

  /**
   * Opens (or creates) the bucket, registers this member and starts the
   * renew / rebalance loop; resolves after the first pass. Throws
   * {@link ClusterBucketError} when the bucket cannot be opened within
   * `startTimeoutMs` (a cluster still electing its leaders is waited for).
   */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error(`PartitionLeases already ${this.state}`);
    this.state = 'starting';
    try {
      await this.openBucket();
    } catch (err) {
      this.state = 'stopped';
      throw err;
    }
    if (this.state !== 'starting') return; // stopped meanwhile
    this.state = 'running';
    this.acquireAfterMono = monoMs() + this.timings.settleMs;
    await this.refreshMember();
    this.startWatch();
    this.ticker = setInterval(() => this.tick(), this.timings.renewEveryMs);
    this.ticker.unref();
    this.settleTimer = setTimeout(() => this.nudge(), this.timings.settleMs + 1);
    this.settleTimer.unref();
    await this.runSync();
  }

  /** Partitions this member processes now: held, not being handed over, lease valid. */
  owned(): number[] {
    const out: number[] = [];
    for (const k of this.held.keys()) if (this.owns(k)) out.push(k);
    return out.sort((a, b) => a - b);
  }

  /** Whether this member may process and publish partition `k` right now (checks the clock, not only the state). */
  owns(partition: number): boolean {
    const h = this.held.get(partition);
    return h !== undefined && h.phase === 'active' && monoMs() < h.confirmedMono + this.timings.validMs;
  }

  /** The member holding `k` as last seen (this member for its own), or null: for 421 answers. */
  ownerOf(partition: number): MemberRecord | null {
    if (this.owns(partition)) return this.selfRecord();
    const owner = this.bucket.others[partition]?.owner ?? null;
    return owner === null ? null : (this.bucket.members.find((m) => m.id === owner) ?? null);
  }

  /** The `GET /cluster` body. */
  view(): ClusterView {
    const members = this.bucket.members.map((m) => (m.id === this.memberId ? this.selfRecord() : m));
    const partitions: PartitionOwnership[] = [];
    for (let k = 0; k < this.partitions; k++) {
      const h = this.held.get(k);
      const other = this.bucket.others[k] ?? null;
      if (h !== undefined && this.owns(k)) partitions.push({ partition: k, owner: this.memberId, since_ms: h.sinceMs });
      else if (other !== null) partitions.push({ partition: k, owner: other.owner, since_ms: other.since_ms });
      else partitions.push({ partition: k, owner: null, since_ms: null });
    }
    return { member: this.memberId, members, partitions };
  }

  /**
   * Counters for metrics: partitions acquired, lost (expired or taken),
   * released (hand-overs), renewals confirmed and failed, and the longest
   * time between two confirmed writes of one lease (how close a failover came
   * to the validity, `timings.validMs`; lease/3 when all is well).
   */
  stats(): LeaseStats {
    return { ...this.counters };
  }

  /**
   * Hands every partition over: `lost(k, stopped)` for each, waits for them
   * (renewing meanwhile), releases the leases and deregisters, so the other
   * members take over at once.
   */
  async stop(): Promise<void> {
    if (this.state !== 'running') {
      if (this.state === 'new' || this.state === 'starting') this.state = 'stopped';
      return;
    }
    this.state = 'stopping';
    this.clearLoopTimers({ keepTicker: true });
    await this.syncing?.catch(() => undefined);
    for (const h of this.held.values()) this.release(h, 'stopped');
    while (this.handovers.size > 0) await Promise.all(this.handovers);
    this.clearLoopTimers();
    try {
      await this.kv?.delete(memberKey(this.memberId));
    } catch (err) {
      this.log('debug', 'cluster: deregistering failed', { err: message(err) });
    }
    for (const h of this.held.values()) this.clearHeldTimers(h);
    this.held.clear();
    this.state = 'stopped';
  }

  /**
   * Test hook: stops every timer and forgets every lease without releasing it
   * or calling a handler — what `kill -9` of this member looks like to the others.
   */
  crash(): void {
    this.state = 'crashed';
    this.clearLoopTimers();
    for (const h of this.held.values()) this.clearHeldTimers(h);
    this.held.clear();
  }

  // ---- the loop ----------------------------------------------------------

  private async openBucket(): Promise<void> {
    const deadline = monoMs() + this.timings.startTimeoutMs;
    // allow_direct off: reads go to the stream leader, so no decision waits on
    // a lagging replica's copy (CAS would stop a wrong write anyway).
    const config = { history: 1, replicas: this.replicas, ttl: this.timings.bucketTtlMs, allow_direct: false };
    for (;;) {
      try {
        // Creating a replicated stream takes longer than a lease write...
        await new Kvm(jetstream(this.nc, { timeout: Math.max(this.timings.opTimeoutMs, 5000) })).create(this.bucketName, config);
        // ...and the lease operations get the short timeout: a slow answer must
        // not eat the margin. An existing bucket is opened as it is.
        this.kv = await new Kvm(jetstream(this.nc, { timeout: this.timings.opTimeoutMs })).create(this.bucketName, config);
        this.jsm = await jetstreamManager(this.nc, { timeout: this.timings.opTimeoutMs, checkAPI: false });
        return;
      } catch (err) {
        if (monoMs() > deadline || this.state !== 'starting') {
          throw new ClusterBucketError(`cannot open the cluster lease bucket ${this.bucketName}: ${message(err)}`, { cause: err });
        }
        this.log('debug', 'cluster: opening the lease bucket failed, retrying', { err: message(err) });
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  private tick(): void {
    if (this.state !== 'running' && this.state !== 'stopping') return;
    for (const h of this.held.values()) this.renew(h);
    if (this.state !== 'running') return;
    void this.refreshMember();
    if (this.watcher === null) this.startWatch();
    void this.runSync();
  }

  private clearLoopTimers(opts: { keepTicker?: boolean } = {}): void {
    if (this.ticker !== null && opts.keepTicker !== true) {
      clearInterval(this.ticker);
      this.ticker = null;
    }
    for (const t of [this.nudgeTimer, this.settleTimer, this.expiryTimer]) if (t !== null) clearTimeout(t);
    this.nudgeTimer = this.settleTimer = this.expiryTimer = null;
    this.watcher?.stop();
    this.watcher = null;
  }

  private clearHeldTimers(h: Held): void {
    if (h.deadline !== null) clearTimeout(h.deadline);
    if (h.retry !== null) clearTimeout(h.retry);
    h.deadline = h.retry = null;
  }

  private selfRecord(): MemberRecord {
    return { id: this.memberId, http_url: this.opts.httpUrl, partitions: this.owned(), last_seen_ms: Date.now() };
  }

  private async refreshMember(): Promise<void> {
    const kv = this.kv;
    if (kv === null || this.state !== 'running') return;
    const rec: StoredMember = { ...this.selfRecord(), session: this.session };
    try {
      await kv.put(memberKey(this.memberId), encodeRecord(rec), { timeout: this.timings.opTimeoutMs });
    } catch (err) {
      this.log('debug', 'cluster: member refresh failed', { err: message(err) });
    }
  }

  /** Runs {@link sync}; a call during a run schedules one more run, never two at a time. */
  private runSync(): Promise<void> {
    if (this.syncing !== null) {
      this.syncAgain = true;
      return this.syncing;
    }
    const run = (async () => {
      do {
        this.syncAgain = false;
        try {
          await this.sync();
        } catch (err) {
          this.log('debug', 'cluster: pass failed', { err: message(err) });
        }
      } while (this.syncAgain && this.state === 'running');
    })();
    this.syncing = run.finally(() => {
      this.syncing = null;
    });
    return this.syncing;
  }

  private nudge(): void {
    if (this.state !== 'running' || this.nudgeTimer !== null) return;
    this.nudgeTimer = setTimeout(() => {
      this.nudgeTimer = null;
      void this.runSync();
    }, 20);
    this.nudgeTimer.unref();
  }

  /** The bucket watch: restarted by the ticker when it ends (it may, in a failover). */
  private startWatch(): void {
    const kv = this.kv;
    if (kv === null || this.state !== 'running') return;
    const slot = { stop: (): void => undefined };
    this.watcher = slot;
    void (async () => {
      try {
        const it = await kv.watch({ key: '>', include: KvWatchInclude.UpdatesOnly });
        if (this.watcher !== slot) return it.stop();
        slot.stop = () => it.stop();
        for await (const e of it) if (this.bucket.watched(e)) this.nudge();
      } catch (err) {
        this.log('debug', 'cluster: bucket watch ended', { err: message(err) });
      } finally {
        if (this.watcher === slot) this.watcher = null;
      }
    })();
  }

  /** One pass: read members and leases, compute the target, hand over and acquire. */
  private async sync(): Promise<void> {
    const kv = this.kv;
    const jsm = this.jsm;
    if (kv === null || jsm === null || this.state !== 'running') return;
    const [others, observed] = await Promise.all([this.bucket.readMembers(kv, jsm), this.bucket.readPartitions(kv)]);
    if (this.state !== 'running') return;
    const members = [...others, this.selfRecord()].sort(byId);

    const current: (string | null)[] = [];
    for (let k = 0; k < this.partitions; k++) {
      const o = observed[k] ?? null;
      const lease = o === null ? null : leaseOf(o.entry);
      // Ours even when dropped locally (it can be taken back at once).
      const mine = this.held.has(k) || (lease?.owner === this.memberId && lease.session === this.session);
      const alive = o !== null && lease !== null && lease.owner !== null && !mine && !this.bucket.stale(o, lease.renewed_ms);
      this.bucket.others[k] = alive ? lease : null;
      current.push(mine ? this.memberId : alive ? lease.owner : null);
    }
    this.setMembers(members);
    this.scheduleExpiryCheck();

    const target = assignPartitions(
      this.partitions,
      members.map((m) => m.id),
      current,
    );
    for (const h of this.held.values()) if (target[h.partition] !== this.memberId) this.release(h, 'released');

    // While settling, only partitions handed over now (released by a live
    // member, or released while this member watched) are taken; absent,
    // expired and long-released ones wait, so members starting together see
    // each other before the first of them grabs everything.
    const settled = monoMs() >= this.acquireAfterMono;
    const work: Promise<void>[] = [];
    for (let k = 0; k < this.partitions; k++) {
      if (target[k] !== this.memberId || this.held.has(k)) continue;
      const o = observed[k] ?? null;
      const lease = o === null ? null : leaseOf(o.entry);
      const handedOver = lease?.owner === null && (o?.handedOver === true || others.some((m) => m.id === lease.previous_owner));
      if (settled || handedOver) work.push(this.acquire(k, o));
    }
    await Promise.all(work);
  }

  /**
   * Another pass when the next record seen alive could turn stale (a lease
   * expiring, a member ageing out), so a dead member's partitions move as
   * soon as the rules allow rather than at the next period.
   */
  private scheduleExpiryCheck(): void {
    if (this.expiryTimer !== null) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
    const next = this.bucket.nextExpiryMs();
    if (this.state !== 'running' || next > this.timings.renewEveryMs) return; // the ticker comes first
    this.expiryTimer = setTimeout(() => {
      this.expiryTimer = null;
      this.nudge();
    }, next + 5);
    this.expiryTimer.unref();
  }

  private setMembers(members: MemberRecord[]): void {
    this.bucket.members = members;
    const key = members.map((m) => `${m.id} ${m.http_url}`).join('\n');
    if (key === this.membersKey) return;
    this.membersKey = key;
    this.log('info', 'cluster: members changed', { members: members.map((m) => m.id) });
    try {
      this.handlers.membersChanged?.(members);
    } catch (err) {
      this.log('warn', 'cluster: membersChanged handler threw', { err: message(err) });
    }
  }

  // ---- acquiring, renewing, releasing ------------------------------------

  private async acquire(k: number, o: Observed | null): Promise<void> {
    const kv = this.kv;
    if (kv === null || this.acquiring.has(k)) return;
    const lease = o === null ? null : leaseOf(o.entry);
    if (o !== null && o.entry.operation === 'PUT') {
      const mine = lease?.owner === this.memberId && lease.session === this.session;
      const free = lease !== null && lease.owner === null;
      if (!mine && !free && !this.bucket.stale(o, lease?.renewed_ms ?? null)) return; // a live lease: wait for its release or expiry
    }
    this.acquiring.add(k);
    const previousOwner = lease === null ? null : (lease.owner ?? lease.previous_owner);
    const wall = Date.now();
    const unownedMs = lease === null ? null : Math.max(0, wall - (lease.owner === null ? lease.since_ms : lease.renewed_ms));
    const value: PartitionLease = { owner: this.memberId, session: this.session, since_ms: wall, renewed_ms: wall, previous_owner: previousOwner };
    const sentMono = monoMs();
    let revision: number;
    try {
      revision =
        o === null
          ? await kv.create(partitionKey(k), encodeRecord(value))
          : await kv.update(partitionKey(k), encodeRecord(value), o.revision, this.timings.opTimeoutMs);
    } catch (err) {
      // A lost race (wrong sequence) or a failover: the next pass looks again.
      this.log('debug', 'cluster: acquiring failed', { partition: k, err: message(err) });
      return;
    } finally {
      this.acquiring.delete(k);
    }
    const h: Held = { partition: k, revision, sinceMs: wall, previousOwner, confirmedMono: sentMono, phase: 'active', renewing: false, tail: Promise.resolve(), deadline: null, retry: null };
    if (this.state !== 'running') {
      // Stopped while acquiring: hand it straight back (crashed: leave it to expire).
      if (this.state === 'stopping') await this.writeRelease(h);
      return;
    }
    this.held.set(k, h);
    this.arm(h);
    this.counters.acquired++;
    this.log('info', 'cluster: partition acquired', { partition: k, previous_owner: previousOwner, unowned_ms: unownedMs });
    try {
      this.handlers.acquired?.(k, { previousOwner, unownedMs });
    } catch (err) {
      this.log('warn', 'cluster: acquired handler threw', { partition: k, err: message(err) });
    }
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

  /** Forgets a lease this member can no longer vouch for; tells the handler unless a hand-over already did. */
  private drop(h: Held, reason: 'expired' | 'taken'): void {
    if (this.held.get(h.partition) !== h) return;
    this.held.delete(h.partition);
    this.clearHeldTimers(h);
    const wasActive = h.phase === 'active';
    h.phase = 'releasing';
    this.log('warn', `cluster: partition ${h.partition} lost (${reason})`, { partition: h.partition, reason });
    if (wasActive) {
      this.counters.lost++;
      void this.callLost(h.partition, reason);
    }
    if (this.state === 'running') this.nudge();
  }

  private async callLost(k: number, reason: LostReason): Promise<void> {
    try {
      await this.handlers.lost?.(k, { reason });
    } catch (err) {
      this.log('warn', 'cluster: lost handler threw', { partition: k, err: message(err) });
    }
  }

  /** Runs writes to one key one at a time. */
  private exclusive(h: Held, fn: () => Promise<void>): Promise<void> {
    const run = h.tail.then(fn, fn);
    h.tail = run.catch(() => undefined);
    return run;
  }

  private renew(h: Held): void {
    if (h.renewing || this.held.get(h.partition) !== h) return;
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
    if (h.retry !== null || this.state === 'crashed' || this.state === 'stopped') return;
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
      const entry = await this.kv?.get(partitionKey(h.partition));
      const lease = entry === null || entry === undefined ? null : leaseOf(entry);
      if (entry === null || entry === undefined || lease?.owner !== this.memberId || lease.session !== this.session) return false;
      h.revision = Math.max(h.revision, entry.revision);
      return true;
    } catch (err) {
      this.log('debug', 'cluster: reading a contested lease failed', { partition: h.partition, err: message(err) });
      return true;
    }
  }

  /** Hands a partition over: stop (await `lost`, renewing meanwhile), then release the lease with CAS. */
  private release(h: Held, reason: 'released' | 'stopped'): void {
    if (h.phase !== 'active') return;
    h.phase = 'releasing';
    this.log('info', `cluster: handing partition ${h.partition} over (${reason})`, { partition: h.partition });
    const run = (async () => {
      await this.callLost(h.partition, reason);
      await this.exclusive(h, () => this.writeRelease(h));
    })().catch((err: unknown) => this.log('warn', 'cluster: hand-over failed', { partition: h.partition, err: message(err) }));
    this.handovers.add(run);
    void run.finally(() => this.handovers.delete(run));
  }

  /** Writes `owner: null`, retrying within the lease's validity; past it the lease simply expires. */
  private async writeRelease(h: Held): Promise<void> {
    const kv = this.kv;
    const value: PartitionLease = { owner: null, session: null, since_ms: Date.now(), renewed_ms: Date.now(), previous_owner: this.memberId };
    while (kv !== null && this.state !== 'crashed' && monoMs() < h.confirmedMono + this.timings.validMs) {
      try {
        await kv.update(partitionKey(h.partition), encodeRecord(value), h.revision, this.timings.opTimeoutMs);
        this.counters.released++;
        break;
      } catch (err) {
        this.log('debug', 'cluster: release failed', { partition: h.partition, err: message(err) });
        if (isWrongSequence(err) && !(await this.adoptOwnRevision(h))) break; // someone else's now
        await new Promise((r) => setTimeout(r, this.timings.retryMs));
      }
    }
    if (this.held.get(h.partition) === h) {
      this.held.delete(h.partition);
      this.clearHeldTimers(h);
    }
  }
}
