import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import type { Alert, FeatureSnapshot, Signal } from '../domain/features.js';
import { MarketEngine } from '../engine/market-engine.js';
import { buildHttpApp } from '../http/app.js';
import type { HttpCounters } from '../http/http-counters.js';
import { JetStreamSource } from '../ingest/jetstream-source.js';
import { connectNats } from '../ingest/nats-connection.js';
import type { PublishOutput } from '../obs/telemetry.js';
import { Telemetry } from '../obs/telemetry.js';
import { AlertManager } from '../publish/alerts.js';
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
  readonly alerts: AlertManager;
  readonly engine: MarketEngine;
  readonly pipeline: Pipeline;
  readonly http: FastifyInstance;
  private nc: NatsConnection | null = null;
  private subscription: Subscription | null = null;
  private jetstream: JetStreamSource | null = null;
  private connected = false;
  private disconnectedAt: number | null = null;
  private staleTimer: NodeJS.Timeout | null = null;
  private readonly listeners: OutputListener[] = [];
  private stopping = false;

  constructor(
    readonly config: Readonly<Config>,
    private readonly log: Logger,
    opts: { defaultMetrics?: boolean; extendHttp?: (app: FastifyInstance, service: Service, counters: HttpCounters) => void } = {},
  ) {
    this.engine = new MarketEngine(
      { windowMs: config.windowMs, maxSymbols: config.maxSymbols, maxFutureSkewMs: config.maxFutureSkewMs, rules: config.rules },
      'live',
    );
    this.alerts = new AlertManager(config.alertCooldownMs);
    let queueFill = () => 0;
    this.telemetry = new Telemetry(() => queueFill(), { defaultMetrics: opts.defaultMetrics ?? true, maxSymbolLabels: config.metricsMaxSymbols });
    this.pipeline = new Pipeline(
      this.engine,
      this.telemetry,
      this.alerts,
      { features: (f) => this.publishFeatures(f), signal: (s) => this.publishSignal(s) },
      {
        queueCapacity: config.queueMaxSize,
        dropOnBackpressure: !config.jetstream.enabled,
        featuresPubRateHz: config.featuresPubRateHz,
        latencyAlertMs: config.latencyAlertMs,
        maxSymbols: config.maxSymbols,
      },
    );
    queueFill = () => this.pipeline.queue.fillRatio;
    this.alerts.subscribe((a) => {
      this.telemetry.countAlert(a.kind, a.level);
      this.publishAlert(a);
    });
    this.http = buildHttpApp({
      engine: this.engine,
      telemetry: this.telemetry,
      queue: this.pipeline.queue,
      isNatsConnected: () => this.connected,
      http: config.http,
      lastBackpressureDropMs: () => this.pipeline.lastBackpressureDropMs,
      log: this.log,
      ...(opts.extendHttp !== undefined ? { extend: (app: FastifyInstance, counters: HttpCounters) => opts.extendHttp!(app, this, counters) } : {}),
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
   * Connects to NATS (waiting for the first connection), then consumes. Throws
   * {@link JetStreamUnavailableError} when JetStream is asked for but missing.
   */
  async start(): Promise<void> {
    const cfg = this.config;
    this.log.info({ servers: cfg.nats.servers }, 'connecting to NATS');
    const nc = await connectNats(cfg.nats, 'senpai-md-consumer');
    this.nc = nc;
    this.setConnected(true);
    void this.watchStatus(nc);
    if (cfg.jetstream.enabled) {
      const js = new JetStreamSource(nc, {
        stream: cfg.jetstream.stream,
        durable: cfg.jetstream.durable,
        subject: cfg.nats.subject,
        maxAckPending: cfg.queueMaxSize,
      });
      await js.ensure();
      await js.start((subject, data, ack) => this.pipeline.offer(subject, data, ack));
      this.jetstream = js;
      this.log.info({ stream: cfg.jetstream.stream, durable: cfg.jetstream.durable }, 'consuming from JetStream');
    } else {
      this.subscription = nc.subscribe(cfg.nats.subject, {
        ...(cfg.nats.queueGroup !== undefined ? { queue: cfg.nats.queueGroup } : {}),
        callback: (err, msg) => {
          if (err === null) this.pipeline.offer(msg.subject, msg.data, null);
        },
      });
      this.log.info({ subject: cfg.nats.subject, queue: cfg.nats.queueGroup ?? null }, 'subscribed');
    }
    this.staleTimer = setInterval(() => {
      if (this.connected) this.pipeline.checkStale(Date.now(), cfg.staleAfterMs);
    }, 1000);
    this.staleTimer.unref();
  }

  /**
   * Graceful stop (SIGINT/SIGTERM): stop consuming, process what is queued,
   * publish pending trailing edges, drain NATS (flushing publishes), close HTTP.
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.staleTimer !== null) clearInterval(this.staleTimer);
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

  private async watchStatus(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      switch (s.type) {
        case 'disconnect':
          if (this.connected) {
            this.disconnectedAt = Date.now();
            this.setConnected(false);
            this.log.warn({ server: s.server }, 'NATS disconnected; reconnecting');
          }
          break;
        case 'reconnect': {
          this.setConnected(true);
          const seconds = this.disconnectedAt === null ? 0 : (Date.now() - this.disconnectedAt) / 1000;
          this.disconnectedAt = null;
          this.log.info({ server: s.server, seconds }, 'NATS reconnected');
          this.alerts.raise('nats', 'warn', `NATS connection was lost for ${seconds.toFixed(1)} s and is restored`, { value: seconds, threshold: null });
          break;
        }
        case 'error':
          this.log.warn({ err: s.error }, 'NATS error');
          break;
        case 'slowConsumer':
          this.log.warn({ pending: s.pending }, 'NATS slow consumer');
          break;
        default:
          break;
      }
    }
  }

  private publish(output: PublishOutput, subject: string, body: string): void {
    const nc = this.nc;
    if (nc === null || nc.isClosed()) {
      this.telemetry.countPublishError(output);
      return;
    }
    try {
      nc.publish(subject, body);
    } catch (err) {
      this.telemetry.countPublishError(output);
      this.log.warn({ err, subject }, 'publish failed');
    }
  }

  private publishFeatures(f: FeatureSnapshot): void {
    this.publish('features', SUBJECT_FEATURES + f.symbol, JSON.stringify(f));
    for (const l of this.listeners) l.features?.(f);
  }

  private publishSignal(s: Signal): void {
    this.publish('signals', SUBJECT_SIGNALS + s.symbol, JSON.stringify(s));
    this.log.info({ symbol: s.symbol, direction: s.direction, return_10s: s.return_10s }, 'signal');
    for (const l of this.listeners) l.signal?.(s);
  }

  private publishAlert(a: Alert): void {
    this.publish('alerts', SUBJECT_ALERTS, JSON.stringify(a));
    this.log.warn({ alert: a }, `alert ${a.kind}: ${a.message}`);
    for (const l of this.listeners) l.alert?.(a);
  }
}
