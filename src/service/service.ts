import type { NatsConnection, NodeConnectionOptions, Subscription } from '@nats-io/transport-node';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import type { Alert, FeatureSnapshot, Signal } from '../domain/features.js';
import { MarketEngine } from '../engine/market-engine.js';
import { buildHttpApp } from '../http/app.js';
import { JetStreamSource } from '../nats/jetstream-source.js';
import { backoffMs, connectionFailureReason, connectWithRetry, natsOptions, probeConnection } from '../nats/nats-link.js';
import { DataQualityMetrics } from '../obs/data-quality-metrics.js';
import { Telemetry } from '../obs/telemetry.js';
import { natsRestoredAlert } from '../alerts/alert-rules.js';
import { AlertThrottle } from '../alerts/alert-throttle.js';
import type { SymbolState } from '../state/symbol-state.js';
import { Pipeline } from './pipeline.js';

/** Observers of the output, besides NATS (the dashboard stream). */
export interface OutputListener {
  features?(f: FeatureSnapshot): void;
  signal?(s: Signal): void;
  alert?(a: Alert): void;
}

const SUBJECT_FEATURES = 'senpai.features.';
const SUBJECT_SIGNALS = 'senpai.signals.';
const SUBJECT_ALERTS = 'senpai.alerts';
/** Longest wait for NATS to flush at shutdown (it cannot while disconnected). */
const DRAIN_TIMEOUT_MS = 5000;

/**
 * The running service (SPEC §1): NATS source → pipeline → NATS publisher, the
 * HTTP API, alerts and lifecycle. `main` wires it to the process; tests build
 * it directly against a real nats-server.
 */
export class Service {
  readonly telemetry: Telemetry;
  readonly quality: DataQualityMetrics;
  readonly alerts: AlertThrottle;
  readonly engine: MarketEngine;
  readonly pipeline: Pipeline;
  readonly http: FastifyInstance;
  private nc: NatsConnection | null = null;
  private subscription: Subscription | null = null;
  private jetstream: JetStreamSource | null = null;
  private connected = false;
  private disconnectedAt: number | null = null;
  private staleTimer: NodeJS.Timeout | null = null;
  private evictTimer: NodeJS.Timeout | null = null;
  private readonly listeners: OutputListener[] = [];
  private stopping = false;
  /** Why NATS is not connected (never with credentials), for `/health` and the logs. */
  private natsError: string | null = null;
  /** The warm-up in progress: its start (epoch ms) and messages replayed so far. */
  private warming: { startedMs: number; messages: number } | null = null;

  constructor(
    readonly config: Readonly<Config>,
    private readonly log: Logger,
    opts: { defaultMetrics?: boolean; extendHttp?: (app: FastifyInstance, service: Service) => void } = {},
  ) {
    this.engine = new MarketEngine(
      { windowMs: config.windowMs, maxSymbols: config.maxSymbols, maxFutureSkewMs: config.maxFutureSkewMs, rules: config.rules },
      'live',
    );
    this.alerts = new AlertThrottle(config.alertCooldownMs, (a) => this.publishAlert(a));
    let queueFill = () => 0;
    this.telemetry = new Telemetry(() => queueFill(), { defaultMetrics: opts.defaultMetrics ?? true });
    this.quality = new DataQualityMetrics(this.telemetry.registry);
    this.pipeline = new Pipeline(
      this.engine,
      this.telemetry,
      this.alerts,
      { features: (f) => this.publishFeatures(f), signal: (s) => this.publishSignal(s) },
      {
        queueCapacity: config.queueMaxSize,
        queueMaxBytes: config.queueMaxBytes,
        signalMaxAgeMs: config.signalMaxAgeMs,
        dropOnBackpressure: !config.jetstream.enabled,
        featuresPubRateHz: config.featuresPubRateHz,
        latencyAlertMs: config.latencyAlertMs,
        maxSymbols: config.maxSymbols,
      },
      this.quality,
    );
    queueFill = () => this.pipeline.queue.fillRatio;
    this.http = buildHttpApp({
      engine: this.engine,
      telemetry: this.telemetry,
      queue: this.pipeline.queue,
      isNatsConnected: () => this.connected,
      natsError: () => this.natsError,
      warmup: () => (this.warming === null ? null : { messages: this.warming.messages, elapsed_s: (Date.now() - this.warming.startedMs) / 1000 }),
      log: this.log,
      ...(opts.extendHttp !== undefined ? { extend: (app: FastifyInstance) => opts.extendHttp!(app, this) } : {}),
    });
  }

  get natsConnected(): boolean {
    return this.connected;
  }

  addListener(l: OutputListener): void {
    this.listeners.push(l);
  }

  /** Starts the HTTP API on the configured host and port; returns the bound port. */
  async listen(): Promise<number> {
    await this.http.listen({ host: this.config.http.host, port: this.config.http.port });
    const addr = this.http.server.address();
    return typeof addr === 'object' && addr !== null ? addr.port : this.config.http.port;
  }

