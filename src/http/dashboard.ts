import { existsSync, readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { Alert, FeatureSnapshot, Signal, SignalThresholds } from '../domain/features.js';
import { computeFeatures } from '../features/feature-engine.js';
import type { Service } from '../app/service.js';

/**
 * The live dashboard (issue 4): `GET /` serves one self-contained page and
 * `GET /stream` feeds it with server-sent events. One listener on the service
 * fans out to every browser; each client's send buffer is bounded, so a slow
 * or stalled browser costs at most ~1 MiB and never slows the pipeline.
 */

/** Signals and alerts replayed to a browser when it connects. */
export const RECENT_CAPACITY = 50;
/** A client whose unsent bytes exceed this gets events dropped (counted) instead of buffered. */
export const MAX_CLIENT_BUFFER_BYTES = 1 << 20;
/** A client that dropped events is re-sent a snapshot once its buffer is below this. */
const RESYNC_BELOW_BYTES = 256 * 1024;
/** A client that stays over its buffer limit this long is disconnected; a live browser reconnects. */
const MAX_CONGESTED_MS = 60_000;
const STATS_INTERVAL_MS = 1000;
const PING_INTERVAL_MS = 15_000;
/** Browser reconnect delay announced with `retry:`. */
const RECONNECT_RETRY_MS = 2000;
/** Chart history kept for a reload: one sample per second per symbol over this span. */
const HISTORY_SPAN_S = 300;
/** Symbols with kept chart history; more would cost ~7 KiB each and cannot be read on one chart anyway. */
const HISTORY_MAX_SYMBOLS = 64;

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
  /** Events this client missed because its connection could not keep up. */
  stream_dropped: number;
}

/** One chart sample: server epoch ms, mid, 60 s VWAP. */
export type HistoryPoint = [number, number | null, number | null];

/** The `snapshot` event body, sent first on every connection. */
export interface DashboardSnapshot {
  /** Server epoch ms, so the browser can place history on its own clock. */
  now: number;
  features: FeatureSnapshot[];
  signals: Signal[];
  alerts: Alert[];
  history: Record<string, HistoryPoint[]>;
  thresholds: SignalThresholds & { cooldown_ms: number };
  stats: DashboardStats;
}

/** A fixed-capacity ring keeping the newest items; the oldest is overwritten when full. */
class RecentRing<T> {
  private readonly items: (T | undefined)[];
  private next = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    this.items = new Array<T | undefined>(capacity);
  }

  push(item: T): void {
    this.items[this.next] = item;
    this.next = (this.next + 1) % this.capacity;
    if (this.count < this.capacity) this.count++;
  }

  /** Oldest first. */
  toArray(): T[] {
    const out: T[] = [];
    for (let i = 0; i < this.count; i++) out.push(this.items[(this.next - this.count + i + this.capacity) % this.capacity]!);
    return out;
  }
}

/**
 * Per-symbol mid and VWAP, one sample per wall-clock second over the last
 * {@link HISTORY_SPAN_S} seconds, so a reloaded page starts with a full chart.
 * Typed-array rings: O(1) per published features object, fixed memory.
 */
class PriceHistory {
  private readonly series = new Map<string, { buf: Float64Array; next: number; count: number }>();

  record(f: FeatureSnapshot, nowMs: number): void {
    let s = this.series.get(f.symbol);
    if (s === undefined) {
      if (this.series.size >= HISTORY_MAX_SYMBOLS) return;
      s = { buf: new Float64Array(HISTORY_SPAN_S * 3), next: 0, count: 0 };
      this.series.set(f.symbol, s);
    }
    // features arrive at up to 10 Hz: the last one inside a second stands for it
    const lastIdx = (s.next - 1 + HISTORY_SPAN_S) % HISTORY_SPAN_S;
    const sameSecond = s.count > 0 && Math.floor(s.buf[lastIdx * 3]! / 1000) === Math.floor(nowMs / 1000);
    const idx = sameSecond ? lastIdx : s.next;
    s.buf[idx * 3] = nowMs;
    s.buf[idx * 3 + 1] = f.mid ?? Number.NaN;
    s.buf[idx * 3 + 2] = f.trade_vwap_60s ?? Number.NaN;
    if (!sameSecond) {
      s.next = (s.next + 1) % HISTORY_SPAN_S;
      if (s.count < HISTORY_SPAN_S) s.count++;
    }
  }

  toObject(nowMs: number): Record<string, HistoryPoint[]> {
    const out: Record<string, HistoryPoint[]> = {};
    const since = nowMs - HISTORY_SPAN_S * 1000;
    const num = (x: number) => (Number.isNaN(x) ? null : x);
    for (const [symbol, s] of this.series) {
      const points: HistoryPoint[] = [];
      for (let i = 0; i < s.count; i++) {
        const idx = (s.next - s.count + i + HISTORY_SPAN_S) % HISTORY_SPAN_S;
        const t = s.buf[idx * 3]!;
        if (t >= since) points.push([t, num(s.buf[idx * 3 + 1]!), num(s.buf[idx * 3 + 2]!)]);
      }
      out[symbol] = points;
    }
    return out;
  }
}

interface StreamClient {
  readonly res: ServerResponse;
  dropped: number;
  /** Wall-clock ms since the client has been over its buffer limit, else null. */
  congestedSince: number | null;
  /** Events were dropped: send a fresh snapshot once the client catches up. */
  resync: boolean;
}

function sseEvent(name: string, body: unknown): string {
  // JSON.stringify escapes newlines, so the data fits on one `data:` line
  return `event: ${name}\ndata: ${JSON.stringify(body)}\n\n`;
}

