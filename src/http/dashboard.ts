import { existsSync, readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { ClusterAnswer } from '../domain/http-answers.js';
import type { Alert, FeatureSnapshot, Signal, SignalThresholds } from '../domain/features.js';
import type { DashboardViews } from './views.js';
import type { HistoryPoint } from './dashboard-history.js';
import { PriceHistory, RecentRing } from './dashboard-history.js';
import { HttpCounters } from './http-counters.js';

export type { HistoryPoint } from './dashboard-history.js';

/**
 * The live dashboard: `GET /` serves one self-contained page and `GET /stream`
 * feeds it with server-sent events. One listener on the service keeps the
 * newest output; a timer sends every browser one coalesced frame per
 * {@link FRAME_INTERVAL_MS} (the newest features of each symbol that changed,
 * the signals and alerts since the last frame, stats each second), so the cost
 * of a browser does not grow with the event rate. Streams are bounded in
 * number (`HTTP_MAX_STREAM_CLIENTS`) and in buffered bytes; a browser that
 * stops reading is skipped, then disconnected.
 */

/** Signals and alerts replayed to a browser when it connects. */
export const RECENT_CAPACITY = 50;
/** Frames go out this often: the newest features of a symbol per frame, not every publish. */
export const FRAME_INTERVAL_MS = 250;
/** A client with more unsent bytes than this gets frames skipped (counted) instead of buffered. */
export const MAX_CLIENT_BUFFER_BYTES = 256 * 1024;
/** A client that stays over its buffer limit this long is disconnected; a live browser reconnects. */
export const SLOW_READER_CUTOFF_MS = 5_000;
/** Features of at most this many symbols per frame; the rest go in the next ones, oldest change first. */
const FRAME_MAX_FEATURES = 256;
/** Symbols whose newest features are kept for the snapshot a browser starts from. */
const SNAPSHOT_MAX_SYMBOLS = 256;
const STATS_INTERVAL_MS = 1000;
/** The chart history frees the series of silent symbols at most this often, when it is full and a new symbol comes. */
const PRUNE_INTERVAL_MS = 1000;
/** Processing latency quantiles cover this many seconds of observations. */
export const LATENCY_WINDOW_S = 10;
/** Providers listed in stats; the telemetry bounds provider labels at 32, the map is small. */
const STATS_MAX_PROVIDERS = 64;
const PING_INTERVAL_MS = 15_000;
/** Browser reconnect delay announced with `retry:`. */
const RECONNECT_RETRY_MS = 2000;

/** The stream's bounds; the defaults are the constants above and `HTTP_MAX_STREAM_CLIENTS`. */
export interface DashboardStreamOptions {
  readonly maxClients?: number;
  readonly frameIntervalMs?: number;
  readonly maxBufferBytes?: number;
  readonly slowReaderCutoffMs?: number;
  /** How often at most a full chart history frees the series of symbols silent for its whole span (default 1 s). */
  readonly pruneIntervalMs?: number;
}

/** The page's possible locations: beside this module (src, or dist after the build copies it), else the source tree seen from dist/http/. */
export const DASHBOARD_HTML_CANDIDATES: readonly URL[] = [
  new URL('./dashboard/index.html', import.meta.url),
  new URL('../../src/http/dashboard/index.html', import.meta.url),
];

/** Reads the first page that exists; null when none does. */
export function loadDashboardHtml(candidates: readonly URL[] = DASHBOARD_HTML_CANDIDATES): string | null {
  for (const url of candidates) {
    const path = fileURLToPath(url);
    if (existsSync(path)) return readFileSync(path, 'utf8');
  }
  return null;
}

/** Offline and self-contained by contract: the page may talk to this origin only. */
const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'unsafe-inline'",
  "style-src 'unsafe-inline'",
  "connect-src 'self'",
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Processing latency (`senpai_processing_latency_ms`) over the last {@link LATENCY_WINDOW_S} s, estimated from its histogram buckets. */
export interface DashboardLatency {
  /** Observations in the window. */
  count: number;
  /** The window actually covered, in seconds (shorter right after start). */
  window_s: number;
  /** Quantiles interpolated linearly inside their bucket; null without observations. */
  p50: number | null;
  p99: number | null;
  mean: number | null;
}

/** A provider's last accepted event. */
export interface DashboardProvider {
  provider: string;
  last_seen_ms_ago: number;
  /** Silent longer than `stale_after_ms`. */
  stale: boolean;
}

/** The `stats` event body. */
export interface DashboardStats {
  queue: { size: number; capacity: number; fill_ratio: number };
  events_per_sec: number;
  events_in_total: number;
  events_dropped_total: number;
  signals_emitted_total: number;
  nats_connected: boolean;
  symbols: number;
  uptime_s: number;
  /** Drops by reason since start, reasons in the order they first dropped an event. */
  dropped_by_reason: Record<string, number>;
  processing_latency_ms: DashboardLatency;
  /** Providers by name, at most {@link STATS_MAX_PROVIDERS}. */
  providers: DashboardProvider[];
  stale_after_ms: number;
  /** Cluster mode (SPEC §12): the `GET /cluster` body, so the page shows who owns what; null when the mode is off. */
  cluster: ClusterAnswer | null;
  /** Frames this client missed because its connection could not keep up. */
  stream_dropped: number;
}

/** Stats without the per-client field. */
type SharedStats = Omit<DashboardStats, 'stream_dropped'>;

/** The `snapshot` event body, sent first on every connection. */
export interface DashboardSnapshot {
  /** Server epoch ms, so the browser can place history on its own clock. */
  now: number;
  features: FeatureSnapshot[];
  signals: Signal[];
  alerts: Alert[];
  history: Record<string, HistoryPoint[]>;
  /** `features` lists every symbol the engine has: any other symbol on the page was forgotten. */
  complete: boolean;
  thresholds: SignalThresholds & { cooldown_ms: number };
  stats: DashboardStats;
}

interface StreamClient {
  readonly res: ServerResponse;
  /** Frames this client missed because it was not reading. */
  dropped: number;
  /** Wall-clock ms since the client has been over its buffer limit, else null. */
  congestedSince: number | null;
  /** Frames were skipped: send a fresh snapshot once the client catches up. */
  resync: boolean;
  /** Symbols forgotten while frames were skipped: announced after the resync snapshot, which cannot say it. */
  missedForget: string[];
  /** Wall-clock ms of the last write. */
  lastWriteMs: number;
}

function sseEvent(name: string, body: unknown): string {
  // JSON.stringify escapes newlines, so the data fits on one `data:` line
  return `event: ${name}\ndata: ${JSON.stringify(body)}\n\n`;
}

/** The SSE fan-out: newest output, chart history, connected browsers and their timer. */
export class DashboardStream {
  private readonly clients = new Set<StreamClient>();
  private readonly signals = new RecentRing<Signal>(RECENT_CAPACITY);
  private readonly alerts = new RecentRing<Alert>(RECENT_CAPACITY);
  private readonly history = new PriceHistory();
  /** Newest features per symbol, for snapshots (bounded). */
  private readonly latest = new Map<string, FeatureSnapshot>();
  /**
   * Symbols whose features went out to the browsers connected now (snapshots and frames): once the
   * engine forgets one, a `forget` event tells them to drop it. Cleared when the last browser goes.
   */
  private readonly shown = new Set<string>();
  /** Shown symbols the engine forgot since the last frame: the next frame's `forget` event. */
  private pendingForget: string[] = [];
  /** Features, signals and alerts not yet framed; only kept while a browser is connected. */
  private readonly pendingFeatures = new Map<string, FeatureSnapshot>();
  private readonly pendingSignals = new RecentRing<Signal>(RECENT_CAPACITY);
  private readonly pendingAlerts = new RecentRing<Alert>(RECENT_CAPACITY);
  private frameTimer: NodeJS.Timeout | null = null;
  private lastStatsMs = 0;
  /** The shared part of the stats, rebuilt at most once per stats interval for every client. */
  private sharedStats: SharedStats | null = null;
  private sharedStatsMs = 0;
  /** Histogram bucket counts (and sum) at each stats build, oldest first, for the latency window. */
  private readonly latencySamples: { ms: number; counts: Float64Array; sum: number }[] = [];
  private closed = false;
  private lastPruneMs = Number.NEGATIVE_INFINITY;
  readonly maxClients: number;
  private readonly frameIntervalMs: number;
  private readonly maxBufferBytes: number;
  private readonly slowReaderCutoffMs: number;
  private readonly pruneIntervalMs: number;

  constructor(
    private readonly views: DashboardViews,
    private readonly counters: HttpCounters = new HttpCounters(views.http.maxConnections, views.http.maxStreamClients),
    opts: DashboardStreamOptions = {},
  ) {
    this.maxClients = opts.maxClients ?? counters.maxStreamClients;
    this.frameIntervalMs = opts.frameIntervalMs ?? FRAME_INTERVAL_MS;
    this.maxBufferBytes = opts.maxBufferBytes ?? MAX_CLIENT_BUFFER_BYTES;
    this.slowReaderCutoffMs = opts.slowReaderCutoffMs ?? SLOW_READER_CUTOFF_MS;
    this.pruneIntervalMs = opts.pruneIntervalMs ?? PRUNE_INTERVAL_MS;
    // per published features object (nothing per event): a few map lookups and a map write
    views.subscribe({
      features: (f: FeatureSnapshot) => {
        if (this.closed) return;
        const now = Date.now();
        // forgotten symbols free their places as they go (forget); a live symbol silent for the chart's
        // whole span gives its series up to a new one
        if (this.history.full && !this.history.has(f.symbol) && now - this.lastPruneMs >= this.pruneIntervalMs) {
          this.lastPruneMs = now;
          this.history.pruneSilent(now);
        }
        this.history.record(f, now);
        if (this.latest.has(f.symbol) || this.latest.size < SNAPSHOT_MAX_SYMBOLS) this.latest.set(f.symbol, f);
        if (this.clients.size > 0) this.pendingFeatures.set(f.symbol, f);
      },
      signal: (s: Signal) => {
        if (this.closed) return;
        this.signals.push(s);
        if (this.clients.size > 0) this.pendingSignals.push(s);
      },
      alert: (a: Alert) => {
        if (this.closed) return;
        this.alerts.push(a);
        if (this.clients.size > 0) this.pendingAlerts.push(a);
      },
    });
    views.onForgotten((symbols) => this.forget(symbols));
  }

  /** The engine forgot these symbols (idle eviction, a partition gone): their places go, and the browsers shown them are told. */
  private forget(symbols: readonly string[]): void {
    if (this.closed) return;
    for (const symbol of symbols) {
      this.latest.delete(symbol);
      this.history.delete(symbol);
      this.pendingFeatures.delete(symbol);
      if (this.shown.delete(symbol)) this.pendingForget.push(symbol);
    }
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** Whether one more client may connect. */
  get hasRoom(): boolean {
    return this.clients.size < this.maxClients;
  }

  /** Takes over a hijacked response as an event stream until either side closes it. */
  open(res: ServerResponse): void {
    if (this.closed || !this.hasRoom) {
      const error = this.closed ? 'shutting down' : this.refuse();
      res.writeHead(503, { 'Content-Type': 'application/json; charset=utf-8', 'Retry-After': String(RECONNECT_RETRY_MS / 1000) }).end(JSON.stringify({ error }));
      return;
    }
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      // nginx and friends would otherwise buffer the stream into bursts
      'X-Accel-Buffering': 'no',
    });
    res.socket?.setNoDelay(true);
    const client: StreamClient = { res, dropped: 0, congestedSince: null, resync: false, missedForget: [], lastWriteMs: Date.now() };
    this.clients.add(client);
    this.counters.streamClients = this.clients.size;
    res.on('close', () => {
      this.clients.delete(client);
      this.counters.streamClients = this.clients.size;
      if (this.clients.size === 0) this.stopTimer();
    });
    res.write(`retry: ${RECONNECT_RETRY_MS}\n\n` + sseEvent('snapshot', this.snapshot(client)));
    this.startTimer();
  }

  /** Counts a client turned away because every stream slot is taken; returns the 503 answer's message. */
  refuse(): string {
    this.counters.reject('stream_clients');
    return `too many dashboard streams: at most ${this.maxClients} (HTTP_MAX_STREAM_CLIENTS)`;
  }

  /** Ends every stream and stops the timer; later connections are refused. */
  close(): void {
    this.closed = true;
    this.stopTimer();
    for (const c of this.clients) c.res.end();
    this.clients.clear();
    this.counters.streamClients = 0;
  }

  private snapshot(client: StreamClient): DashboardSnapshot {
    const now = Date.now();
    const features: FeatureSnapshot[] = [];
    for (const [symbol, f] of this.latest) {
      features.push(f);
      this.shown.add(symbol);
    }
    features.sort((a, b) => (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0));
    const rules = this.views.rules;
    // the page shows a symbol of the chart history too (a place there, none among the features above 256 symbols)
    const history = this.history.toObject(now);
    for (const symbol of Object.keys(history)) this.shown.add(symbol);
    return {
      now,
      features,
      signals: this.signals.toArray(),
      alerts: this.alerts.toArray(),
      history,
      // every symbol the engine has is listed: the page drops the ones it shows that are not (forgotten while it was away)
      complete: features.length === this.views.symbols.size,
      thresholds: { return: rules.returnThreshold, volume: rules.volumeThreshold, spread_bps: rules.spreadMaxBps, cooldown_ms: rules.cooldownMs },
      stats: this.stats(client),
    };
  }

  private stats(client: StreamClient): DashboardStats {
    const now = Date.now();
    if (this.sharedStats === null || now - this.sharedStatsMs >= STATS_INTERVAL_MS / 2) {
      this.sharedStats = this.buildStats(now);
      this.sharedStatsMs = now;
    }
    return { ...this.sharedStats, stream_dropped: client.dropped };
  }

  /** Everything but `stream_dropped`: a few dozen numbers, built at most twice a second whatever the event rate. */
  private buildStats(now: number): SharedStats {
    const t = this.views.telemetry;
    const q = this.views.queue;
    const staleAfterMs = this.views.staleAfterMs;
    const providers: DashboardProvider[] = [];
    for (const [provider, lastSeen] of this.views.providerLastSeen()) {
      const ago = Math.max(0, now - lastSeen);
      providers.push({ provider, last_seen_ms_ago: ago, stale: ago > staleAfterMs });
    }
    providers.sort((a, b) => (a.provider < b.provider ? -1 : a.provider > b.provider ? 1 : 0));
    if (providers.length > STATS_MAX_PROVIDERS) providers.length = STATS_MAX_PROVIDERS;
    return {
      queue: { size: q.size, capacity: q.capacity, fill_ratio: q.fillRatio },
      events_per_sec: t.eventsPerSecond(),
      events_in_total: t.eventsInTotal,
      events_dropped_total: t.eventsDroppedTotal,
      signals_emitted_total: t.signalsEmittedTotal,
      nats_connected: this.views.natsConnected(),
      symbols: this.views.symbols.size,
      uptime_s: t.uptimeSeconds(),
      dropped_by_reason: t.droppedByReasonObject(),
      processing_latency_ms: this.latencyWindow(now),
      providers,
      stale_after_ms: staleAfterMs,
      cluster: this.views.cluster(),
    };
  }

  /** Quantiles of the processing latency observed since the oldest kept sample (≤ {@link LATENCY_WINDOW_S} s ago). */
  private latencyWindow(now: number): DashboardLatency {
    const h = this.views.telemetry.processingLatency;
    const samples = this.latencySamples;
    samples.push({ ms: now, counts: Float64Array.from(h.counts), sum: h.sum });
    while (samples.length > 2 && now - samples[1]!.ms >= LATENCY_WINDOW_S * 1000) samples.shift();
    const first = samples[0]!;
    const delta = new Float64Array(h.counts.length);
    let count = 0;
    for (let i = 0; i < delta.length; i++) {
      delta[i] = h.counts[i]! - first.counts[i]!;
      count += delta[i]!;
    }
    // the first sample is the start of the window: right after the first build, use everything so far
    const fromStart = samples.length === 1;
    if (fromStart) {
      count = 0;
      for (let i = 0; i < delta.length; i++) count += (delta[i] = h.counts[i]!);
    }
    const sum = fromStart ? h.sum : h.sum - first.sum;
    const windowS = fromStart ? this.views.telemetry.uptimeSeconds() : (now - first.ms) / 1000;
    return {
      count,
      window_s: Math.round(windowS * 10) / 10,
      p50: bucketQuantile(delta, h.upperBounds, count, 0.5),
      p99: bucketQuantile(delta, h.upperBounds, count, 0.99),
      mean: count > 0 ? sum / count : null,
    };
  }

  /** The events since the last frame, built once for every client. */
  private takeFrame(): string {
    let frame = '';
    let n = 0;
    for (const [symbol, f] of this.pendingFeatures) {
      if (n++ >= FRAME_MAX_FEATURES) break;
      frame += sseEvent('features', f);
      this.pendingFeatures.delete(symbol);
      this.shown.add(symbol);
    }
    for (const s of this.pendingSignals.drain()) frame += sseEvent('signal', s);
    for (const a of this.pendingAlerts.drain()) frame += sseEvent('alert', a);
    return frame;
  }

  /** Sends every client the frame of what changed since the last one (the timer calls this). */
  sendFrame(): void {
    const now = Date.now();
    // what was forgotten first: a symbol forgotten and back since the last frame is dropped, then shown again
    const gone = this.pendingForget;
    if (gone.length > 0) this.pendingForget = [];
    const frame = (gone.length > 0 ? sseEvent('forget', gone) : '') + this.takeFrame();
    const withStats = now - this.lastStatsMs >= STATS_INTERVAL_MS - this.frameIntervalMs / 2;
    if (withStats) this.lastStatsMs = now;
    for (const c of this.clients) {
      const res = c.res;
      if (res.writableEnded || res.destroyed) continue;
      // the limit is on `writableLength`, not on `write()` returning false: that happens at the
      // socket's 16 KiB high-water mark, which one snapshot already passes on a healthy connection
      if (res.writableLength > this.maxBufferBytes) {
        c.congestedSince ??= now;
        if (now - c.congestedSince >= this.slowReaderCutoffMs) {
          this.counters.slowReadersDisconnected++;
          res.destroy();
          continue;
        }
        if (frame !== '' || withStats) {
          c.dropped++;
          c.resync = true;
          for (const symbol of gone) c.missedForget.push(symbol);
        }
        continue;
      }
      c.congestedSince = null;
      let chunk: string;
      if (c.resync && res.writableLength < this.maxBufferBytes / 2) {
        // after skipped frames the browser's feed has holes; a snapshot makes it whole again
        c.resync = false;
        // first what it missed being told, this frame's included (the snapshot cannot say what is gone), then the snapshot
        const missed = c.missedForget.splice(0).concat(gone);
        chunk = (missed.length > 0 ? sseEvent('forget', missed) : '') + sseEvent('snapshot', this.snapshot(c));
      } else {
        chunk = frame;
        if (withStats) chunk += sseEvent('stats', this.stats(c));
      }
      if (chunk === '' && now - c.lastWriteMs >= PING_INTERVAL_MS) chunk = ': ping\n\n';
      if (chunk === '') continue;
      c.lastWriteMs = now;
      res.write(chunk);
    }
  }

  private startTimer(): void {
    if (this.frameTimer !== null) return;
    this.frameTimer = setInterval(() => this.sendFrame(), this.frameIntervalMs);
    // open streams are ended at close; the timer alone must not keep a process alive
    this.frameTimer.unref();
  }

  private stopTimer(): void {
    if (this.frameTimer !== null) clearInterval(this.frameTimer);
    this.frameTimer = null;
    this.shown.clear(); // the next browser starts from a snapshot
    this.pendingForget = [];
    this.pendingFeatures.clear();
    this.pendingSignals.drain();
    this.pendingAlerts.drain();
  }
}