  /**
   * Connects to NATS (retrying for ever, each failure logged with its reason),
   * warms the windows from the stream in JetStream mode, then consumes.
   * Throws {@link JetStreamUnavailableError} when JetStream is asked for but
   * missing.
   */
  async start(): Promise<void> {
    const cfg = this.config;
    this.natsError = 'not connected yet';
    this.log.info({ servers: cfg.nats.servers }, 'connecting to NATS');
    const options = natsOptions(cfg.nats, 'senpai-md-consumer');
    const nc = await connectWithRetry(
      options,
      {
        failed: (reason, attempt, retryInMs) => {
          this.natsError = reason;
          this.log.warn({ servers: cfg.nats.servers, reason, attempt, retry_in_s: Math.round(retryInMs / 100) / 10 }, `cannot connect to NATS: ${reason}`);
        },
      },
      () => this.stopping,
    );
    if (nc === null) return; // stopped while waiting
    this.nc = nc;
    this.natsError = null;
    this.setConnected(true);
    this.log.info({ server: nc.getServer() }, 'connected to NATS');
    void this.watchStatus(nc, options);
    if (cfg.jetstream.enabled) {
      const js = new JetStreamSource(nc, {
        stream: cfg.jetstream.stream,
        durable: cfg.jetstream.durable,
        subject: cfg.nats.subject,
        maxAckPending: cfg.queueMaxSize,
      });
      const maxAgeMs = await js.ensureStream();
      if (cfg.warmup.enabled) await this.warmUp(js, maxAgeMs);
      else await js.ensureDurable();
      if (this.stopping) return;
      await js.start((subject, data, ack) => this.pipeline.offer(subject, data, ack));
      this.jetstream = js;
      this.log.info({ stream: cfg.jetstream.stream, durable: cfg.jetstream.durable }, 'consuming from JetStream');
    } else {
      this.subscription = nc.subscribe(cfg.nats.subject, {
        callback: (err, msg) => {
          if (err === null) this.pipeline.offer(msg.subject, msg.data, null);
        },
      });
      await nc.flush(); // the server has the subscription once start() resolves
      this.log.info({ subject: cfg.nats.subject }, 'subscribed');
    }
    this.staleTimer = setInterval(() => {
      if (this.connected) this.pipeline.checkStale(Date.now(), cfg.staleAfterMs);
    }, 1000);
    this.staleTimer.unref();
    this.evictTimer = setInterval(() => this.evictIdle(), Math.max(1000, Math.min(60_000, cfg.symbolIdleEvictMs / 10)));
    this.evictTimer.unref();
  }

  /**
   * Rebuilds the windows and latest state from the stream (SPEC §11): from
   * `now − (W + margin)` (or the oldest stored message, when later) up to the
   * durable's last delivered message, with stream timestamps as receive
   * times; nothing is published but the signals of messages above the ack
   * floor.
   */
  private async warmUp(js: JetStreamSource, maxAgeMs: number): Promise<void> {
    const cfg = this.config;
    const startedMs = Date.now();
    const historyMs = cfg.windowMs + cfg.warmup.marginS * 1000;
    if (maxAgeMs > 0 && maxAgeMs < historyMs) {
      this.log.warn(
        { stream: cfg.jetstream.stream, max_age_s: maxAgeMs / 1000, needed_s: historyMs / 1000 },
        'the stream keeps less history than the window plus WARMUP_MARGIN_S: features stay cold for longer after a restart',
      );
    }
    this.warming = { startedMs, messages: 0 };
    this.quality.warming = true;
    try {
      const plan = await js.plan();
      const fromMs = startedMs - historyMs;
      // a stream that holds less history cannot vouch for more; an empty one for nothing before now
      this.engine.setCoverageStart(Number.isNaN(plan.firstTsMs) ? startedMs : Math.max(fromMs, plan.firstTsMs));
      const warming = this.warming;
      const dropped = () => [...this.quality.warmupDropped.values()].reduce((a, b) => a + b, 0);
      const droppedBefore = dropped();
      // symbols whose messages the failed process may not have finished: their features go out once warm
      const unfinished = new Set<SymbolState>();
      const count = await js.replay(plan, fromMs, (subject, data, tsMs, seq) => {
        warming.messages++;
        const s = this.pipeline.replay(subject, data, tsMs, seq > plan.ackFloor);
        if (s !== null && seq > plan.ackFloor) unfinished.add(s);
      });
      for (const s of unfinished) if (this.engine.symbols.get(s.symbol) === s) this.pipeline.features.touch(s);
      const seconds = (Date.now() - startedMs) / 1000;
      this.quality.warmupSeconds = seconds;
      this.log.info(
        { messages: count, rejected: dropped() - droppedBefore, symbols: this.engine.symbols.size, seconds, up_to_seq: plan.lastSeq, ack_floor: plan.ackFloor },
        'warm-up done: windows rebuilt from the stream',
      );
    } finally {
      this.warming = null;
      this.quality.warming = false;
    }
  }

  /** Forgets symbols idle for SYMBOL_IDLE_EVICT_S (SPEC §3). */
  private evictIdle(): void {
    const evicted = this.pipeline.evictIdle(Date.now(), this.config.symbolIdleEvictMs);
    if (evicted.length > 0) {
      this.log.info({ count: evicted.length, symbols: evicted.slice(0, 20) }, 'idle symbols forgotten');
    }
  }

