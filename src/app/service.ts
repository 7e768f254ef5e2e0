import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { NatsConnection } from '@nats-io/transport-node';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { consumerRestoredAlert, natsRestoredAlert } from '../alerts/alert-rules.js';
import { AlertThrottle } from '../alerts/alert-throttle.js';
import type { Config } from '../config/config.js';
import { MarketEngine } from '../engine/market-engine.js';
import { buildHttpApp } from '../http/app.js';
import type { HttpCounters } from '../http/http-counters.js';
import type { DashboardViews } from '../http/views.js';
import { CoreSource } from '../nats/core-source.js';
import { claimDurable } from '../nats/durable-claim.js';
import { checkClusterSettings } from '../cluster/settings-check.js';
import type { DurableClaim } from '../nats/durable-claim.js';
import { JetStreamSource, maxAckPendingFor } from '../nats/jetstream-source.js';
import type { Ackable, ConsumerWatch } from '../nats/jetstream-source.js';
import { LinkStatus } from '../nats/link-status.js';
import { connectWithRetry, natsOptions } from '../nats/nats-link.js';
import { NatsSink } from '../nats/nats-sink.js';
import type { WarmupProgress, WarmupTarget } from '../nats/warm-start.js';
import { warmStart } from '../nats/warm-start.js';
import { DataQualityMetrics } from '../obs/data-quality-metrics.js';
import { Telemetry } from '../obs/telemetry.js';
import type { OutputPort } from '../output/output-port.js';
import { FanOut, ForgetFanOut } from '../output/output-port.js';
import { ClusterMetrics } from '../obs/cluster-metrics.js';
import { ClusterMember } from './cluster-member.js';
import { JetStreamUnavailableError } from '../domain/errors.js';
import { within } from '../domain/within.js';
import type { InlineBudget } from './pipeline.js';
import { DEFAULT_INLINE_BUDGET, Pipeline, warnProviderBound } from './pipeline.js';
import { engineConfigOf, pipelineOptionsOf } from './engine-protocol.js';
import { EngineThread } from './engine-thread.js';

/** Attempts, a second apart, to read or create the stream at a cluster member's start. */
const STREAM_START_ATTEMPTS = 10;
/** Longest wait for NATS to flush at shutdown (it cannot while disconnected). */
const DRAIN_TIMEOUT_MS = 5000;
/**
 * Longest wait at shutdown for an interrupted start-up to give up: its waits
 * end at once, a request in flight within its own timeout (5 s).
 */
const START_ABANDON_TIMEOUT_MS = 10_000;

/**
 * The composition root of the live service (SPEC §1): builds the engine, the
 * pipeline, the outputs (NATS and whatever else is added), the NATS link and
 * source, and the HTTP API; starts and stops them in order. Wiring and
 * lifecycle only: each piece lives in the room its name says. `run` wires it
 * to the process; tests build it against a real nats-server.
 */
export class Service {
  readonly telemetry: Telemetry;
  readonly quality: DataQualityMetrics;
  readonly alerts: AlertThrottle;
  readonly engine: MarketEngine;
  readonly pipeline: Pipeline;
  readonly http: FastifyInstance;
  /** Every output goes here; NATS is the first sink, the dashboard stream and tests add theirs. */
  readonly output: FanOut;
  readonly link: LinkStatus;
  /** What the HTTP side reads (read-only ports). */
  readonly views: DashboardViews;
  private readonly natsSink: NatsSink;
  private nc: NatsConnection | null = null;
  private core: CoreSource | null = null;
  private jetstream: JetStreamSource | null = null;
  /** This instance's answer on its durable's subject (single-process JetStream mode, DECISIONS 90), or on the cluster members' subject (DECISIONS 94). */
  private durableClaim: DurableClaim | null = null;
  /**
   * Why JetStream durables are not delivering, by durable: they or their stream disappeared, a
   * partition cannot start, or (`silent`) nothing was heard from them for a while, cleared when heard.
   */
  private readonly consumerErrors = new Map<string, { readonly detail: string; readonly silent: boolean }>();
  private staleTimer: NodeJS.Timeout | null = null;
  private evictTimer: NodeJS.Timeout | null = null;
  /** Aborted by {@link stop} (and {@link crash}): start-up gives up at its next step, its waits end at once. */
  private readonly stopSignal = new AbortController();
  private get stopping(): boolean {
    return this.stopSignal.signal.aborted;
  }
  /** The start-up in flight (or done), settled either way: {@link stop} lets it give up before tearing down. */
  private startUp: Promise<void> = Promise.resolve();
  /** The warm-up in progress, for `/health`. */
  private warming: WarmupProgress | null = null;
  /** Cluster mode (SPEC §12): this process as a member, once connected; null otherwise. */
  cluster: ClusterMember | null = null;
  private readonly clusterMetrics: ClusterMetrics | null;
  /** The HTTP port bound by {@link listen}, null before. */
  private boundPort: number | null = null;
  /**
   * ENGINE_THREAD=worker: the engine thread and the I/O side of its ring;
   * null otherwise. In that mode `engine` and `pipeline` above stay idle (the
   * engine thread runs its own): read state through HTTP or this.
   */
  readonly engineThread: EngineThread | null;
  /** Resolves (never rejects) with the error if the engine thread dies: the service cannot go on (`run` exits 1). */
  readonly fatal: Promise<Error>;

