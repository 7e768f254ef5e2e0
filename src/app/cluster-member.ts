import { setTimeout as sleep } from 'node:timers/promises';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { partitionMovedAlert } from '../alerts/alert-rules.js';
import type { AlertThrottle } from '../alerts/alert-throttle.js';
import { PARTITION_MAPPING_SOURCE, partitionMappingDestination, partitionOf, partitionOfSubject, partitionedSubjectFilter } from '../cluster/partition.js';
import { PartitionLeases } from '../cluster/leases.js';
import type { AcquiredInfo, LostReason, MemberRecord } from '../cluster/leases.js';
import type { ClusterConfig, Config } from '../config/config.js';
import type { ClusterAnswer } from '../domain/http-answers.js';
import type { MarketEngine } from '../engine/market-engine.js';
import { JetStreamSource } from '../nats/jetstream-source.js';
import type { ConsumerWatch } from '../nats/jetstream-source.js';
import { warmStart } from '../nats/warm-start.js';
import type { WarmupProgress } from '../nats/warm-start.js';
import type { ClusterMetrics } from '../obs/cluster-metrics.js';
import type { DataQualityMetrics } from '../obs/data-quality-metrics.js';
import type { PartitionGate, Pipeline } from './pipeline.js';

/** The partition of provider heartbeats: its owner alone raises `stale` (SPEC §12). */
export const SYSTEM_SYMBOL = '__system__';
/** How often the stream's subjects are checked for messages no member receives. */
const SUBJECT_CHECK_MS = 60_000;
/** Subjects remembered for "one warning per subject"; past this, refusals are only counted. */
const MAX_WARNED_SUBJECTS = 1024;
/** Wait before retrying a partition whose start failed (NATS trouble) while it is still ours. */
const RETRY_START_MS = 1000;

/** One partition this member has taken: warming, then consuming; `current` turns false when it is lost. */
interface PartitionRun {
  readonly partition: number;
  current: boolean;
  /**
   * Aborted when the run ends (lost, replaced, crashed) or the member stops: ends its start's waits
   * at once (the warm-up replay, the retry wait), so a stop does not wait for the replay to finish.
   */
  readonly ending: AbortController;
  consuming: boolean;
  source: JetStreamSource | null;
  /** Resolves when its start (warm-up, consumer) has finished or given up. */
  started: Promise<void>;
}

/** The run is no longer this member's: the gate refuses it, and its start gives up at once. */
function end(run: PartitionRun): void {
  run.current = false;
  run.consuming = false;
  run.ending.abort();
}

/** Stops an ended run's consumer; a start still under way gives up on its abort (and stops what it started). */
async function retire(run: PartitionRun): Promise<void> {
  await run.source?.stop();
  await run.started.catch(() => undefined);
}

/** What a member drives: the shared engine and pipeline, alerts, metrics. */
export interface ClusterMemberDeps {
  readonly engine: MarketEngine;
  readonly pipeline: Pipeline;
  readonly alerts: AlertThrottle;
  readonly quality: DataQualityMetrics;
  readonly metrics: ClusterMetrics;
  readonly log: Logger;
  /** Where this member answers HTTP: `CLUSTER_ADVERTISE_URL`, or the URL the service built from `HTTP_HOST` and the port it bound. */
  readonly httpUrl: string;
  /** Replicas of the lease bucket when this member creates it: the stream's. */
  readonly replicas: number;
  /** Whether the NATS connection is up (a warm-up that stalls while it is down resumes once it is back). */
  readonly isConnected?: () => boolean;
  /** Told when a partition's durable or the stream disappears under it, and when it is back. */
  readonly consumerWatch?: (durable: string) => ConsumerWatch;
  /** A partition's consumer stopped here (the partition went): whatever it reported no longer applies. */
  readonly consumerStopped?: (durable: string) => void;
  /** A partition's start keeps failing (`detail`), or it started (null): `/health` shows it (DECISIONS 98). */
  readonly startFailing?: (durable: string, detail: string | null) => void;
}

/** A start that failed this many times in a row makes `/health` degraded until it succeeds. */
const FAILS_BEFORE_DEGRADED = 3;
/** A partition whose start keeps failing is warned about at most this often. */
const START_WARN_EVERY_MS = 60_000;

