import { randomUUID } from 'node:crypto';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { JetStreamManager } from '@nats-io/jetstream';
import { KvWatchInclude, Kvm } from '@nats-io/kv';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import { assignPartitions } from './assignment.js';
import { BucketView, monoMs } from './bucket-view.js';
import type { Observed } from './bucket-view.js';
import { LeaseHolder, message } from './lease-holder.js';
import type { LeaseStats } from './lease-holder.js';
import type { ClusterAnswer, PartitionOwner } from '../domain/http-answers.js';
import { MEMBER_ID_PATTERN, encodeRecord, memberKey } from './lease-records.js';
import type { MemberRecord, StoredMember } from './lease-records.js';
import { ClusterBucketError, DEFAULT_BUCKET, leaseTimings } from './lease-options.js';
import type { LeaseHandlers, LeaseLog, LeaseTimings, LostReason, PartitionLeasesOptions } from './lease-options.js';

export { ClusterBucketError, DEFAULT_BUCKET, DEFAULT_LEASE_MS } from './lease-options.js';
export type { AcquiredInfo, LeaseHandlers, LeaseLog, LostReason, PartitionLeasesOptions } from './lease-options.js';
export type { MemberRecord } from './lease-records.js';
export type { LeaseStats } from './lease-holder.js';

