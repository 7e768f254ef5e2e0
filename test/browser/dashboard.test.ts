import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import type { Alert, FeatureSnapshot, Signal } from '../../src/domain/features.js';
import { attachDashboard } from '../../src/http/dashboard.js';
import type { DashboardSnapshot, DashboardStats } from '../../src/http/dashboard.js';
import { Service } from '../../src/app/service.js';
import { TestNatsServer, waitFor } from '../helpers/nats-server.js';

/**
 * The dashboard end to end: a real nats-server, the service with the
 * dashboard attached, a synthetic market at ~200 events/s, the SSE stream
 * read directly and, where Chromium is installed, the page in a real browser.
 */

/** The browser binary; CHROMIUM_PATH overrides it (a missing path skips the browser tests). */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const OUTPUT_DIR = join(import.meta.dirname, '../../test-output');

/** Thresholds low enough that the synthetic trends raise signals, latency alerts and a gap alert within seconds. */
const ENV = {
  SIGNAL_RETURN_THRESHOLD: '0.0005',
  SIGNAL_VOLUME_THRESHOLD: '0.1',
  SIGNAL_SPREAD_MAX_BPS: '50',
  SIGNAL_COOLDOWN_MS: '1000',
  LATENCY_ALERT_MS: '25',
  ALERT_COOLDOWN_MS: '3000',
};

async function startDashboardService(natsUrl: string, httpPort = 0, env: Record<string, string> = {}): Promise<{ service: Service; base: string }> {
  const config = loadConfig({ NATS_URL: natsUrl, HTTP_HOST: '127.0.0.1', HTTP_PORT: String(httpPort), ...ENV, ...env });
  const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const service = new Service(config, log, { defaultMetrics: false, extendHttp: attachDashboard });
  const port = await service.listen();
  await service.start();
  return { service, base: `http://127.0.0.1:${port}` };
}

interface SymbolModel {
  symbol: string;
  provider: string;
  price: number;
  /** Phase of the sine trend, so symbols move in different directions. */
  phase: number;
  /** Exchange-to-receive latency range in ms. */
  latency: [number, number];
  /** One trade id in this many is skipped (a `gap` alert); 0 never. */
  gapEvery: number;
  nextTradeId: number;
}

/**
 * A synthetic market: per symbol a random walk with a sine trend (period
 * 60 s) strong enough to cross the return threshold, quotes around the last
 * price, exchange timestamps a few ms to ~150 ms in the past.
 */
class SyntheticMarket {
  private readonly models: SymbolModel[] = [
    { symbol: 'BTCUSDT', provider: 'binance', price: 64_250, phase: 0, latency: [4, 20], gapEvery: 0, nextTradeId: 7_000_000 },
    { symbol: 'ETHUSDT', provider: 'binance', price: 3_412.5, phase: Math.PI, latency: [8, 40], gapEvery: 0, nextTradeId: 3_000_000 },
    { symbol: 'SOLUSDT', provider: 'bybit', price: 148.37, phase: Math.PI / 2, latency: [20, 160], gapEvery: 400, nextTradeId: 900_000 },
  ];
  private timer: NodeJS.Timeout | null = null;
  private readonly startedAt = Date.now();

  get running(): boolean {
    return this.timer !== null;
  }
  private n = 0;
  published = 0;

  constructor(private readonly nc: NatsConnection) {}

  get symbols(): string[] {
    return this.models.map((m) => m.symbol);
  }