  constructor(
    readonly config: Readonly<Config>,
    private readonly log: Logger,
    opts: {
      defaultMetrics?: boolean;
      extendHttp?: (app: FastifyInstance, views: DashboardViews, counters: HttpCounters) => void;
      /** Processing inside the NATS callback; null: always queue (benchmarks compare the two). */
      inline?: InlineBudget | null;
    } = {},
  ) {
    this.engine = new MarketEngine(engineConfigOf(config), 'live');
    let queueFill = () => 0;
    this.telemetry = new Telemetry(() => queueFill(), { defaultMetrics: opts.defaultMetrics ?? true, maxSymbolLabels: config.metricsMaxSymbols });
    this.quality = new DataQualityMetrics(this.telemetry.registry);
    this.natsSink = new NatsSink(log, (output) => this.telemetry.countPublishError(output));
    this.output = new FanOut((err) => log.error({ err }, 'an output sink failed')).add(this.natsSink);
    this.alerts = new AlertThrottle(config.alertCooldownMs, (a) => {
      this.telemetry.countAlert(a.kind, a.level);
      this.output.alert(a);
    });
    this.link = new LinkStatus(log, natsOptions(config.nats, 'senpai-md-consumer'), (up) => (this.telemetry.natsConnected = up));
    this.pipeline = new Pipeline(
      this.engine,
      this.telemetry,
      this.alerts,
      this.output,
      pipelineOptionsOf(config, opts.inline === undefined ? DEFAULT_INLINE_BUDGET : opts.inline),
      this.quality,
      (provider) => warnProviderBound(log, provider),
    );
    let fatal: (err: Error) => void = () => undefined;
    this.fatal = new Promise((resolve) => (fatal = resolve));
    const thread = config.engineThread === 'worker' ? new EngineThread({ config, telemetry: this.telemetry, quality: this.quality, alerts: this.alerts, output: this.output, log, failed: fatal }) : null;
    this.engineThread = thread;
    // eviction (either thread) and cluster mode's forgetting tell the dashboard which symbols went
    const forgets = new ForgetFanOut((err) => log.error({ err }, 'a listener of forgotten symbols failed'));
    this.pipeline.forgotten = forgets.tell;
    if (thread !== null) thread.forgotten = forgets.tell;
    queueFill = thread !== null ? () => thread.fillRatio : () => this.pipeline.queue.fillRatio;
    this.clusterMetrics = config.cluster === null ? null : new ClusterMetrics(this.telemetry.registry);
    this.views = {
      symbols: thread !== null ? { get size() { return thread.symbolCount; } } : this.engine.symbols,
      telemetry: this.telemetry,
      queue: thread ?? this.pipeline.queue,
      rules: config.rules,
      http: config.http,
      natsConnected: () => this.link.connected,
      providerLastSeen: () => thread?.providerLastSeen ?? this.pipeline.providerLastSeen,
      staleAfterMs: config.staleAfterMs,
      cluster: () => this.cluster?.view() ?? null,
      subscribe: (sink) => this.output.add(sink),
      onForgotten: (listener) => forgets.add(listener),
    };
    this.http = buildHttpApp({
      symbols: this.engine.symbols,
      symbolChanges: () => this.engine.symbolChanges,
      telemetry: this.telemetry,
      queue: thread ?? this.pipeline.queue,
      isNatsConnected: () => this.link.connected,
      http: config.http,
      lastBackpressureDropMs: () => (thread ?? this.pipeline).admissions.lastBackpressureDropMs,
      ...(thread !== null ? { engine: thread } : {}),
      natsError: () => this.link.error,
      consumerError: () => (this.consumerErrors.size === 0 ? null : Array.from(this.consumerErrors.values(), (e) => e.detail).join('; ')),
      warmup: () => {
        const w = this.warming ?? this.cluster?.warming() ?? null;
        return w === null ? null : { messages: w.messages, elapsed_s: (Date.now() - w.startedMs) / 1000 };
      },
      ...(config.cluster !== null ? { cluster: () => this.cluster } : {}),
      log: this.log,
      ...(opts.extendHttp !== undefined ? { extend: (app: FastifyInstance, counters: HttpCounters) => opts.extendHttp!(app, this.views, counters) } : {}),
    });
  }