  /**
   * Graceful stop (SIGINT/SIGTERM): stop consuming, process what is queued,
   * publish pending trailing edges, drain NATS (flushing publishes), close HTTP.
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.staleTimer !== null) clearInterval(this.staleTimer);
    if (this.evictTimer !== null) clearInterval(this.evictTimer);
    if (this.jetstream !== null) await this.jetstream.stop();
    if (this.subscription !== null) {
      await this.subscription.drain().catch(() => undefined);
    }
    await this.pipeline.idle();
    this.pipeline.features.flush();
    const nc = this.nc;
    if (nc !== null && !nc.isClosed()) {
      // drain flushes every pending publish; while NATS is down it cannot, so it is bounded
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), DRAIN_TIMEOUT_MS)));
      const result = await Promise.race([nc.drain().then(() => 'drained' as const, (err: unknown) => err), timedOut]);
      clearTimeout(timer);
      if (result !== 'drained') {
        this.log.warn({ err: result === 'timeout' ? undefined : result }, result === 'timeout' ? 'NATS drain timed out; closing' : 'NATS drain failed; closing');
        await nc.close().catch(() => undefined);
      }
    }
    this.setConnected(false);
    await this.http.close();
  }

  private setConnected(up: boolean): void {
    this.connected = up;
    this.telemetry.natsConnected = up;
  }

  private async watchStatus(nc: NatsConnection, options: NodeConnectionOptions): Promise<void> {
    for await (const s of nc.status()) {
      switch (s.type) {
        case 'disconnect':
          if (this.connected) {
            this.disconnectedAt = Date.now();
            this.setConnected(false);
            this.natsError = 'disconnected; reconnecting';
            this.log.warn({ server: s.server }, 'NATS disconnected; reconnecting');
            void this.diagnoseWhileDisconnected(nc, options);
          }
          break;
        case 'reconnect': {
          this.setConnected(true);
          this.natsError = null;
          const seconds = this.disconnectedAt === null ? 0 : (Date.now() - this.disconnectedAt) / 1000;
          this.disconnectedAt = null;
          this.log.info({ server: s.server, seconds }, 'NATS reconnected');
          this.alerts.raise(natsRestoredAlert(seconds));
          // core mode: what was published meanwhile is lost, so coverage restarts after the gap (SPEC §11)
          if (!this.config.jetstream.enabled) void this.pipeline.idle().then(() => this.engine.coverageLost());
          break;
        }
        case 'error':
          // the server's own words (an authorization violation, a permission error)
          if (!this.connected) this.natsError = connectionFailureReason(s.error);
          this.log.warn({ reason: connectionFailureReason(s.error) }, 'NATS error');
          break;
        case 'slowConsumer':
          this.log.warn({ pending: s.pending }, 'NATS slow consumer');
          break;
        default:
          break;
      }
    }
  }

  /**
   * nats.js reconnects on its own but keeps a failed dial's reason to itself:
   * while the connection is down, a probe dials with backoff to learn it, and
   * each failure is logged and shown in `/health`.
   */
  private async diagnoseWhileDisconnected(nc: NatsConnection, options: NodeConnectionOptions): Promise<void> {
    for (let attempt = 0; !this.connected && !this.stopping && !nc.isClosed(); attempt++) {
      const wait = backoffMs(attempt);
      await new Promise((r) => setTimeout(r, attempt === 0 ? 1000 : wait));
      if (this.connected || this.stopping || nc.isClosed()) return;
      const reason = await probeConnection(options);
      if (reason === null || this.connected) continue;
      this.natsError = reason;
      this.log.warn({ reason, attempt: attempt + 1, retry_in_s: Math.round(wait / 100) / 10 }, `NATS still unreachable: ${reason}`);
    }
  }

  private publish(subject: string, body: string): void {
    const nc = this.nc;
    if (nc === null || nc.isClosed()) {
      this.telemetry.publishErrorsTotal++;
      return;
    }
    try {
      nc.publish(subject, body);
    } catch (err) {
      this.telemetry.publishErrorsTotal++;
      this.log.warn({ err, subject }, 'publish failed');
    }
  }

  private publishFeatures(f: FeatureSnapshot): void {
    this.publish(SUBJECT_FEATURES + f.symbol, JSON.stringify(f));
    for (const l of this.listeners) l.features?.(f);
  }

  private publishSignal(s: Signal): void {
    this.publish(SUBJECT_SIGNALS + s.symbol, JSON.stringify(s));
    this.log.info({ symbol: s.symbol, direction: s.direction, return_10s: s.return_10s }, 'signal');
    for (const l of this.listeners) l.signal?.(s);
  }

  private publishAlert(a: Alert): void {
    this.publish(SUBJECT_ALERTS, JSON.stringify(a));
    this.log.warn({ alert: a }, `alert ${a.kind}: ${a.message}`);
    for (const l of this.listeners) l.alert?.(a);
  }
}
