import { describe, expect, it } from 'vitest';
import { decode } from '../../src/decode/decode.js';
import { MarketEngine } from '../../src/engine/market-engine.js';
import { computeFeatures } from '../../src/features/feature-engine.js';
import { isRejection } from '../../src/domain/events.js';
import type { FeatureSnapshot } from '../../src/domain/features.js';
import { waitFor } from '../helpers/nats-server.js';
import { Collector, coreNatsForFile, getJson, startService } from '../helpers/service.js';
import { engineConfig } from '../helpers/events.js';

const suite = coreNatsForFile();

/** A deterministic stream: trades with a rising price, quotes, a book, heartbeats; times near now. */
function stream(n: number, t0: number): { subject: string; payload: Record<string, unknown> }[] {
  const out: { subject: string; payload: Record<string, unknown> }[] = [];
  let price = 100;
  for (let i = 0; i < n; i++) {
    const ts = t0 + i * 40;
    const sym = i % 3 === 0 ? 'ETHUSDT' : 'BTCUSDT';
    price *= 1 + (i % 7 === 0 ? 0.002 : 0.0004);
    if (i % 5 === 0) out.push({ subject: `md.events.quote.${sym}`, payload: { type: 'quote', provider: 'binance', symbol: sym, bid: price - 0.01, ask: price + 0.01, bid_size: 1, ask_size: 1, ts_exchange: ts } });
    else if (i % 23 === 0) out.push({ subject: `md.events.book_l2.${sym}`, payload: { type: 'book_l2', provider: 'bybit', symbol: sym, bids: [[price - 0.02, 1]], asks: [[price + 0.02, 2]], ts_exchange: ts } });
    else if (i % 50 === 0) out.push({ subject: 'md.events.heartbeat.__system__', payload: { type: 'heartbeat', provider: 'binance', ts_exchange: ts } });
    else out.push({ subject: `md.events.trade.${sym}`, payload: { type: 'trade', provider: 'binance', symbol: sym, price, size: 0.3, side: 'buy', trade_id: String(1000 + i), ts_exchange: ts } });
  }
  return out;
}

const WITHOUT_LATENCY = (f: Record<string, unknown>) => {
  const { latency_ms_p50: _a, latency_ms_p95: _b, ...rest } = f;
  return rest;
};