  get natsConnected(): boolean {
    return this.link.connected;
  }

  /** Adds an output sink (the dashboard stream, a test collector). */
  addOutput(sink: OutputPort): void {
    this.output.add(sink);
  }

  /** Starts the HTTP API on the configured host and port; returns the bound port. */
  async listen(): Promise<number> {
    await this.http.listen({ host: this.config.http.host, port: this.config.http.port });
    const addr = this.http.server.address();
    this.boundPort = typeof addr === 'object' && addr !== null ? addr.port : this.config.http.port;
    return this.boundPort;
  }

  /**
   * Connects to NATS (retrying for ever, each failure logged with its reason),
   * warms the windows from the stream in JetStream mode, then consumes.
   * Throws {@link JetStreamUnavailableError} when JetStream is asked for but
   * missing. A {@link stop} during any step ends start-up there: it resolves,
   * nothing more is opened, and whatever failed because of the stop (a request
   * on the draining connection) is no error.
   */
  async start(): Promise<void> {
    const run = this.startSteps();
    this.startUp = run.then(
      () => undefined,
      () => undefined,
    );
    try {
      await run;
    } catch (err) {
      if (!this.stopping) throw err;
      this.log.info({ reason: err instanceof Error ? err.message : String(err) }, 'start-up abandoned: stopping');
    }
  }

  /** Throws (the abort) once {@link stop} has begun: no step of start-up runs after it. */
  private checkpoint(): void {
    this.stopSignal.signal.throwIfAborted();
  }