type State = 'new' | 'starting' | 'running' | 'stopping' | 'stopped' | 'crashed';

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
  private readonly partitions: number;
  private readonly timings: LeaseTimings;
  private readonly bucketName: string;
  private readonly replicas: number;
  private readonly handlers: LeaseHandlers;
  private readonly log: LeaseLog;
  private readonly session = randomUUID();
  private readonly bucket: BucketView;
  private readonly holder: LeaseHolder;

  private state: State = 'new';
  private kv: KV | null = null;
  private jsm: JetStreamManager | null = null;
  private membersKey = '';
  private acquireAfterMono = 0;
  private ticker: NodeJS.Timeout | null = null;
  private nudgeTimer: NodeJS.Timeout | null = null;
  private settleTimer: NodeJS.Timeout | null = null;
  private expiryTimer: NodeJS.Timeout | null = null;
  private watcher: { stop(): void } | null = null;
  private syncing: Promise<void> | null = null;
  private syncAgain = false;
  private impostorSeen = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly opts: PartitionLeasesOptions,
  ) {
    if (!MEMBER_ID_PATTERN.test(opts.memberId)) throw new RangeError(`member id must match ${MEMBER_ID_PATTERN}, got ${JSON.stringify(opts.memberId)}`);
    if (!Number.isInteger(opts.partitions) || opts.partitions < 1) throw new RangeError(`partitions must be a positive integer, got ${opts.partitions}`);
    this.memberId = opts.memberId;
    this.partitions = opts.partitions;
    this.timings = leaseTimings(opts);
    this.bucketName = opts.bucket ?? DEFAULT_BUCKET;
    this.replicas = opts.replicas ?? 1;
    this.handlers = opts.handlers ?? {};
    this.log = opts.log ?? (() => undefined);
    this.bucket = new BucketView(this.memberId, this.session, this.partitions, this.bucketName, this.timings);
    this.holder = new LeaseHolder(
      this.memberId,
      this.session,
      this.timings,
      {
        lost: (k, reason) => this.callLost(k, reason),
        dropped: () => this.nudge(),
      },
      this.log,
    );
  }

  /**
   * Opens (or creates) the bucket, registers this member and starts the
   * renew / rebalance loop; resolves after the first pass. Throws
   * {@link ClusterBucketError} when the bucket cannot be opened within
   * `startTimeoutMs` (a cluster still electing its leaders is waited for).
   * `signal` aborting while the bucket is being opened is a {@link stop}
   * during start: nothing was registered, and start resolves.
   */
  async start(signal?: AbortSignal): Promise<void> {
    if (this.state !== 'new') throw new Error(`PartitionLeases already ${this.state}`);
    this.state = 'starting';
    // a stop during start: stop() in state 'starting' marks it stopped, and the bucket wait gives up
    const abandon = () => void this.stop();
    if (signal?.aborted === true) abandon();
    signal?.addEventListener('abort', abandon, { once: true });
    try {
      await this.openBucket();
    } catch (err) {
      if (this.state !== 'starting') return; // stop() during start: not an error
      this.state = 'stopped';
      throw err;
    } finally {
      signal?.removeEventListener('abort', abandon);
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
    return this.holder
      .heldPartitions()
      .filter((k) => this.holder.owns(k))
      .sort((a, b) => a - b);
  }

  /** Whether this member may process and publish partition `k` right now (checks the clock, not only the state). */
  owns(partition: number): boolean {
    return this.holder.owns(partition);
  }

  /** The member holding `k` as last seen (this member for its own), or null: for 421 answers. */
  ownerOf(partition: number): MemberRecord | null {
    if (this.owns(partition)) return this.selfRecord();
    const owner = this.bucket.others[partition]?.owner ?? null;
    return owner === null ? null : (this.bucket.members.find((m) => m.id === owner) ?? null);
  }

  /** The `GET /cluster` body. */
  view(): ClusterAnswer {
    const members = this.bucket.members.map((m) => (m.id === this.memberId ? this.selfRecord() : m));
    const partitions: PartitionOwner[] = [];
    for (let k = 0; k < this.partitions; k++) {
      const other = this.bucket.others[k] ?? null;
      if (this.owns(k)) partitions.push({ partition: k, owner: this.memberId, since_ms: this.holder.sinceMs(k) });
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
    return this.holder.stats();
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
    this.holder.mode = 'stopping';
    // The ticker keeps renewing while the handlers stop.
    this.clearLoopTimers({ keepTicker: true });
    await this.syncing?.catch(() => undefined);
    for (const k of this.holder.heldPartitions()) this.holder.release(k, 'stopped');
    await this.holder.settled();
    this.clearLoopTimers();
    this.holder.mode = 'dead';
    this.holder.forget();
    try {
      await this.kv?.delete(memberKey(this.memberId));
    } catch (err) {
      this.log('debug', 'cluster: deregistering failed', { err: message(err) });
    }
    this.state = 'stopped';
  }

  /**
   * Test hook: stops every timer and forgets every lease without releasing it
   * or calling a handler — what `kill -9` of this member looks like to the others.
   */
  crash(): void {
    this.state = 'crashed';
    this.holder.mode = 'dead';
    this.clearLoopTimers();
    this.holder.forget();
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
        this.holder.kv = this.kv;
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
    this.holder.renewAll();
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
    const impostor = this.bucket.impostor();
    if (impostor && !this.impostorSeen) this.log('warn', `cluster: another live process registers as member ${this.memberId}; member ids must be unique`, { member: this.memberId });
    this.impostorSeen = impostor;
    const members = [...others, this.selfRecord()].sort(byId);

    const current: (string | null)[] = [];
    for (let k = 0; k < this.partitions; k++) {
      const o = observed[k] ?? null;
      const lease = o?.lease ?? null;
      // Ours even when dropped locally (it can be taken back at once).
      const mine = this.holder.has(k) || (lease?.owner === this.memberId && lease.session === this.session);
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
    for (const k of this.holder.heldPartitions()) if (target[k] !== this.memberId) this.holder.release(k, 'released');

    // While settling, only partitions handed over now (released by a live
    // member, or released while this member watched) are taken; absent,
    // expired and long-released ones wait, so members starting together see
    // each other before the first of them grabs everything.
    const settled = monoMs() >= this.acquireAfterMono;
    const work: Promise<void>[] = [];
    for (let k = 0; k < this.partitions; k++) {
      if (target[k] !== this.memberId || this.holder.has(k)) continue;
      const o = observed[k] ?? null;
      const lease = o?.lease ?? null;
      const handedOver = lease?.owner === null && (o?.handedOver === true || others.some((m) => m.id === lease.previous_owner));
      if (settled || handedOver) work.push(this.acquire(k, o));
    }
    await Promise.all(work);
  }

  private async acquire(k: number, o: Observed | null): Promise<void> {
    const stale = o !== null && this.bucket.stale(o, o.lease?.renewed_ms ?? null);
    const info = await this.holder.acquire(k, o, stale);
    if (info === null || this.state !== 'running') return;
    this.log('info', 'cluster: partition acquired', { partition: k, previous_owner: info.previousOwner, unowned_ms: info.unownedMs });
    try {
      this.handlers.acquired?.(k, info);
    } catch (err) {
      this.log('warn', 'cluster: acquired handler threw', { partition: k, err: message(err) });
    }
  }

  private async callLost(k: number, reason: LostReason): Promise<void> {
    try {
      await this.handlers.lost?.(k, { reason });
    } catch (err) {
      this.log('warn', 'cluster: lost handler threw', { partition: k, err: message(err) });
    }
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
}