  /** Publishes `perTick` events every `everyMs` (5 per 25 ms ≈ 200 events/s). */
  start(perTick = 5, everyMs = 25): void {
    this.timer = setInterval(() => {
      for (let i = 0; i < perTick; i++) this.publishOne();
    }, everyMs);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private publishOne(): void {
    const m = this.models[this.n++ % this.models.length]!;
    const now = Date.now();
    const tsExchange = now - (m.latency[0] + Math.random() * (m.latency[1] - m.latency[0]));
    if (Math.random() < 0.6) {
      // ±0.3 bp of drift per trade at the top of the sine (~12 bp per 10 s), ~0.8 bp of noise
      const drift = 0.3e-4 * Math.sin((2 * Math.PI * (now - this.startedAt)) / 60_000 + m.phase);
      m.price *= Math.exp(drift + (Math.random() - 0.5) * 1.6e-4);
      m.nextTradeId += m.gapEvery > 0 && Math.random() < 1 / m.gapEvery ? 3 : 1;
      this.send(`md.events.trade.${m.symbol}`, {
        type: 'trade',
        provider: m.provider,
        symbol: m.symbol,
        price: round(m.price, 6),
        size: round(0.005 + Math.random() * 0.4, 4),
        side: Math.random() < 0.5 ? 'buy' : 'sell',
        trade_id: String(m.nextTradeId),
        ts_exchange: tsExchange,
        ts_recv: now,
      });
    } else {
      const half = m.price * (0.4e-4 + Math.random() * 0.8e-4);
      this.send(`md.events.quote.${m.symbol}`, {
        type: 'quote',
        provider: m.provider,
        symbol: m.symbol,
        bid: round(m.price - half, 6),
        ask: round(m.price + half, 6),
        bid_size: round(0.5 + Math.random() * 4, 3),
        ask_size: round(0.5 + Math.random() * 4, 3),
        ts_exchange: tsExchange,
        ts_recv: now,
      });
    }
  }

  private send(subject: string, payload: Record<string, unknown>): void {
    this.nc.publish(subject, JSON.stringify(payload));
    this.published++;
  }
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

interface SseEvent {
  event: string;
  data: string;
}

/**
 * Reads `url` as an event stream until `done(events)` holds or the deadline
 * passes; returns the events and the response headers.
 */
async function readStream(url: string, done: (events: SseEvent[]) => boolean, timeoutMs = 20_000): Promise<{ events: SseEvent[]; headers: Headers }> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  const events: SseEvent[] = [];
  try {
    const res = await fetch(url, { signal: abort.signal });
    expect(res.status).toBe(200);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    for (;;) {
      const { value, done: ended } = await reader.read();
      if (ended) break;
      buf += value;
      let cut: number;
      while ((cut = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        const ev: SseEvent = { event: 'message', data: '' };
        let hasData = false;
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) ev.event = line.slice(7);
          else if (line.startsWith('data: ')) {
            ev.data += line.slice(6);
            hasData = true;
          }
        }
        if (hasData) events.push(ev);
      }
      if (done(events)) {
        await reader.cancel();
        return { events, headers: res.headers };
      }
    }
    throw new Error(`stream ended after ${events.length} events before the condition held`);
  } catch (err) {
    if (abort.signal.aborted) throw new Error(`timed out after ${timeoutMs} ms reading ${url}; got ${events.map((e) => e.event).join(',')}`);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

const parse = <T>(e: SseEvent): T => JSON.parse(e.data) as T;

let nats: TestNatsServer;
let pub: NatsConnection;
let market: SyntheticMarket;
let service: Service;
let base: string;

beforeAll(async () => {
  nats = await TestNatsServer.start({ jetstream: false });
  ({ service, base } = await startDashboardService(nats.url));
  pub = await connect({ servers: nats.url });
  market = new SyntheticMarket(pub);
  market.start();
});

afterAll(async () => {
  market?.stop();
  await pub?.close();
  await service?.stop();
  await nats?.stop();
});

describe('GET /stream (server-sent events)', () => {
  it('starts with a snapshot of every symbol, the recent signals and alerts, and the stats', async () => {
    // signals need 10 s of trades behind them (return_10s), so wait for the first
    await waitFor(() => service.telemetry.signalsEmittedTotal > 0 && service.engine.symbols.size === 3, 'three symbols and a first signal', 30_000, 100);
    const { events, headers } = await readStream(`${base}/stream`, (evs) => evs.length >= 1);
    expect(headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(headers.get('cache-control')).toMatch(/no-cache/);
    expect(headers.get('x-accel-buffering')).toBe('no');

    const first = events[0]!;
    expect(first.event).toBe('snapshot');
    const snap = parse<DashboardSnapshot>(first);
    expect(snap.features.map((f) => f.symbol)).toEqual(['BTCUSDT', 'ETHUSDT', 'SOLUSDT']);
    for (const f of snap.features) {
      expect(f.mid).toEqual(expect.any(Number));
      expect(f.trade_count_10s).toBeGreaterThan(0);
    }
    expect(snap.signals.length).toBeGreaterThan(0);
    expect(snap.signals.length).toBeLessThanOrEqual(50);
    expect(snap.alerts.length).toBeLessThanOrEqual(50);
    expect(snap.signals[0]).toMatchObject({ v: 1, symbol: expect.any(String), direction: expect.stringMatching(/^(long|short)$/) });
    expect(snap.thresholds).toEqual({ return: 0.0005, volume: 0.1, spread_bps: 50, cooldown_ms: 1000 });
    expect(Object.keys(snap.history).sort()).toEqual(['BTCUSDT', 'ETHUSDT', 'SOLUSDT']);
    expect(snap.history.BTCUSDT!.length).toBeGreaterThan(3);
    expect(snap.stats.nats_connected).toBe(true);
    expect(snap.stats.symbols).toBe(3);
    expect(snap.stats.queue.capacity).toBe(10_000);
  });

  it('then pushes features for each symbol, signals, alerts and stats every second', async () => {
    const { events } = await readStream(`${base}/stream`, (evs) => {
      const names = new Set(evs.map((e) => e.event));
      const featured = new Set(evs.filter((e) => e.event === 'features').map((e) => parse<FeatureSnapshot>(e).symbol));
      return names.has('stats') && names.has('signal') && names.has('alert') && featured.size === 3;
    }, 30_000);
    expect(events[0]!.event).toBe('snapshot');

    const stats = parse<DashboardStats>(events.find((e) => e.event === 'stats')!);
    expect(Object.keys(stats).sort()).toEqual(
      ['dropped_by_reason', 'events_dropped_total', 'events_in_total', 'events_per_sec', 'nats_connected', 'processing_latency_ms', 'providers', 'queue', 'signals_emitted_total', 'stale_after_ms', 'stream_dropped', 'symbols', 'uptime_s'].sort(),
    );
    expect(stats.events_per_sec).toBeGreaterThan(50);
    expect(stats.nats_connected).toBe(true);
    expect(stats.stream_dropped).toBe(0);
    expect(stats.queue.fill_ratio).toBeGreaterThanOrEqual(0);

    const signal = parse<Signal>(events.find((e) => e.event === 'signal')!);
    expect(Math.abs(signal.return_10s)).toBeGreaterThan(0.0005);
    const alert = parse<Alert>(events.find((e) => e.event === 'alert')!);
    expect(['latency', 'gap']).toContain(alert.kind);

    // the service throttles features to ≤ 10 Hz per symbol; the stream passes them on untouched
    const btc = events.filter((e) => e.event === 'features').map((e) => parse<FeatureSnapshot>(e)).filter((f) => f.symbol === 'BTCUSDT');
    expect(btc.length).toBeGreaterThan(0);
    expect(btc[0]).toMatchObject({ v: 1, symbol: 'BTCUSDT', mid: expect.any(Number), spread_bps: expect.any(Number) });
  });

  it('does not hold up service.stop() while a stream is open', async () => {
    // a second service of its own, so the shared one stays up for the browser
    const other = await startDashboardService(nats.url);
    const abort = new AbortController();
    const res = await fetch(`${other.base}/stream`, { signal: abort.signal });
    const reader = res.body!.getReader();
    await reader.read(); // the stream is open and flowing
    const t0 = Date.now();
    await other.service.stop();
    expect(Date.now() - t0).toBeLessThan(5_000);
    // the server ended the stream: the reader drains to its end
    for (;;) {
      const { done } = await reader.read();
      if (done) break;
    }
    abort.abort();
  });
});

describe.skipIf(!existsSync(CHROMIUM))(`the page in Chromium (skipped: no browser at ${CHROMIUM})`, () => {
  let browser: Browser;
  let page: Page;
  const consoleErrors: string[] = [];
  const foreignRequests: string[] = [];

  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1600, height: 1000 }, colorScheme: 'dark' });
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(e.message));
    page.on('request', (r) => {
      if (!r.url().startsWith(base) && !r.url().startsWith('data:')) foreignRequests.push(r.url());
    });
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('shows live tiles, the header stats and the signal/alert feed', async () => {
    await page.goto(`${base}/`);
    await expect.poll(() => page.getByTestId('stream-status').getAttribute('data-state'), { timeout: 10_000 }).toBe('ok');

    for (const sym of market.symbols) {
      await expect.poll(async () => numeric(await page.getByTestId(`tile-${sym}-mid`).textContent()), { timeout: 15_000 }).toBeGreaterThan(0);
      expect(await page.getByTestId(`tile-${sym}-spread`).textContent()).toMatch(/^\d+\.\d{2} bps$/);
      expect(await page.getByTestId(`tile-${sym}-vwap60`).textContent()).toMatch(/^[\d,]+\.\d+$/);
      expect(await page.getByTestId(`tile-${sym}-lat-p95`).textContent()).toMatch(/ ms$/);
    }
    await expect.poll(() => page.getByTestId('feed-item').count(), { timeout: 30_000 }).toBeGreaterThan(0);
    await expect.poll(() => page.locator('[data-testid="feed-item"][data-kind="signal"]').count(), { timeout: 30_000 }).toBeGreaterThan(0);
    await expect.poll(() => page.locator('[data-testid="feed-item"][data-kind="alert"]').count(), { timeout: 30_000 }).toBeGreaterThan(0);

    expect(await page.getByTestId('nats-status').textContent()).toBe('connected');
    await expect.poll(async () => numeric(await page.getByTestId('events-per-sec').textContent()), { timeout: 10_000 }).toBeGreaterThan(0);
    expect(Number(await page.getByTestId('queue-fill').getAttribute('data-value'))).toBeGreaterThanOrEqual(0);
    // the chart has drawn 20 s of every symbol
    await expect.poll(async () => Number(await page.getByTestId('chart').getAttribute('data-points')), { timeout: 15_000 }).toBeGreaterThan(60);

    // numbers update without moving the layout: tiles keep their box
    const before = await page.getByTestId('tile-BTCUSDT').boundingBox();
    await expect.poll(() => page.getByTestId('tile-BTCUSDT-mid').textContent(), { timeout: 5_000 }).not.toBe(await page.getByTestId('tile-BTCUSDT-mid').textContent());
    expect(await page.getByTestId('tile-BTCUSDT').boundingBox()).toEqual(before);

    mkdirSync(OUTPUT_DIR, { recursive: true });
    await page.screenshot({ path: join(OUTPUT_DIR, 'dashboard.png') });
    await page.getByTestId('tile-BTCUSDT').screenshot({ path: join(OUTPUT_DIR, 'dashboard-tile.png') });
    await page.emulateMedia({ colorScheme: 'light' });
    await page.screenshot({ path: join(OUTPUT_DIR, 'dashboard-light.png') });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.screenshot({ path: join(OUTPUT_DIR, 'dashboard-1280.png') });

    expect(foreignRequests).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });

  it('shows the disconnected state once the service is gone', async () => {
    market.stop();
    const t0 = Date.now();
    await service.stop();
    expect(Date.now() - t0).toBeLessThan(5_000);
    await expect.poll(() => page.getByTestId('stream-status').getAttribute('data-state'), { timeout: 10_000 }).toBe('down');
    expect(await page.getByTestId('nats-status').textContent()).toBe('—');
    await page.screenshot({ path: join(OUTPUT_DIR, 'dashboard-disconnected.png') });
  });

  it('reconnects by itself when the service is back, and resyncs from the new snapshot', async () => {
    // the same port, as after a restart; `service` is replaced so afterAll stops the new one
    ({ service } = await startDashboardService(nats.url, Number(new URL(base).port)));
    market.start();
    await expect.poll(() => page.getByTestId('stream-status').getAttribute('data-state'), { timeout: 20_000 }).toBe('ok');
    await expect.poll(() => page.getByTestId('nats-status').textContent(), { timeout: 5_000 }).toBe('connected');
    await expect.poll(async () => numeric(await page.getByTestId('tile-BTCUSDT-mid').textContent()), { timeout: 10_000 }).toBeGreaterThan(0);
    expect(await page.locator('body.offline').count()).toBe(0);
  });
});

describe.skipIf(!existsSync(CHROMIUM))(`the page with HTTP_AUTH_TOKEN in Chromium (skipped: no browser at ${CHROMIUM})`, () => {
  const TOKEN = 'dashboard-token-7f3a9c';
  let browser: Browser;
  let secured: { service: Service; base: string };
  const dialogs: string[] = [];
  const streamAuth: (string | null)[] = [];
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    secured = await startDashboardService(nats.url, 0, { HTTP_AUTH_TOKEN: TOKEN });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await secured?.service.stop();
  });

  it('asks for the token only when the stream answers 401, keeps it for the session, and streams with it', async () => {
    if (!market.running) market.start();
    const context = await browser.newContext();
    const page = await context.newPage();
    page.on('pageerror', (e) => consoleErrors.push(e.message));
    page.on('request', (r) => {
      if (r.url().endsWith('/stream')) streamAuth.push(r.headers().authorization ?? null);
    });
    // the first answer is wrong: the page says so and asks again
    const answers = ['wrong-token', TOKEN];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.accept(answers.shift() ?? '');
    });
    await page.goto(`${secured.base}/`);
    await expect.poll(() => page.getByTestId('stream-status').getAttribute('data-state'), { timeout: 15_000 }).toBe('ok');
    expect(dialogs.length).toBe(2);
    expect(dialogs[0]).toMatch(/access token/);
    expect(dialogs[1]).toMatch(/refused/);
    // the first request went without a token; no token ever went into a URL
    expect(streamAuth[0]).toBeNull();
    expect(streamAuth).toContain(`Bearer ${TOKEN}`);
    expect(await page.evaluate('sessionStorage.getItem("senpai-md-consumer.token")')).toBe(TOKEN);
    await expect.poll(async () => numeric(await page.getByTestId('tile-BTCUSDT-mid').textContent()), { timeout: 15_000 }).toBeGreaterThan(0);

    // a reload in the same tab reuses the token: no new question
    await page.reload();
    await expect.poll(() => page.getByTestId('stream-status').getAttribute('data-state'), { timeout: 15_000 }).toBe('ok');
    expect(dialogs.length).toBe(2);
    expect(consoleErrors).toEqual([]);
    await context.close();
  });

  it('shows "token needed" when the question is dismissed, and asks again on a click', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    let asked = 0;
    page.on('dialog', (d) => {
      asked++;
      void (asked === 1 ? d.dismiss() : d.accept(TOKEN));
    });
    await page.goto(`${secured.base}/`);
    await expect.poll(() => page.getByTestId('stream-status').textContent(), { timeout: 10_000 }).toBe('token needed');
    expect(await page.getByTestId('stream-status').getAttribute('data-state')).toBe('down');
    await page.getByTestId('stream-status').click();
    await expect.poll(() => page.getByTestId('stream-status').getAttribute('data-state'), { timeout: 15_000 }).toBe('ok');
    expect(asked).toBe(2);
    await context.close();
  });
});

function numeric(text: string | null): number {
  const n = Number((text ?? '').replace(/,/g, ''));
  return Number.isFinite(n) ? n : Number.NaN;
}
