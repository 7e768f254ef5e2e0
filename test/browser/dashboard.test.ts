import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Browser, Locator, Page } from 'playwright-core';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import type { Alert, FeatureSnapshot, Signal } from '../../src/domain/features.js';
import { attachDashboard } from '../../src/http/dashboard.js';
import type { DashboardSnapshot, DashboardStats } from '../../src/http/dashboard.js';
import { Service } from '../../src/app/service.js';
import { CHROMIUM, launchChromium, watchedPage } from '../helpers/chromium.js';
import { TestNatsServer, waitFor } from '../helpers/nats-server.js';

/** Said in the title of each browser suite, so a skipped one tells why. */
const NO_BROWSER = existsSync(CHROMIUM) ? '' : ` (skipped: no browser at ${CHROMIUM})`;

/**
 * The dashboard end to end: a real nats-server, the service with the
 * dashboard attached, a synthetic market at ~200 events/s, the SSE stream
 * read directly and, where Chromium is installed, the page in a real browser.
 */

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
      ['cluster', 'dropped_by_reason', 'events_dropped_total', 'events_in_total', 'events_per_sec', 'nats_connected', 'processing_latency_ms', 'providers', 'queue', 'signals_emitted_total', 'stale_after_ms', 'stream_dropped', 'symbols', 'uptime_s'].sort(),
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