  private async startSteps(): Promise<void> {
    const cfg = this.config;
    const signal = this.stopSignal.signal;
    this.checkpoint();
    this.log.info({ servers: cfg.nats.servers }, 'connecting to NATS');
    const nc = await connectWithRetry(natsOptions(cfg.nats, 'senpai-md-consumer'), { failed: (r, n, wait) => this.link.attemptFailed(r, n, wait) }, signal);
    if (nc === null) return; // stopped while waiting
    this.nc = nc;
    // warming from the moment the connection is up, so /health never says ok before the windows are rebuilt
    if (cfg.jetstream.enabled && cfg.warmup.enabled && cfg.cluster === null) this.beginWarming();
    this.natsSink.attach(nc);
    const thread = this.engineThread;
    // the callback: admission, then the engine on this thread or the ring to the engine thread
    const offer: (subject: string, data: Uint8Array, ack: Ackable | null) => void =
      thread !== null ? (subject, data, ack) => thread.offer(subject, data, ack) : (subject, data, ack) => this.pipeline.offer(subject, data, ack);
    this.link.follow(nc, {
      disconnected: () => undefined,
      reconnected: (seconds) => {
        this.alerts.raise(natsRestoredAlert(seconds));
        // core mode: what was published meanwhile is lost, so coverage restarts after the gap (SPEC §11)
        if (!cfg.jetstream.enabled) {
          (this.engineThread ?? this.pipeline).coverageLost();
        }
      },
    });
    if (cfg.cluster !== null) {
      await this.startCluster(nc); // its last step is a checkpoint
    } else if (cfg.jetstream.enabled) {
      const maxAckPending = maxAckPendingFor(cfg.queueMaxSize);
      const isConnected = () => this.link.connected;
      const js = new JetStreamSource(nc, { stream: cfg.jetstream.stream, durable: cfg.jetstream.durable, subject: cfg.nats.subject, maxAckPending, signal, isConnected });
      const maxAgeMs = await js.ensureStream();
      this.checkpoint();
      // one instance per durable (DECISIONS 90), asked before the warm-up spends anything
      const me = { instance: `${hostname()}:${process.pid}:${randomUUID()}`, host: hostname(), pid: process.pid, http_url: this.advertisedUrl(), started_ms: Date.now() };
      this.durableClaim = await claimDurable(nc, cfg.jetstream.stream, cfg.jetstream.durable, me, this.log);
      this.checkpoint();
      if (cfg.warmup.enabled) await this.warmUp(js, maxAgeMs);
      else await js.ensureDurable();
      this.checkpoint();
      this.jetstream = js; // before the pull loop starts: stop() ends it even if the next step is abandoned
      await js.start(offer, this.consumerWatch(cfg.jetstream.durable));
      this.checkpoint();
      this.log.info({ stream: cfg.jetstream.stream, durable: cfg.jetstream.durable, max_ack_pending: maxAckPending }, 'consuming from JetStream');
    } else {
      this.core = new CoreSource(nc, cfg.nats.subject);
      await this.core.start((subject, data) => offer(subject, data, null));
      this.checkpoint();
      this.log.info({ subject: cfg.nats.subject }, 'subscribed');
    }
    this.staleTimer = setInterval(() => {
      // cluster mode: only the owner of the heartbeats' partition speaks for the providers (SPEC §12)
      if (!this.link.connected || (this.cluster !== null && !this.cluster.ownsProviderAlerts())) return;
      if (thread !== null) thread.checkStale(Date.now(), cfg.staleAfterMs).catch(() => undefined); // a failed thread is reported once, by itself
      else this.pipeline.checkStale(Date.now(), cfg.staleAfterMs);
    }, 1000);
    this.staleTimer.unref();
    this.evictTimer = setInterval(() => this.evictIdle(), Math.max(1000, Math.min(60_000, cfg.symbolIdleEvictMs / 10)));
    this.evictTimer.unref();
  }

  /**
   * Cluster mode (SPEC §12): the stream is ensured once, then the member
   * joins the group; each partition it is given is warmed and consumed on its
   * own durable.
   */
  private async startCluster(nc: NatsConnection): Promise<void> {
    const cfg = this.config;
    const js = new JetStreamSource(nc, { stream: cfg.jetstream.stream, durable: cfg.jetstream.durable, subject: cfg.nats.subject, maxAckPending: cfg.queueMaxSize, replicas: 3, signal: this.stopSignal.signal });
    // members starting together race to create the replicated stream; a cluster electing its leaders times out
    let maxAgeMs = 0;
    for (let attempt = 1; ; attempt++) {
      try {
        maxAgeMs = await js.ensureStream();
        break;
      } catch (err) {
        if (err instanceof JetStreamUnavailableError || attempt >= STREAM_START_ATTEMPTS || this.stopping) throw err;
        this.log.warn({ err, attempt }, 'cluster: the stream could not be read or created yet; retrying');
        await sleep(1000, undefined, { signal: this.stopSignal.signal }); // rejects with the abort
      }
    }
    this.checkpoint();
    const historyMs = cfg.windowMs + cfg.warmup.marginS * 1000;
    if (cfg.warmup.enabled && maxAgeMs > 0 && maxAgeMs < historyMs) {
      this.log.warn({ stream: cfg.jetstream.stream, max_age_s: maxAgeMs / 1000, needed_s: historyMs / 1000 }, 'the stream keeps less history than the window plus WARMUP_MARGIN_S: features stay cold for longer after a takeover');
    }
    // members of one group share its settings (DECISIONS 94), asked before this one takes any lease
    const c = cfg.cluster!;
    this.durableClaim = await checkClusterSettings(
      nc,
      {
        member: c.memberId,
        instance: `${hostname()}:${process.pid}:${randomUUID()}`,
        host: hostname(),
        pid: process.pid,
        http_url: this.advertisedUrl(),
        started_ms: Date.now(),
        stream: cfg.jetstream.stream,
        durable: cfg.jetstream.durable,
        bucket: c.bucket,
        partitions: c.partitions,
        lease_ms: c.leaseMs,
      },
      this.log,
    );
    this.checkpoint();
    const member = new ClusterMember(nc, cfg, {
      engine: this.engine,
      pipeline: this.pipeline,
      alerts: this.alerts,
      quality: this.quality,
      metrics: this.clusterMetrics!,
      log: this.log,
      httpUrl: this.advertisedUrl(),
      replicas: js.replicas,
      isConnected: () => this.link.connected,
      consumerWatch: (durable) => this.consumerWatch(durable),
      consumerStopped: (durable) => this.consumerErrors.delete(durable),
      startFailing: (durable, detail) => (detail === null ? this.consumerErrors.delete(durable) : this.consumerErrors.set(durable, { detail, silent: false })),
    });
    this.pipeline.gate = member;
    this.cluster = member;
    await member.start(this.stopSignal.signal);
    this.checkpoint();
    this.log.info({ member: cfg.cluster!.memberId, partitions: cfg.cluster!.partitions, owned: member.owned() }, 'cluster member started');
  }