// the representative tests run with the engine on the I/O thread and on its own thread (ENGINE_THREAD)
for (const engineThread of ['main', 'worker'] as const) {
  describe(`live service over a real nats-server (ENGINE_THREAD=${engineThread})`, () => {
    const thread = { ENGINE_THREAD: engineThread };
    it('turns md.events into features, signals and alerts on NATS and HTTP, equal to the offline engine', async () => {
      const { service, base, stop } = await startService(suite.nats.url, { ...thread, FEATURES_PUB_RATE_HZ: '10', LATENCY_ALERT_MS: '1' });
      const out = await Collector.open(suite.nats.url, ['senpai.>']);
      try {
        const events = stream(400, Date.now() - 20_000);
        for (const e of events) suite.pub.publish(e.subject, JSON.stringify(e.payload));
        suite.pub.publish('md.events.trade.BTCUSDT', '{"type":"trade",'); // one parse error among them
        await suite.pub.flush();
        await waitFor(async () => (await getJson(`${base}/stats`)).body.events_processed_total === events.length + 1, 'all events processed');
        await waitFor(() => out.on('senpai.features.BTCUSDT').length > 0 && out.on('senpai.features.ETHUSDT').length > 0, 'features');

        // the same events through the engine offline
        const offline = new MarketEngine(engineConfig(), 'offline');
        const last = new Map<string, FeatureSnapshot>();
        let offlineSignals = 0;
        for (const e of events) {
          const ev = decode(e.subject, Buffer.from(JSON.stringify(e.payload)));
          if (isRejection(ev)) throw new Error(ev.detail);
          const o = offline.ingest(ev, 0);
          if (isRejection(o)) throw new Error(o.detail);
          if (o.state !== null) last.set(o.state.symbol, computeFeatures(o.state));
          if (o.signal !== null) offlineSignals++;
        }
        for (const sym of ['BTCUSDT', 'ETHUSDT']) {
          const http = await getJson(`${base}/features/latest?symbol=${sym.toLowerCase()}`);
          expect(http.status).toBe(200);
          expect(WITHOUT_LATENCY(http.body)).toEqual(WITHOUT_LATENCY(last.get(sym) as unknown as Record<string, unknown>));
          expect(http.body.latency_ms_p50).toBeGreaterThan(3_000); // local receive time vs exchange times 4-20 s old
          // the trailing edge: the newest features went out on NATS
          await waitFor(() => {
            const pubs = out.on(`senpai.features.${sym}`);
            return JSON.stringify(pubs[pubs.length - 1]) === JSON.stringify(http.body);
          }, `last published ${sym} features equal to the final state`);
        }
        const signals = out.on('senpai.signals.');
        expect(signals.length).toBe(offlineSignals);
        expect(signals.length).toBeGreaterThan(0);
        expect(signals[0]).toMatchObject({ v: 1, thresholds: { return: 0.003, volume: 1, spread_bps: 20 } });
        await waitFor(() => out.on('senpai.alerts').some((a) => a.kind === 'latency' && a.level === 'critical'), 'a latency alert');

        const state = await getJson(`${base}/state/latest?symbol=BTC/USDT`);
        expect(Object.keys(state.body)).toEqual(['symbol', 'trade', 'quote', 'book']);
        expect(state.body.trade).toMatchObject({ provider: 'binance', side: 'buy' });
        expect(Math.abs((state.body.trade as { ts_recv: number }).ts_recv - Date.now())).toBeLessThan(60_000);
        expect(Object.keys(state.body.book as object)).toEqual(['bids', 'asks', 'provider', 'ts_exchange', 'ts_recv']);

        const health = await getJson(`${base}/health`);
        expect(health).toMatchObject({ status: 200, body: { status: 'ok', nats_connected: true, symbols: ['BTCUSDT', 'ETHUSDT'] } });
        const stats = (await getJson(`${base}/stats`)).body;
        expect(stats).toMatchObject({ events_in_total: events.length + 1, events_dropped_total: 1, dropped_by_reason: { parse_error: 1 }, symbols: 2, signals_emitted_total: offlineSignals });
        expect(stats.features_published_total).toBe(out.on('senpai.features.').length);
        expect(service.natsConnected).toBe(true);

        const metrics = await (await fetch(`${base}/metrics`)).text();
        expect(metrics).toMatch(/senpai_events_in_total\{type="trade",provider="binance"\} \d+/);
        expect(metrics).toMatch(/senpai_events_dropped_total\{reason="parse_error",type="trade"\} 1/);
        expect(metrics).toMatch(/senpai_nats_connected 1/);
        expect(metrics).toMatch(/senpai_processing_latency_ms_count \d+/);
        expect(metrics).toMatch(/process_cpu_user_seconds_total/);
      } finally {
        await out.close();
        await stop();
      }
    });

    it('answers HTTP errors as JSON without internals', async () => {
      const { base, stop } = await startService(suite.nats.url, thread);
      try {
        expect(await getJson(`${base}/features/latest`)).toMatchObject({ status: 400, body: { error: expect.stringMatching(/missing/) } });
        expect(await getJson(`${base}/features/latest?symbol=BTC.>`)).toMatchObject({ status: 400 });
        expect(await getJson(`${base}/state/latest?symbol=A&symbol=B`)).toMatchObject({ status: 400 });
        expect(await getJson(`${base}/features/latest?symbol=NOPE`)).toMatchObject({ status: 404, body: { error: expect.stringMatching(/unknown symbol NOPE/) } });
        const r = await getJson(`${base}/no/such/path`);
        expect(r.status).toBe(404);
        expect(JSON.stringify(r.body)).not.toMatch(/at .*\.js/);
      } finally {
        await stop();
      }
    });

    it.runIf(engineThread === 'main')('throttles a burst of 1000 events within 1 s to at most 11 feature publishes, the last equal to the final state', async () => {
      const { base, stop } = await startService(suite.nats.url, { FEATURES_PUB_RATE_HZ: '10' });
      const out = await Collector.open(suite.nats.url, ['senpai.features.THR']);
      try {
        const t0 = Date.now();
        const started = Date.now();
        for (let i = 0; i < 1000; i++) {
          suite.pub.publish('md.events.trade.THR', JSON.stringify({ type: 'trade', symbol: 'THR', price: 100 + i / 100, size: 1, trade_id: String(i), ts_exchange: t0 + i }));
          if (i % 100 === 99) {
            await suite.pub.flush();
            await new Promise((r) => setTimeout(r, 85)); // ~0.9 s in all
          }
        }
        await suite.pub.flush();
        const spent = Date.now() - started;
        const final = await waitFor(async () => {
          const r = await getJson(`${base}/features/latest?symbol=THR`);
          return r.body.trade_count_10s === 1000 ? r.body : null;
        }, 'all 1000 trades');
        await waitFor(() => JSON.stringify(out.on('senpai.features.THR').at(-1)) === JSON.stringify(final), 'trailing edge published');
        await new Promise((r) => setTimeout(r, 300)); // nothing more may follow
        const n = out.on('senpai.features.THR').length;
        // at 10 Hz: one leading publish plus at most one per 100 ms of burst (11 for a burst within 1 s);
        // on a loaded machine the test's own publisher may take longer than 1 s, so the bound follows it
        expect(n).toBeLessThanOrEqual(spent < 1000 ? 11 : 1 + Math.ceil(spent / 100));
        expect(n).toBeGreaterThanOrEqual(5);
        expect(out.on('senpai.features.THR').at(-1)).toEqual(final);
      } finally {
        await out.close();
        await stop();
      }
    });

    it('under backpressure drops only non-trades, processes every trade, and counts the drops', async () => {
      const { base, stop } = await startService(suite.nats.url, { ...thread, QUEUE_MAX_SIZE: '50' });
      const alerts = await Collector.open(suite.nats.url, ['senpai.alerts']);
      try {
        const t0 = Date.now();
        let trades = 0;
        let quotes = 0;
        for (let i = 0; i < 20_000; i++) {
          if (i % 4 === 0) {
            trades++;
            suite.pub.publish('md.events.trade.BP', JSON.stringify({ type: 'trade', symbol: 'BP', price: 100, size: 1, trade_id: String(i), ts_exchange: t0 + i / 100 }));
          } else {
            quotes++;
            suite.pub.publish('md.events.quote.BP', JSON.stringify({ type: 'quote', provider: 'okx', symbol: 'BP', bid: 99, ask: 101, ts_exchange: t0 + i / 100 }));
          }
        }
        await suite.pub.flush();
        const stats = await waitFor(async () => {
          const s = (await getJson(`${base}/stats`)).body;
          return s.events_in_total === 20_000 && (s.queue as { size: number }).size === 0 ? s : null;
        }, 'all messages seen and the queue drained');
        const dropped = (stats.dropped_by_reason as Record<string, number>).backpressure ?? 0;
        expect(dropped).toBeGreaterThan(0);
        expect(dropped).toBeLessThanOrEqual(quotes);
        const features = (await getJson(`${base}/features/latest?symbol=BP`)).body;
        expect(features.trade_count_10s).toBe(trades); // every trade processed: all within 10 s
        const metrics = await (await fetch(`${base}/metrics`)).text();
        expect(metrics).toContain(`senpai_events_dropped_total{reason="backpressure",type="quote"} ${dropped}`);
        expect(metrics).toContain('senpai_events_dropped_total{reason="backpressure",type="trade"} 0');
        // dropped before parsing: provider unknown; processed quotes carry theirs
        expect(metrics).toContain(`senpai_events_in_total{type="quote",provider="unknown"} ${dropped}`);
        expect(metrics).toContain(`senpai_events_in_total{type="quote",provider="okx"} ${quotes - dropped}`);
        await waitFor(() => alerts.on('senpai.alerts').some((a) => a.kind === 'backpressure'), 'a backpressure alert');
      } finally {
        await alerts.close();
        await stop();
      }
    });
  });
}