/**
 * The q-quantile of a histogram's per-bucket counts (not cumulative; the last
 * slot is above every bound), interpolated linearly inside its bucket as
 * Prometheus' `histogram_quantile` does; the top bound when it lies above them.
 */
export function bucketQuantile(counts: ArrayLike<number>, upperBounds: readonly number[], total: number, q: number): number | null {
  if (!(total > 0)) return null;
  const rank = q * total;
  let acc = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    if (acc + c >= rank && c > 0) {
      if (i >= upperBounds.length) return upperBounds[upperBounds.length - 1]!;
      const lo = i === 0 ? 0 : upperBounds[i - 1]!;
      const hi = upperBounds[i]!;
      return lo + (hi - lo) * ((rank - acc) / c);
    }
    acc += c;
  }
  return upperBounds[upperBounds.length - 1]!;
}

/** Registers `GET /` (the page) and `GET /stream` (its events) on the service's HTTP app. */
export function attachDashboard(app: FastifyInstance, views: DashboardViews, counters?: HttpCounters, opts: DashboardStreamOptions = {}): void {
  const html = loadDashboardHtml();
  if (html === null) {
    app.log.warn({ tried: DASHBOARD_HTML_CANDIDATES.map((u) => fileURLToPath(u)) }, 'dashboard page not found; GET / answers 503');
  }
  const stream = new DashboardStream(views, counters, opts);

  app.get('/', async (_req, reply) => {
    if (html === null) return reply.code(503).send({ error: 'dashboard page not installed: copy src/http/dashboard/index.html to dist/http/dashboard/' });
    return reply
      .type('text/html; charset=utf-8')
      .header('Cache-Control', 'no-cache')
      .header('Content-Security-Policy', PAGE_CSP)
      .header('X-Content-Type-Options', 'nosniff')
      .send(html);
  });

  // no HEAD twin: it would hijack the socket for a body that can never be sent
  app.get('/stream', { exposeHeadRoute: false }, (_req, reply) => {
    if (!stream.hasRoom) {
      void reply.code(503).header('Retry-After', String(RECONNECT_RETRY_MS / 1000)).send({ error: stream.refuse() });
      return;
    }
    reply.hijack();
    stream.open(reply.raw);
  });

  // preClose runs before the server waits for open connections: without it an
  // open stream would hold `close()` (and so `service.stop()`) forever
  app.addHook('preClose', (done) => {
    stream.close();
    done();
  });
  app.addHook('onClose', (_instance, done) => {
    stream.close();
    done();
  });
}