/** The SSE fan-out: recent output, chart history, connected browsers and their timers. */
export class DashboardStream {
  private readonly clients = new Set<StreamClient>();
  private readonly signals = new RecentRing<Signal>(RECENT_CAPACITY);
  private readonly alerts = new RecentRing<Alert>(RECENT_CAPACITY);
  private readonly history = new PriceHistory();
  private statsTimer: NodeJS.Timeout | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly service: Service) {
    service.addOutput({
      features: (f: FeatureSnapshot) => {
        if (this.closed) return;
        this.history.record(f, Date.now());
        this.broadcast('features', f);
      },
      signal: (s: Signal) => {
        if (this.closed) return;
        this.signals.push(s);
        this.broadcast('signal', s);
      },
      alert: (a: Alert) => {
        if (this.closed) return;
        this.alerts.push(a);
        this.broadcast('alert', a);
      },
    });
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** Takes over a hijacked response as an event stream until either side closes it. */
  open(res: ServerResponse): void {
    if (this.closed) {
      res.writeHead(503, { 'Content-Type': 'application/json; charset=utf-8' }).end('{"error":"shutting down"}');
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
    const client: StreamClient = { res, dropped: 0, congestedSince: null, resync: false };
    this.clients.add(client);
    res.on('close', () => {
      this.clients.delete(client);
      if (this.clients.size === 0) this.stopTimers();
    });
    res.write(`retry: ${RECONNECT_RETRY_MS}\n\n`);
    res.write(sseEvent('snapshot', this.snapshot(client)));
    this.startTimers();
  }

  /** Ends every stream and stops the timers; later connections are refused. */
  close(): void {
    this.closed = true;
    this.stopTimers();
    for (const c of this.clients) c.res.end();
    this.clients.clear();
  }

  private snapshot(client: StreamClient): DashboardSnapshot {
    const now = Date.now();
    const features: FeatureSnapshot[] = [];
    for (const state of this.service.engine.symbols.values()) features.push(computeFeatures(state));
    features.sort((a, b) => (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0));
    const rules = this.service.config.rules;
    return {
      now,
      features,
      signals: this.signals.toArray(),
      alerts: this.alerts.toArray(),
      history: this.history.toObject(now),
      thresholds: { return: rules.returnThreshold, volume: rules.volumeThreshold, spread_bps: rules.spreadMaxBps, cooldown_ms: rules.cooldownMs },
      stats: this.stats(client),
    };
  }

  private stats(client: StreamClient): DashboardStats {
    const t = this.service.telemetry;
    const q = this.service.pipeline.queue;
    return {
      queue: { size: q.size, capacity: q.capacity, fill_ratio: q.fillRatio },
      events_per_sec: t.eventsPerSecond(),
      events_in_total: t.eventsInTotal,
      events_dropped_total: t.eventsDroppedTotal,
      signals_emitted_total: t.signalsEmittedTotal,
      nats_connected: this.service.natsConnected,
      symbols: this.service.engine.symbols.size,
      uptime_s: t.uptimeSeconds(),
      stream_dropped: client.dropped,
    };
  }

  private broadcast(name: string, body: unknown): void {
    // the hot path pays nothing while no browser is watching
    if (this.clients.size === 0) return;
    const chunk = sseEvent(name, body);
    for (const c of this.clients) this.send(c, chunk);
  }

  /**
   * Writes unless the client is over its buffer limit. The limit is on
   * `writableLength`, not on `write()` returning false: that happens at the
   * socket's 16 KiB high-water mark, which one snapshot already passes on a
   * healthy connection.
   */
  private send(c: StreamClient, chunk: string): void {
    if (c.res.writableEnded || c.res.destroyed) return;
    if (c.res.writableLength > MAX_CLIENT_BUFFER_BYTES) {
      c.dropped++;
      c.resync = true;
      c.congestedSince ??= Date.now();
      return;
    }
    c.congestedSince = null;
    c.res.write(chunk);
  }

  private tick(): void {
    const now = Date.now();
    for (const c of this.clients) {
      if (c.congestedSince !== null && now - c.congestedSince > MAX_CONGESTED_MS) {
        c.res.destroy();
        continue;
      }
      // after drops the browser's feed has holes; a snapshot makes it whole again
      if (c.resync && c.res.writableLength < RESYNC_BELOW_BYTES) {
        c.resync = false;
        this.send(c, sseEvent('snapshot', this.snapshot(c)));
      }
      this.send(c, sseEvent('stats', this.stats(c)));
    }
  }

  private startTimers(): void {
    if (this.statsTimer !== null) return;
    this.statsTimer = setInterval(() => this.tick(), STATS_INTERVAL_MS);
    this.pingTimer = setInterval(() => {
      for (const c of this.clients) this.send(c, ': ping\n\n');
    }, PING_INTERVAL_MS);
    // open streams are ended at close; the timers alone must not keep a process alive
    this.statsTimer.unref();
    this.pingTimer.unref();
  }

  private stopTimers(): void {
    if (this.statsTimer !== null) clearInterval(this.statsTimer);
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    this.statsTimer = null;
    this.pingTimer = null;
  }
}

/** Registers `GET /` (the page) and `GET /stream` (its events) on the service's HTTP app. */
export function attachDashboard(app: FastifyInstance, service: Service): void {
  const html = loadDashboardHtml();
  if (html === null) {
    app.log.warn({ tried: DASHBOARD_HTML_CANDIDATES.map((u) => fileURLToPath(u)) }, 'dashboard page not found; GET / answers 503');
  }
  const stream = new DashboardStream(service);

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