  /**
   * `CLUSTER_ADVERTISE_URL` as set (cluster mode), else `http://{HTTP_HOST}:{port}` on the port
   * {@link listen} bound (HTTP_PORT=0 included), the machine's name standing for
   * a wildcard host.
   */
  private advertisedUrl(): string {
    const set = this.config.cluster?.advertiseUrl ?? null;
    if (set !== null) return set;
    const host = this.config.http.host === '0.0.0.0' || this.config.http.host === '::' ? hostname() : this.config.http.host;
    return `http://${host.includes(':') ? `[${host}]` : host}:${this.boundPort ?? this.config.http.port}`;
  }

  /**
   * Test hook: what `kill -9` of this process looks like to the others — timers
   * stop, no lease is released, nothing is drained or acknowledged, the NATS
   * connection is closed at once.
   */
  async crash(): Promise<void> {
    this.stopSignal.abort();
    if (this.staleTimer !== null) clearInterval(this.staleTimer);
    if (this.evictTimer !== null) clearInterval(this.evictTimer);
    this.cluster?.crash();
    await this.engineThread?.terminate();
    this.pipeline.gate = { admits: () => false, publishes: () => false, misplaced: () => null };
    this.pipeline.features.flush();
    await this.nc?.close().catch(() => undefined);
    this.link.closed();
    await this.http.close();
  }

  /**
   * What the service does when its durable or stream disappears under it
   * (DECISIONS 88): `/health` says so (503, `jetstream`) while the source
   * recreates them; a `nats` alert says for how long once it is back, and
   * coverage restarts when events may have been lost meanwhile.
   */
  private consumerWatch(durable: string): ConsumerWatch {
    // a new source for this durable (a partition acquired again): the old one's silence is not its own
    if (this.consumerErrors.get(durable)?.silent === true) this.consumerErrors.delete(durable);
    return {
      lost: (trouble) => {
        this.consumerErrors.set(durable, { detail: trouble.detail, silent: false });
        this.log.warn({ durable, kind: trouble.kind, detail: trouble.detail }, 'JetStream consumer lost: nothing is consumed until the stream and the durable exist again; recreating them');
      },
      silent: (detail) => {
        const shown = this.consumerErrors.get(durable);
        if (shown?.silent === false) return; // a worse trouble is shown
        if (shown === undefined) this.log.warn({ durable, detail }, 'JetStream durable silent: nothing is delivered until it is heard again');
        this.consumerErrors.set(durable, { detail, silent: true });
      },
      heard: () => {
        if (this.consumerErrors.get(durable)?.silent !== true) return;
        this.consumerErrors.delete(durable);
        this.log.info({ durable }, 'JetStream durable heard again: consuming');
      },
      restored: ({ downMs, recreated, gap, startSeq }) => {
        this.consumerErrors.delete(durable);
        if (!recreated) {
          // it was there all along (JetStream did not answer for a while): nothing was missed
          this.log.info({ durable, down_s: downMs / 1000 }, 'JetStream consumer answers again: consuming');
          return;
        }
        if (gap) (this.engineThread ?? this.pipeline).coverageLost();
        this.alerts.raise(consumerRestoredAlert(durable, downMs / 1000, gap));
        this.log.warn({ durable, down_s: downMs / 1000, start_seq: startSeq, events_may_be_lost: gap }, 'JetStream consumer recreated: consuming again');
      },
    };
  }