/** What a failed partition start says: JetStream's own words, with the fix for a stream that misses the partitioned subjects. */
export function startFailure(err: unknown, stream: string): string {
  const msg = err instanceof Error ? err.message : String(err);
  return /filter subject is not a valid subset/i.test(msg)
    ? `${msg}: stream ${stream} does not store the partitioned subjects md.events.{type}.{symbol}.{K} (cluster mode needs them: give the stream the subject md.events.>)`
    : msg;
}

/**
 * This process as one member of the cluster (SPEC §12): holds partition
 * leases, and for each partition it owns warms the windows from the stream
 * and consumes the partition's own durable (`{JETSTREAM_DURABLE}-p{K}`,
 * filter `md.events.*.*.K`). When a partition goes, it stops it before the
 * lease handler returns: its consumer is closed, its queued messages are
 * skipped unacknowledged (redelivered to the next owner), nothing more is
 * published for its symbols, and their state is forgotten.
 *
 * It is the pipeline's {@link PartitionGate}.
 */
export class ClusterMember implements PartitionGate {
  readonly leases: PartitionLeases;
  private readonly cluster: ClusterConfig;
  private readonly runs = new Map<number, PartitionRun>();
  /** Coverage start of each partition (SPEC §11): the lower bound of its own warm-up. */
  private readonly coverage = new Map<number, number>();
  private readonly warnedSubjects = new Set<string>();
  private readonly warmups = new Set<WarmupProgress>();
  private subjectTimer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly config: Readonly<Config>,
    private readonly deps: ClusterMemberDeps,
  ) {
    if (config.cluster === null) throw new Error('ClusterMember needs cluster mode (CLUSTER_PARTITIONS > 0)');
    this.cluster = config.cluster;
    const log = deps.log;
    this.leases = new PartitionLeases(nc, {
      memberId: this.cluster.memberId,
      httpUrl: deps.httpUrl,
      partitions: this.cluster.partitions,
      bucket: this.cluster.bucket,
      leaseMs: this.cluster.leaseMs,
      replicas: deps.replicas,
      handlers: {
        acquired: (k, info) => this.acquired(k, info),
        lost: (k, info) => this.lost(k, info.reason),
        membersChanged: (members: readonly MemberRecord[]) => {
          deps.metrics.members = members.length;
        },
      },
      log: (level, msg, fields) => log[level](fields ?? {}, msg),
    });
    // a symbol's window is whole from its partition's warm-up, not from this process's start
    const P = this.cluster.partitions;
    deps.engine.setCoverageStart(Number.NEGATIVE_INFINITY);
    deps.engine.coverageFloorOf = (symbol) => this.coverage.get(partitionOf(symbol, P)) ?? Number.NaN;
  }

  /**
   * Joins the group: registers, takes its share of the partitions, checks the
   * stream's subjects now and every minute. `signal` (the service's stop) ends
   * the wait for the lease bucket.
   */
  async start(signal?: AbortSignal): Promise<void> {
    await this.leases.start(signal);
    if (signal?.aborted === true) return;
    void this.checkSubjects();
    this.subjectTimer = setInterval(() => void this.checkSubjects(), SUBJECT_CHECK_MS);
    this.subjectTimer.unref();
  }

  /** Leaves the group: every partition is stopped, then its lease released, so the others take over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.subjectTimer !== null) clearInterval(this.subjectTimer);
    // every start gives up now, not when the leases get to its lost(): they first wait for a sync pass
    for (const run of this.runs.values()) run.ending.abort();
    await this.leases.stop();
  }

  /**
   * Test hook (what `kill -9` looks like to the others): every timer stops,
   * no lease is released, no handler runs. The caller closes the connection.
   */
  crash(): void {
    this.stopped = true;
    if (this.subjectTimer !== null) clearInterval(this.subjectTimer);
    this.leases.crash();
    for (const run of this.runs.values()) end(run);
  }

  /** Partitions owned and processed here, ascending. */
  owned(): number[] {
    return this.leases.owned();
  }

  /** The `GET /cluster` body. */
  view(): ClusterAnswer {
    return this.leases.view();
  }

  /** A warm-up of some partition in progress (the first of them), for `/health`; null when none. */
  warming(): WarmupProgress | null {
    for (const w of this.warmups) return w;
    return null;
  }

  /**
   * Who answers for `symbol` (SPEC §12): `here` when its partition is owned
   * here, `elsewhere` with the owner, or `unowned` while nobody holds it.
   */
  route(symbol: string): { kind: 'here' } | { kind: 'elsewhere'; owner: string; httpUrl: string } | { kind: 'unowned'; partition: number } {
    const k = partitionOf(symbol, this.cluster.partitions);
    if (this.leases.owns(k)) return { kind: 'here' };
    const owner = this.leases.ownerOf(k);
    // a lease under this member's id that this process does not hold is its previous run's (restarted after
    // kill -9, before that lease expired): sending the client here again would loop, so the partition is unowned
    if (owner === null || owner.id === this.cluster.memberId) return { kind: 'unowned', partition: k };
    return { kind: 'elsewhere', owner: owner.id, httpUrl: owner.http_url };
  }

  /** Whether this member raises `stale` (it owns the heartbeats' partition). */
  ownsProviderAlerts(): boolean {
    return this.leases.owns(partitionOf(SYSTEM_SYMBOL, this.cluster.partitions));
  }

  // ---- PartitionGate -------------------------------------------------------

  admits(subject: string): boolean {
    const k = partitionOfSubject(subject);
    return k !== null && this.runs.get(k)?.consuming === true && this.leases.owns(k);
  }

  publishes(symbol: string): boolean {
    const k = partitionOf(symbol, this.cluster.partitions);
    return this.runs.get(k)?.current === true && this.leases.owns(k);
  }

  misplaced(subject: string, symbol: string): string | null {
    // md.events.{type}.{symbol}.{K}: the symbol token is the fourth
    const d1 = subject.indexOf('.');
    const d2 = subject.indexOf('.', d1 + 1);
    const d3 = d2 < 0 ? -1 : subject.indexOf('.', d2 + 1);
    if (d3 < 0) return null;
    const d4 = subject.indexOf('.', d3 + 1);
    const end = d4 < 0 ? subject.length : d4;
    if (end - d3 - 1 === symbol.length && subject.startsWith(symbol, d3 + 1)) return this.misfiled(subject, symbol);
    const token = subject.slice(d3 + 1, end);
    this.warnOncePerSubject(
      subject,
      { subject, symbol, token },
      "cluster mode: event refused (invalid): its symbol differs from its subject's symbol token, so it lands in another partition than the symbol's other events; publish on md.events.{type}.{SYMBOL} with the normalised symbol",
    );
    return `symbol ${symbol} differs from the subject's symbol token ${token}`;
  }

  /**
   * Why an event whose subject names its symbol is still in the wrong partition: a partition token
   * that is not its symbol's (published with the token by hand, bypassing the servers' mapping), so
   * its symbol's owner never sees it; or null.
   */
  private misfiled(subject: string, symbol: string): string | null {
    const k = partitionOfSubject(subject);
    const want = partitionOf(symbol, this.cluster.partitions);
    if (k === null || k === want) return null;
    this.warnOncePerSubject(
      subject,
      { subject, symbol, partition: k, symbol_partition: want },
      "cluster mode: event refused (invalid): its subject's partition token is not its symbol's partition, so the symbol's owner would never see it; publish on md.events.{type}.{SYMBOL} and let the servers' mapping add the token",
    );
    return `subject partition ${k} is not symbol ${symbol}'s partition ${want}`;
  }

  /** One warning per refused subject (at most {@link MAX_WARNED_SUBJECTS} subjects remembered). */
  private warnOncePerSubject(subject: string, fields: Record<string, unknown>, msg: string): void {
    if (this.warnedSubjects.has(subject) || this.warnedSubjects.size >= MAX_WARNED_SUBJECTS) return;
    this.warnedSubjects.add(subject);
    this.deps.log.warn(fields, msg);
  }

  // ---- lease handlers ------------------------------------------------------

  private acquired(k: number, info: AcquiredInfo): void {
    if (this.stopped) return;
    const prev = this.runs.get(k);
    if (prev !== undefined) {
      // taken again without a loss seen in between: the old run stops pulling before the new one starts
      end(prev);
      void retire(prev);
    }
    this.deps.metrics.rebalancesTotal++;
    this.deps.metrics.partitionsOwned = this.leases.owned().length;
    if (info.previousOwner !== null && info.previousOwner !== this.cluster.memberId) {
      const unownedS = info.unownedMs === null ? null : info.unownedMs / 1000;
      this.deps.alerts.raiseEvent(partitionMovedAlert(k, this.cluster.memberId, info.previousOwner, unownedS, this.cluster.leaseMs / 1000));
    }
    const run: PartitionRun = { partition: k, current: true, ending: new AbortController(), consuming: false, source: null, started: Promise.resolve() };
    this.runs.set(k, run);
    run.started = this.startPartition(run);
  }

  private async lost(k: number, reason: LostReason): Promise<void> {
    const run = this.runs.get(k);
    this.deps.metrics.rebalancesTotal++;
    if (run !== undefined) {
      // at once, before any await: the gate refuses its queued messages and its symbols' output
      end(run);
      this.runs.delete(k);
    }
    this.forgetPartition(k);
    this.deps.metrics.partitionsOwned = this.leases.owned().filter((p) => p !== k).length;
    this.deps.log.info({ partition: k, reason }, 'cluster: partition stopped');
    if (run !== undefined) await retire(run);
    // acquired again while the old run retired: the errors now shown are the new run's
    if (!this.runs.has(k)) this.deps.consumerStopped?.(`${this.config.jetstream.durable}-p${k}`);
  }

  /** Forgets the state of every symbol of partition k (the next owner rebuilds it from the stream). */
  private forgetPartition(k: number): void {
    const P = this.cluster.partitions;
    const gone: string[] = [];
    for (const symbol of this.deps.engine.symbols.keys()) if (partitionOf(symbol, P) === k) gone.push(symbol);
    this.deps.pipeline.forget(gone);
    this.coverage.delete(k);
  }

  /**
   * Warms partition k from the stream, then consumes its durable; retried while it stays ours.
   * Never rejects: when the run ends meanwhile (its `ending` aborts the replay) it just returns.
   */
  private async startPartition(run: PartitionRun): Promise<void> {
    const cfg = this.config;
    const k = run.partition;
    const signal = run.ending.signal;
    const durable = `${cfg.jetstream.durable}-p${k}`;
    let failures = 0;
    let warnedAt = Number.NEGATIVE_INFINITY;
    for (;;) {
      if (signal.aborted) return;
      const owned = Math.max(1, this.leases.owned().length);
      const source = new JetStreamSource(this.nc, {
        stream: cfg.jetstream.stream,
        durable: `${cfg.jetstream.durable}-p${k}`,
        subject: partitionedSubjectFilter(k),
        // the member's queue is shared by its partitions
        maxAckPending: Math.max(1, Math.floor(cfg.queueMaxSize / owned)),
        signal,
        ...(this.deps.isConnected !== undefined ? { isConnected: this.deps.isConnected } : {}),
      });
      run.source = source;
      try {
        await this.warm(run, source);
        if (signal.aborted) return;
        // admitted from the first delivery: a message skipped now would wait ack_wait for its redelivery
        run.consuming = true;
        await source.start((subject, data, ack) => this.deps.pipeline.offer(subject, data, ack), this.deps.consumerWatch?.(`${cfg.jetstream.durable}-p${k}`));
        if (signal.aborted) {
          await source.stop();
          return;
        }
        if (failures >= FAILS_BEFORE_DEGRADED) this.deps.startFailing?.(durable, null);
        this.deps.log.info({ partition: k, durable }, 'cluster: consuming partition');
        return;
      } catch (err) {
        run.consuming = false;
        await source.stop();
        if (signal.aborted) return; // ended meanwhile (the abort, or a request cut short): no failure
        failures++;
        const detail = startFailure(err, cfg.jetstream.stream);
        if (failures === FAILS_BEFORE_DEGRADED) this.deps.startFailing?.(durable, `partition ${k}: ${detail}`);
        const now = Date.now();
        if (now - warnedAt >= START_WARN_EVERY_MS) {
          // once a minute, not once a retry (every second, per partition)
          warnedAt = now;
          this.deps.log.warn({ partition: k, durable, reason: detail, failures }, 'cluster: starting a partition failed; retrying every second');
        }
        await sleep(RETRY_START_MS, undefined, { signal }).catch(() => undefined); // the abort ends the wait; the loop returns
      }
    }
  }

  /** The warm-up of SPEC §11 filtered to the partition; its lower bound is the partition's coverage start. */
  private async warm(run: PartitionRun, source: JetStreamSource): Promise<void> {
    const cfg = this.config;
    const k = run.partition;
    if (!cfg.warmup.enabled) {
      await source.ensureDurable();
      this.coverage.set(k, Date.now());
      return;
    }
    const progress: WarmupProgress = { startedMs: Date.now(), messages: 0 };
    this.warmups.add(progress);
    this.deps.quality.warming = true;
    try {
      const pipeline = this.deps.pipeline;
      // maxAge 0: the stream's retention is checked once, at start, not per partition
      await warmStart(source, 0, { stream: cfg.jetstream.stream, windowMs: cfg.windowMs, marginS: cfg.warmup.marginS }, {
        setCoverageStart: (ms) => {
          if (run.current) this.coverage.set(k, ms);
        },
        replay: (subject, data, tsMs, publishSignal) => (run.current ? pipeline.replay(subject, data, tsMs, publishSignal) : null),
        republish: (symbols) => {
          if (!run.current) return 0;
          pipeline.republish(symbols);
          return symbols.size;
        },
      }, progress, this.deps.log.child({ partition: k }));
      this.deps.quality.warmupSeconds = (Date.now() - progress.startedMs) / 1000;
    } catch (err) {
      if (run.ending.signal.aborted) {
        // not a failure (nothing is retried), but an operator should see that the replay stopped short
        this.deps.log.info(
          { partition: k, messages: progress.messages, seconds: (Date.now() - progress.startedMs) / 1000 },
          'cluster: partition warm-up stopped (the partition moved away or the member is stopping)',
        );
      }
      throw err;
    } finally {
      this.warmups.delete(progress);
      this.deps.quality.warming = this.warmups.size > 0;
    }
  }

  /**
   * Messages no member receives (SPEC §12): on unpartitioned `md.events.*.*`
   * subjects (the server has no partition mapping) or with a partition token
   * ≥ P (its mapping has another P). Warns with the fix.
   */
  private async checkSubjects(): Promise<void> {
    const P = this.cluster.partitions;
    try {
      const probe = new JetStreamSource(this.nc, { stream: this.config.jetstream.stream, durable: 'unused', subject: 'md.events.>', maxAckPending: 1 });
      const unpartitioned = Object.entries(await probe.subjectCounts(PARTITION_MAPPING_SOURCE));
      const mapped = Object.entries(await probe.subjectCounts(`${PARTITION_MAPPING_SOURCE}.*`)).filter(([s]) => (partitionOfSubject(s) ?? 0) >= P);
      const fix = `give every nats-server the mapping "${PARTITION_MAPPING_SOURCE}": "${partitionMappingDestination(P)}" (deploy/nats-cluster, docs/SCALING.md)`;
      if (unpartitioned.length > 0) {
        this.deps.log.warn(
          { subjects: unpartitioned.length, messages: unpartitioned.reduce((a, [, n]) => a + n, 0), examples: unpartitioned.slice(0, 5).map(([s]) => s) },
          `cluster mode: the stream holds unpartitioned md.events.*.* messages that no member receives; ${fix}`,
        );
      }
      if (mapped.length > 0) {
        this.deps.log.warn(
          { subjects: mapped.length, partitions: P, examples: mapped.slice(0, 5).map(([s]) => s) },
          `cluster mode: the stream holds messages with a partition token >= CLUSTER_PARTITIONS (${P}) that no member receives; ${fix}`,
        );
      }
    } catch (err) {
      this.deps.log.debug({ err }, 'cluster: checking the stream subjects failed');
    }
  }
}
