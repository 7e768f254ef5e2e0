/**
 * The public shapes of cluster leases (SPEC §12): options, handlers and the
 * timings derived from the lease. The `GET /cluster` body they produce is the
 * contract's `ClusterAnswer` (src/domain/http-answers.ts).
 */
import type { MemberRecord } from './lease-records.js';

/** Default lease (`CLUSTER_LEASE_MS`): longer than a JetStream leader election, so losing one nats-server moves nothing. */
export const DEFAULT_LEASE_MS = 15_000;
/** Default lease bucket (`CLUSTER_BUCKET`). */
export const DEFAULT_BUCKET = 'senpai_cluster';

/** Why a member stopped holding a partition. */
export type LostReason =
  /** Rebalancing gave it to another member; the lease is released once `lost` resolves. */
  | 'released'
  /** `stop()`: released once `lost` resolves. */
  | 'stopped'
  /** No renewal was confirmed in time: stop now, another member may take it after the lease. */
  | 'expired'
  /** A renewal found someone else's lease in the bucket. */
  | 'taken';

export interface AcquiredInfo {
  /** The member that held it before (expired or released), null when never held. */
  readonly previousOwner: string | null;
  /** Roughly how long it was unowned (ms; across two clocks, so ± their skew), null when unknown. */
  readonly unownedMs: number | null;
}

/** What a member is told. A handler that throws is logged and otherwise ignored. */
export interface LeaseHandlers {
  /** Start processing the partition (warm it up, resume its durable). */
  acquired?(partition: number, info: AcquiredInfo): void;
  /**
   * Stop processing and publishing the partition, at once. For `released`
   * and `stopped` the lease is kept (renewed) until the returned promise
   * settles and released after it, so the next owner starts only after this
   * one has stopped. For `expired` and `taken` nothing waits: stop within the
   * margin.
   */
  lost?(partition: number, info: { readonly reason: LostReason }): void | Promise<void>;
  /** The live member set changed (ids or URLs). */
  membersChanged?(members: readonly MemberRecord[]): void;
}

export type LeaseLogLevel = 'debug' | 'info' | 'warn';
/** A log sink; for pino: `(level, msg, fields) => logger[level](fields ?? {}, msg)`. */
export type LeaseLog = (level: LeaseLogLevel, msg: string, fields?: Record<string, unknown>) => void;

export interface PartitionLeasesOptions {
  /** Unique in the group (letters, digits, `_`, `-`, `=`, ≤ 64 characters). */
  readonly memberId: string;
  /** Where this member answers HTTP (`CLUSTER_ADVERTISE_URL`), for 421 answers. */
  readonly httpUrl: string;
  /** P (`CLUSTER_PARTITIONS`), fixed for the stream's lifetime. */
  readonly partitions: number;
  /** `CLUSTER_BUCKET`, default `senpai_cluster`. */
  readonly bucket?: string;
  /** `CLUSTER_LEASE_MS`, default 15000. */
  readonly leaseMs?: number;
  /**
   * Renewal (and member refresh, and pass) period: lease/3 by default, as
   * SPEC §12 says; at most lease/3. Shorter survives longer KV outages: the
   * worst case is an outage starting just before a renewal, which must end
   * within lease − margin − renewEvery (8.5 s at the defaults, 11 s with
   * lease/6; docs/SCALING.md).
   */
  readonly renewEveryMs?: number;
  /** Bucket replicas when this member creates it: 3 on a three-node cluster. Default 1. */
  readonly replicas?: number;
  /**
   * A holder stops this long before its lease could expire anywhere (default
   * lease/10: 1.5 s at 15 s — time to stop, and to spare for a late timer or a
   * stalled event loop). With renewals every lease/3, a KV outage moves
   * nothing when it lasts less than lease − margin − lease/3: 8.5 s at the
   * defaults when it starts just before a renewal, 13.5 s just after one. A
   * JetStream stream-leader election after `kill -9` took ~6 s on nats-server
   * 2.9 (docs/SCALING.md).
   */
  readonly marginMs?: number;
  /**
   * The largest difference between two members' wall clocks this member
   * assumes (default: the lease). Only used to recognise long-dead records at
   * once; a lease seen renewed is judged on this member's own monotonic clock.
   */
  readonly maxClockSkewMs?: number;
  /** After start, acquire only hand-overs for this long, so members starting together see each other (default lease/3). */
  readonly settleMs?: number;
  /** Timeout of each KV operation (default lease/6 within 250–2000 ms); failed writes are retried every ≤ 500 ms. */
  readonly opTimeoutMs?: number;
  /** How long `start()` keeps trying to open the bucket (default 30000 ms). */
  readonly startTimeoutMs?: number;
  /** Bucket `max_age` when this member creates it: drops records of members gone for good (default max(20 × lease, 60 s)). */
  readonly bucketTtlMs?: number;
  readonly handlers?: LeaseHandlers;
  readonly log?: LeaseLog;
}

/** The lease bucket could not be opened or created. */
export class ClusterBucketError extends Error {
  override readonly name = 'ClusterBucketError';
}

/** Every duration the lease logic runs on, resolved from the options. */
export interface LeaseTimings {
  readonly leaseMs: number;
  /** Renewal period: lease/3 unless set. */
  readonly renewEveryMs: number;
  /** A holder's lease is valid this long after its last confirmed write was sent: lease − margin. */
  readonly validMs: number;
  readonly maxClockSkewMs: number;
  readonly settleMs: number;
  readonly opTimeoutMs: number;
  readonly startTimeoutMs: number;
  readonly bucketTtlMs: number;
  /** Delay before retrying a failed renewal. */
  readonly retryMs: number;
}

/** Resolves and checks the timings; throws RangeError on nonsense. */
export function leaseTimings(opts: PartitionLeasesOptions): LeaseTimings {
  const leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS;
  if (!(leaseMs >= 300)) throw new RangeError(`leaseMs must be ≥ 300, got ${leaseMs}`);
  const renewEveryMs = opts.renewEveryMs ?? leaseMs / 3;
  if (!(renewEveryMs >= 50 && renewEveryMs <= leaseMs / 3)) throw new RangeError(`renewEveryMs must be in [50, lease/3], got ${renewEveryMs}`);
  const margin = opts.marginMs ?? leaseMs / 10;
  // The lease must stay valid past the next renewal, or every period would lose it.
  if (!(margin > 0 && margin < leaseMs - renewEveryMs)) throw new RangeError(`marginMs must be in (0, lease − renewEvery), got ${margin}`);
  return {
    leaseMs,
    renewEveryMs,
    validMs: leaseMs - margin,
    maxClockSkewMs: opts.maxClockSkewMs ?? leaseMs,
    settleMs: opts.settleMs ?? renewEveryMs,
    opTimeoutMs: opts.opTimeoutMs ?? Math.min(2000, Math.max(250, leaseMs / 6)),
    startTimeoutMs: opts.startTimeoutMs ?? 30_000,
    bucketTtlMs: opts.bucketTtlMs ?? Math.max(20 * leaseMs, 60_000),
    retryMs: Math.min(500, leaseMs / 12),
  };
}