  /** The JetStream warm start (SPEC §11), with its gauges and `/health` progress. */
  private beginWarming(): WarmupProgress {
    const progress: WarmupProgress = { startedMs: Date.now(), messages: 0 };
    this.warming = progress;
    this.quality.warming = true;
    return progress;
  }

  private async warmUp(js: JetStreamSource, maxAgeMs: number): Promise<void> {
    const cfg = this.config;
    const progress = this.warming ?? this.beginWarming();
    try {
      const thread = this.engineThread;
      // ENGINE_THREAD=worker: the replay goes through the ring like live messages, in order; the
      // engine thread keeps the symbols to republish itself
      const target: WarmupTarget =
        thread !== null
          ? {
              setCoverageStart: (ms) => thread.setCoverageStart(ms),
              replay: (subject, data, tsMs, publishSignal) => {
                thread.replay(subject, data, tsMs, publishSignal);
                return null;
              },
              republish: () => {
                thread.republish();
                return null; // the engine thread knows which symbols
              },
            }
          : {
              setCoverageStart: (ms) => this.engine.setCoverageStart(ms),
              replay: (subject, data, tsMs, publishSignal) => this.pipeline.replay(subject, data, tsMs, publishSignal),
              republish: (symbols) => {
                this.pipeline.republish(symbols);
                return symbols.size;
              },
            };
      await warmStart(js, maxAgeMs, { stream: cfg.jetstream.stream, windowMs: cfg.windowMs, marginS: cfg.warmup.marginS }, target, progress, this.log);
      // healthy only once the engine thread has rebuilt the windows, not once the replay is handed over
      if (thread !== null) await thread.idle();
      this.checkpoint();
      this.quality.warmupSeconds = (Date.now() - progress.startedMs) / 1000;
    } finally {
      this.warming = null;
      this.quality.warming = false;
    }
  }

  /** Forgets symbols idle for SYMBOL_IDLE_EVICT_S (SPEC §3). */
  private evictIdle(): void {
    const logEvicted = (evicted: string[]) => {
      if (evicted.length > 0) this.log.info({ count: evicted.length, symbols: evicted.slice(0, 20) }, 'idle symbols forgotten');
    };
    const thread = this.engineThread;
    if (thread !== null) thread.evictIdle(Date.now(), this.config.symbolIdleEvictMs).then(logEvicted, () => undefined);
    else logEvicted(this.pipeline.evictIdle(Date.now(), this.config.symbolIdleEvictMs));
  }

  /**
   * Graceful stop (SIGINT/SIGTERM): stop consuming, process what is queued,
   * publish pending trailing edges, drain NATS (flushing publishes), close HTTP.
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopSignal.abort();
    // an interrupted start-up gives up first: draining under it would fail its requests
    const abandoned = await within(this.startUp.then(() => true), START_ABANDON_TIMEOUT_MS, false);
    if (!abandoned) this.log.warn('start-up did not give up in time; stopping anyway');
    if (this.staleTimer !== null) clearInterval(this.staleTimer);
    if (this.evictTimer !== null) clearInterval(this.evictTimer);
    if (this.cluster !== null) await this.cluster.stop();
    if (this.jetstream !== null) await this.jetstream.stop();
    this.durableClaim?.release();
    if (this.core !== null) await this.core.stop();
    if (this.engineThread !== null) {
      await this.engineThread.idle();
      await this.engineThread.stop(); // trailing edges published, then the thread ends
    } else {
      await this.pipeline.idle();
      this.pipeline.features.flush();
    }
    const nc = this.nc;
    if (nc !== null && !nc.isClosed()) {
      // drain flushes every pending publish; while NATS is down it cannot, so it is bounded
      const result = await within(nc.drain().then(() => 'drained' as const, (err: unknown) => err), DRAIN_TIMEOUT_MS, 'timeout' as const);
      if (result !== 'drained') {
        this.log.warn({ err: result === 'timeout' ? undefined : result }, result === 'timeout' ? 'NATS drain timed out; closing' : 'NATS drain failed; closing');
        await nc.close().catch(() => undefined);
      }
    }
    this.link.closed();
    await this.http.close();
  }
}