describe.skipIf(!existsSync(CHROMIUM))(`the page in Chromium${NO_BROWSER}`, () => {
  let browser: Browser;
  let page: Page;
  const consoleErrors: string[] = [];
  const foreignRequests: string[] = [];

  beforeAll(async () => {
    browser = await launchChromium();
    page = await watchedPage(browser, base, consoleErrors, foreignRequests);
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
    await expect.poll(() => page.getByTestId('alert-group').count(), { timeout: 30_000 }).toBeGreaterThan(0);

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

describe.skipIf(!existsSync(CHROMIUM))(`the page with HTTP_AUTH_TOKEN in Chromium${NO_BROWSER}`, () => {
  const TOKEN = 'dashboard-token-7f3a9c';
  let browser: Browser;
  let secured: { service: Service; base: string };
  const dialogs: string[] = [];
  const streamAuth: (string | null)[] = [];
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    secured = await startDashboardService(nats.url, 0, { HTTP_AUTH_TOKEN: TOKEN });
    browser = await launchChromium();
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

/** 50 symbols, as in issue 11: ticker names of a real exchange. */
const FIFTY = 'BTC ETH SOL BNB XRP ADA DOGE AVAX DOT LINK MATIC LTC TRX ATOM UNI XLM ETC FIL APT ARB OP NEAR ICP HBAR VET ALGO AAVE MKR SAND MANA AXS EGLD THETA FTM GRT RUNE INJ SUI SEI TIA PEPE SHIB WIF BONK JUP PYTH LDO CRV SNX COMP'
  .split(' ')
  .map((s) => `${s}USDT`);
const FIFTY_PROVIDERS = ['binance', 'bybit', 'okx'];
/** Every 7th symbol skips trade ids now and then: a flood of `gap` warnings, as in the issue. */
const gapsOn = (i: number): boolean => i % 7 === 3;

/**
 * Trades and quotes for 50 symbols from three live providers (~1000 events/s),
 * trade-id gaps on a few symbols, a duplicate trade and unparsable payloads
 * now and then, and a fourth provider that sends a little and then goes quiet.
 */
class FiftySymbolMarket {
  private timer: NodeJS.Timeout | null = null;
  private readonly prices = FIFTY.map((_, i) => 10 ** ((i % 5) - 1) * (1 + i / 7));
  private readonly tradeIds = FIFTY.map((_, i) => 1_000_000 * (i + 1));
  private tick = 0;
  private quiet: ReadonlySet<string> = new Set();

  constructor(private readonly nc: NatsConnection) {}

  start(): void {
    const now = Date.now();
    // kraken sends one quote per symbol of a handful, then nothing: it goes stale
    for (let i = 0; i < 5; i++) this.quote(i, 'kraken', now);
    this.timer = setInterval(() => this.publish(), 100);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** These symbols send nothing until silenced no more. */
  silence(symbols: ReadonlySet<string>): void {
    this.quiet = symbols;
  }

  private publish(): void {
    const now = Date.now();
    this.tick++;
    for (let i = 0; i < FIFTY.length; i++) {
      if (this.quiet.has(FIFTY[i]!)) continue;
      const provider = FIFTY_PROVIDERS[i % FIFTY_PROVIDERS.length]!;
      // a slow sine trend per symbol, so returns differ in sign and size
      const drift = 2e-4 * Math.sin(this.tick / 40 + i);
      this.prices[i]! *= Math.exp(drift + (Math.random() - 0.5) * 2e-4);
      this.tradeIds[i]! += gapsOn(i) && this.tick % 15 === 0 ? 4 : 1;
      this.trade(i, provider, now, this.tradeIds[i]!);
      this.quote(i, provider, now);
    }
    // a replayed trade (`duplicate`) and a broken payload (`parse_error`) every second
    if (this.tick % 10 === 0) {
      if (!this.quiet.has(FIFTY[0]!)) this.trade(0, 'binance', now, this.tradeIds[0]!);
      this.nc.publish('md.events.trade.BTCUSDT', '{"type":"trade",');
    }
  }

  private trade(i: number, provider: string, now: number, id: number): void {
    this.nc.publish(`md.events.trade.${FIFTY[i]}`, JSON.stringify({
      type: 'trade', provider, symbol: FIFTY[i], price: round(this.prices[i]!, 6), size: round(0.01 + Math.random(), 4),
      side: Math.random() < 0.5 ? 'buy' : 'sell', trade_id: String(id), ts_exchange: now - 5 - Math.random() * 30, ts_recv: now,
    }));
  }

  private quote(i: number, provider: string, now: number): void {
    const p = this.prices[i]!;
    const half = p * (0.5e-4 + Math.random() * 1e-4);
    this.nc.publish(`md.events.quote.${FIFTY[i]}`, JSON.stringify({
      type: 'quote', provider, symbol: FIFTY[i], bid: round(p - half, 8), ask: round(p + half, 8), bid_size: 1, ask_size: 1, ts_exchange: now - 5, ts_recv: now,
    }));
  }
}

describe.skipIf(!existsSync(CHROMIUM))(`the page with 50 symbols in Chromium${NO_BROWSER}`, () => {
  let browser: Browser;
  let page: Page;
  let fifty: FiftySymbolMarket;
  let many: { service: Service; base: string };
  const consoleErrors: string[] = [];
  const foreignRequests: string[] = [];

  beforeAll(async () => {
    // the three-symbol market stays quiet: this service sees the 50 symbols only
    market.stop();
    // latency alerts off, a short alert cooldown so gaps repeat, a short stale limit for the quiet provider
    many = await startDashboardService(nats.url, 0, { LATENCY_ALERT_MS: '60000', ALERT_COOLDOWN_MS: '200', STALE_AFTER_MS: '3000' });
    fifty = new FiftySymbolMarket(pub);
    fifty.start();
    browser = await launchChromium();
    page = await watchedPage(browser, many.base, consoleErrors, foreignRequests);
  });

  afterAll(async () => {
    fifty?.stop();
    await browser?.close();
    await many?.service.stop();
  });

  const rows = () => page.locator('[data-testid="symbol-table"] tbody tr:visible');

  it('switches to the compact table, one row per symbol, and the filter narrows it live', async () => {
    await waitFor(() => many.service.engine.symbols.size === 50, '50 symbols tracked', 15_000, 100);
    await page.goto(`${many.base}/`);
    await expect.poll(() => page.getByTestId('stream-status').getAttribute('data-state'), { timeout: 10_000 }).toBe('ok');
    await expect.poll(() => rows().count(), { timeout: 10_000 }).toBe(50);
    expect(await page.getByTestId('view-table').getAttribute('aria-pressed')).toBe('true');
    expect(await page.getByTestId('tiles').isVisible()).toBe(false);
    // labelled columns, figures in every row
    const heads = await page.locator('[data-testid="symbol-table"] thead th').allTextContents();
    expect(heads).toEqual(['Symbol', 'Mid', 'Spread bps', 'VWAP 10s', 'Ret 10s', 'Volume 10s', 'Vol 60s', 'Lat p95', 'Warm']);
    await expect.poll(async () => numeric(await page.locator('[data-testid="row-ETHUSDT"] [data-col="mid"]').textContent()), { timeout: 10_000 }).toBeGreaterThan(0);
    expect(await page.locator('[data-testid="row-ETHUSDT"] [data-col="spread"]').textContent()).toMatch(/^\d+\.\d{2}$/);
    expect(await page.locator('[data-testid="row-ETHUSDT"] [data-col="lat"]').textContent()).toMatch(/ ms$/);
    // a minute has not passed: every symbol is cold, and says so
    expect(await page.locator('[data-testid="row-ETHUSDT"] .warm-flag').textContent()).toBe('cold');
    await expect.poll(() => page.getByTestId('symbol-count').textContent()).toBe('50 symbols · 50 cold');

    await page.getByTestId('symbol-filter').fill('eth');
    await expect.poll(() => rows().count()).toBe(1);
    await page.getByTestId('symbol-filter').fill('btc, sol  link');
    await expect.poll(async () => (await attrAll(rows(), 'data-symbol')).sort()).toEqual(['BTCUSDT', 'LINKUSDT', 'SOLUSDT']);
    await expect.poll(() => page.getByTestId('symbol-count').textContent()).toMatch(/^3 of 50 symbols/);
    // a filter down to a few symbols charts exactly those
    expect((await attrAll(page.locator('#legend button:visible'), 'data-symbol')).sort()).toEqual(['BTCUSDT', 'LINKUSDT', 'SOLUSDT']);
    await page.getByTestId('symbol-filter').fill('');
    await expect.poll(() => rows().count()).toBe(50);

    // sorted by a header click: descending spread, then back
    await page.locator('th[data-sort="spread"]').click();
    expect(await page.locator('th[data-sort="spread"]').getAttribute('aria-sort')).toBe('descending');
    // rows are re-sorted once a second while the numbers shown move on: check the values they were sorted by
    await expect.poll(async () => {
      const spreads = (await attrAll(rows(), 'data-sort-value')).map(Number);
      return spreads.length === 50 && spreads.every((v, i) => i === 0 || spreads[i - 1]! >= v);
    }, { timeout: 5_000 }).toBe(true);
    await page.locator('th[data-sort="symbol"]').click();
    await expect.poll(() => rows().first().getAttribute('data-symbol')).toBe('AAVEUSDT');
    await page.locator('th[data-sort="symbol"]').click();
    await expect.poll(() => rows().first().getAttribute('data-symbol')).toBe('XRPUSDT');
    await page.locator('th[data-sort="symbol"]').click();
  });

  it('groups the alert flood by kind and symbol, with counts and whole messages', async () => {
    const gapSymbols = FIFTY.filter((_, i) => gapsOn(i));
    const gapGroups = page.locator('[data-testid="alert-group"][data-alert-kind="gap"]');
    // each gap symbol raises a `gap` every 1.5 s: after a few seconds each is one line with a count
    await expect.poll(() => gapGroups.count(), { timeout: 20_000 }).toBe(gapSymbols.length);
    await expect.poll(async () => Math.min(...(await attrAll(gapGroups, 'data-count')).map(Number)), { timeout: 20_000 }).toBeGreaterThanOrEqual(2);
    const subjects = await attrAll(gapGroups, 'data-subject');
    expect(subjects.sort()).toEqual([...gapSymbols].sort());
    const first = gapGroups.first();
    expect(await first.getByTestId('alert-count').textContent()).toMatch(/^×\d+$/);
    // the whole message, wrapped inside the panel, not cut off with an ellipsis
    const msg = first.getByTestId('alert-message');
    expect(await msg.textContent()).toMatch(/^3 trade ids missing from \w+ for [A-Z]+USDT$/);
    expect(await msg.evaluate((e) => e.scrollWidth <= e.clientWidth)).toBe(true);
    // the summary counts alerts and groups; signals stay in their own list
    expect(await page.getByTestId('alerts-summary').textContent()).toMatch(/^\d+ in \d+ groups$/);
    expect(await page.locator('#feed [data-kind="alert"]').count()).toBe(0);
  });

  it('shows processing latency, drops by reason and each provider with its last event', async () => {
    await expect.poll(async () => page.getByTestId('ops-latency-p50').textContent(), { timeout: 5_000 }).toMatch(/(ms|µs)$/);
    expect(await page.getByTestId('ops-latency-p99').textContent()).toMatch(/(ms|µs)$/);
    await expect.poll(async () => numeric(await page.getByTestId('drop-duplicate').getAttribute('data-count')), { timeout: 5_000 }).toBeGreaterThan(0);
    expect(numeric(await page.getByTestId('drop-parse_error').getAttribute('data-count'))).toBeGreaterThan(0);
    for (const provider of FIFTY_PROVIDERS) {
      expect(await page.getByTestId(`provider-${provider}`).getAttribute('data-stale')).toBe('false');
    }
    // kraken went quiet at the start: past STALE_AFTER_MS it is marked stale
    await expect.poll(() => page.getByTestId('provider-kraken').getAttribute('data-stale'), { timeout: 10_000 }).toBe('true');
    expect(await page.getByTestId('provider-kraken').textContent()).toMatch(/s agostale$/);
    expect(await page.getByTestId('ops-nats').textContent()).toBe('connected');

    // the chart keeps its height and its legend stays inside its box with 50 symbols
    const chart = await page.getByTestId('chart').boundingBox();
    expect(chart!.height).toBeGreaterThanOrEqual(240);
    expect(await page.getByTestId('legend').evaluate((e) => e.scrollWidth <= e.clientWidth)).toBe(true);
    await expect.poll(async () => Number(await page.getByTestId('chart').getAttribute('data-points')), { timeout: 10_000 }).toBeGreaterThan(20);

    // a screenshot worth looking at: 10 s of trades behind the returns, and the first signals
    await expect.poll(async () => (await page.locator('[data-testid="row-ETHUSDT"] [data-col="ret"]').textContent())!.endsWith('%'), { timeout: 20_000 }).toBe(true);
    await expect.poll(() => page.locator('#feed [data-kind="signal"]').count(), { timeout: 20_000 }).toBeGreaterThan(0);
    mkdirSync(OUTPUT_DIR, { recursive: true });
    await page.screenshot({ path: join(OUTPUT_DIR, 'dashboard-50-symbols.png') });
  });

  it('is usable 420 px wide: one column, no horizontal scroll of the page, the table scrolls in its own box', async () => {
    await page.getByTestId('symbol-filter').fill('');
    await page.setViewportSize({ width: 420, height: 900 });
    await expect.poll(() => page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(420);
    const table = await page.getByTestId('symbol-table').boundingBox();
    const ops = await page.getByTestId('ops').boundingBox();
    const chart = await page.getByTestId('chart').boundingBox();
    // stacked: symbols, chart, then the operations panel, each within the viewport's width
    expect(ops!.y).toBeGreaterThan(chart!.y);
    for (const box of [ops!, chart!]) expect(box.x + box.width).toBeLessThanOrEqual(420);
    expect(table!.width).toBeGreaterThan(420); // wider than the screen, scrolled inside .table-wrap
    expect(await page.locator('#table-wrap').evaluate((e) => e.scrollWidth > e.clientWidth && e.getBoundingClientRect().right <= 420)).toBe(true);
    await page.screenshot({ path: join(OUTPUT_DIR, 'dashboard-420px.png'), fullPage: true });

    // the user's choice of view wins over the symbol count
    await page.getByTestId('view-tiles').click();
    await expect.poll(() => page.locator('[data-testid="tiles"] .tile:visible').count()).toBe(50);
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(420);
    expect(await page.getByTestId('tile-ETHUSDT-return').textContent()).not.toBe('');
    expect(await page.getByTestId('tile-ETHUSDT').locator('.ret-l').textContent()).toBe('ret 10s');
    await page.getByTestId('symbol-filter').fill('sol');
    await expect.poll(() => page.locator('[data-testid="tiles"] .tile:visible').count()).toBe(1);
    await page.screenshot({ path: join(OUTPUT_DIR, 'dashboard-420px-tiles.png') });
    await page.getByTestId('symbol-filter').fill('');

    expect(foreignRequests).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });

  it('drops the tiles of symbols the service forgot (idle eviction), and shows them again when they come back', async () => {
    await page.setViewportSize({ width: 1280, height: 800 });
    const tiles = () => page.locator('[data-testid="tiles"] .tile');
    await expect.poll(() => tiles().count()).toBe(50);
    // a second page where no view was picked: 50 symbols put it in the table view by themselves
    const fresh = await watchedPage(browser, many.base, consoleErrors, foreignRequests);
    await fresh.goto(`${many.base}/`);
    await expect.poll(() => fresh.locator('[data-testid="symbol-table"] tbody tr').count(), { timeout: 10_000 }).toBe(50);
    expect(await fresh.getByTestId('view-table').getAttribute('aria-pressed')).toBe('true');
    fifty.stop();
    // what was published is processed: the server has it all, and the count stops moving
    await pub.flush();
    let last = -1;
    await waitFor(() => {
      const now = many.service.telemetry.eventsInTotal;
      const still = now === last;
      last = now;
      return still;
    }, 'the last events processed', 10_000, 200);
    // every symbol idle since before now: forgotten, as SYMBOL_IDLE_EVICT_S would
    expect(many.service.pipeline.evictIdle(Date.now() + 1, 0)).toHaveLength(50);
    await expect.poll(() => tiles().count(), { timeout: 5_000 }).toBe(0);
    expect(await page.locator('[data-testid="symbol-table"] tbody tr').count()).toBe(0);
    await expect.poll(() => page.getByTestId('symbol-count').getAttribute('data-shown')).toBe('0');
    await expect.poll(() => page.getByTestId('tiles-empty').isVisible()).toBe(true);
    expect(await page.getByTestId('tiles-empty').textContent()).toBe('Waiting for market data…');
    // the view the count chose goes back with it, so the placeholder shows there too
    await expect.poll(() => fresh.getByTestId('tiles-empty').isVisible(), { timeout: 5_000 }).toBe(true);
    expect(await fresh.getByTestId('view-tiles').getAttribute('aria-pressed')).toBe('true');
    await fresh.close();
    // a reload starts from a snapshot (features and chart history) without them
    await page.reload();
    await expect.poll(() => page.getByTestId('stream-status').getAttribute('data-state'), { timeout: 10_000 }).toBe('ok');
    expect(await tiles().count()).toBe(0);
    fifty.start();
    await expect.poll(() => tiles().count(), { timeout: 10_000 }).toBe(50);
    expect(await page.getByTestId('tiles-empty').isVisible()).toBe(false);
    expect(consoleErrors).toEqual([]);
  });

  it('drops what was forgotten while it was disconnected, from the complete snapshot it reconnects to, and keeps a line on the chart', async () => {
    const tiles = () => page.locator('[data-testid="tiles"] .tile');
    const charted = () => attrAll(page.locator('[data-testid="tiles"] .tile[aria-pressed="true"]'), 'data-symbol');
    await expect.poll(() => tiles().count(), { timeout: 10_000 }).toBe(50);
    // chart one symbol only, then let it go quiet with half the others
    // (a click event, not a pointer: tiles keep updating, so they are never "stable" to Playwright)
    for (const sym of await charted()) await page.getByTestId(`tile-${sym}`).dispatchEvent('click');
    await page.getByTestId('tile-BTCUSDT').dispatchEvent('click');
    expect(await charted()).toEqual(['BTCUSDT']);
    const quiet = new Set(FIFTY.filter((_, i) => i % 2 === 0)); // BTCUSDT is FIFTY[0]
    fifty.silence(quiet);
    await new Promise((r) => setTimeout(r, 500)); // what they sent last is in
    const cut = Date.now();
    await new Promise((r) => setTimeout(r, 300));
    // the page is cut off (its stream closed, reconnects refused), the quiet symbols are forgotten meanwhile, then it reconnects
    await page.route('**/stream', (route) => route.abort());
    many.service.http.server.closeAllConnections();
    await expect.poll(() => page.getByTestId('stream-status').getAttribute('data-state'), { timeout: 10_000 }).not.toBe('ok');
    expect(many.service.pipeline.evictIdle(cut, 0).sort()).toEqual([...quiet].sort());
    expect(await tiles().count()).toBe(50); // it heard nothing of it
    await page.unroute('**/stream');
    await expect.poll(() => page.getByTestId('stream-status').getAttribute('data-state'), { timeout: 15_000 }).toBe('ok');
    // the snapshot lists every symbol the service has (25 < 256): the other 25 go
    await expect.poll(() => tiles().count(), { timeout: 5_000 }).toBe(25);
    expect((await attrAll(tiles(), 'data-symbol')).some((sym) => quiet.has(sym))).toBe(false);
    // BTCUSDT was the one line on the chart: the first tile left took its place
    await expect.poll(() => charted()).toEqual([FIFTY.filter((_, i) => i % 2 === 1).sort()[0]]);
    fifty.silence(new Set());
    await expect.poll(() => tiles().count(), { timeout: 10_000 }).toBe(50);
    // the one console error is the stream this test cut
    expect(consoleErrors.filter((e) => !e.includes('net::ERR_INCOMPLETE_CHUNKED_ENCODING') && !e.includes('net::ERR_FAILED'))).toEqual([]);
  });
});

/** One attribute of every element a locator matches. */
async function attrAll(locator: Locator, name: string): Promise<string[]> {
  return locator.evaluateAll((els, n) => els.map((e) => e.getAttribute(n) ?? ''), name);
}

function numeric(text: string | null): number {
  const n = Number((text ?? '').replace(/,/g, ''));
  return Number.isFinite(n) ? n : Number.NaN;
}
