import { describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/nats-server.js';
import { Collector, coreNatsForFile, getJson, startService } from '../helpers/service.js';

/**
 * Numbers a trading agent can trust (SPEC revision 2, §2/§3/§6): each case
 * is one way the previous version published wrong numbers without a word.
 */
const suite = coreNatsForFile();

const trade = (symbol: string, over: Record<string, unknown>) =>
  JSON.stringify({ type: 'trade', provider: 'binance', symbol, price: 100, size: 1, side: 'buy', ...over });
const quote = (symbol: string, bid: number, ask: number, ts: number) =>
  JSON.stringify({ type: 'quote', provider: 'binance', symbol, bid, ask, bid_size: 1, ask_size: 1, ts_exchange: ts });

async function stats(base: string) {
  return (await getJson(`${base}/stats`)).body as { events_processed_total: number; dropped_by_reason: Record<string, number>; queue: { bytes: number; max_bytes: number } };
}

describe('numbers a trading agent can trust (live)', () => {
  it('a trade stamped in the year 3000 (ts_recv only) is invalid and does not move the symbol clock', async () => {
    const { base, stop } = await startService(suite.nats.url);
    try {
      const now = Date.now();
      suite.pub.publish('md.events.trade.FUT', trade('FUT', { trade_id: '1', ts_recv: 32_503_680_000_000 }));
      suite.pub.publish('md.events.trade.FUT', trade('FUT', { trade_id: '2', price: 101, ts_exchange: now }));
      suite.pub.publish('md.events.trade.FUT', trade('FUT', { trade_id: '3', price: 102, ts_exchange: now + 5 }));
      const f = await waitFor(async () => {
        const r = await getJson(`${base}/features/latest?symbol=FUT`);
        return r.status === 200 && r.body.trade_count_10s === 2 ? r.body : null;
      }, 'both later trades accepted');
      expect(f.ts).toBe(now + 5);
      expect(f.trade_vwap_10s).toBeCloseTo(101.5, 9);
      expect((await stats(base)).dropped_by_reason.invalid).toBe(1);
    } finally {
      await stop();
    }
  });

  it('a trade of size 1e308 is invalid; VWAP and volume stay numbers', async () => {
    const { base, stop } = await startService(suite.nats.url);
    try {
      const now = Date.now();
      suite.pub.publish('md.events.trade.BIG', trade('BIG', { trade_id: '1', ts_exchange: now }));
      suite.pub.publish('md.events.trade.BIG', trade('BIG', { trade_id: '2', size: 1e308, ts_exchange: now + 1 }));
      suite.pub.publish('md.events.trade.BIG', trade('BIG', { trade_id: '3', price: 2e15, ts_exchange: now + 2 }));
      suite.pub.publish('md.events.trade.BIG', trade('BIG', { trade_id: '4', price: 102, size: 3, ts_exchange: now + 3 }));
      const f = await waitFor(async () => {
        const r = await getJson(`${base}/features/latest?symbol=BIG`);
        return r.status === 200 && r.body.trade_count_10s === 2 ? r.body : null;
      }, 'the two valid trades');
      expect(f.trade_volume_10s).toBe(4);
      expect(f.trade_vwap_10s).toBeCloseTo((100 + 306) / 4, 9);
      expect((await stats(base)).dropped_by_reason.invalid).toBe(2);
    } finally {
      await stop();
    }
  });

  it('a redelivered or delayed older quote never replaces the newer best bid/ask', async () => {
    const { base, stop } = await startService(suite.nats.url);
    try {
      const now = Date.now();
      suite.pub.publish('md.events.quote.Q', quote('Q', 100, 101, now));
      suite.pub.publish('md.events.quote.Q', quote('Q', 90, 91, now - 500)); // arrives later, older
      suite.pub.publish('md.events.trade.Q', trade('Q', { trade_id: '1', ts_exchange: now - 400 }));
      const f = await waitFor(async () => {
        const r = await getJson(`${base}/features/latest?symbol=Q`);
        return r.status === 200 && r.body.trade_count_10s === 1 ? r.body : null;
      }, "all three events");
      expect([f.mid, f.spread_abs]).toEqual([100.5, 1]);
      const st = (await getJson(`${base}/state/latest?symbol=Q`)).body as { quote: { bid: number } };
      expect(st.quote.bid).toBe(100);
    } finally {
      await stop();
    }
  });

  it('frees the slot of an idle symbol once MAX_SYMBOLS is reached; a new symbol is then accepted', async () => {
    // eviction after 300 ms of silence (operators may choose >= the window, in seconds)
    const { base, service, stop } = await startService(suite.nats.url, { MAX_SYMBOLS: '1' }, { symbolIdleEvictMs: 300 });
    try {
      const now = Date.now();
      suite.pub.publish('md.events.trade.OLD', trade('OLD', { trade_id: '1', ts_exchange: now }));
      await waitFor(() => service.engine.symbols.has('OLD'), 'OLD tracked');
      suite.pub.publish('md.events.trade.NEW', trade('NEW', { trade_id: '1', ts_exchange: now }));
      await waitFor(async () => (await stats(base)).dropped_by_reason.symbol_limit === 1, 'NEW refused at the limit');
      await waitFor(() => !service.engine.symbols.has('OLD'), 'OLD forgotten after its idle time', 5000);
      suite.pub.publish('md.events.trade.NEW', trade('NEW', { trade_id: '2', ts_exchange: now + 10 }));
      const f = await waitFor(async () => {
        const r = await getJson(`${base}/features/latest?symbol=NEW`);
        return r.status === 200 ? r.body : null;
      }, 'NEW accepted');
      expect(f.trade_count_10s).toBe(1);
      expect(f.warm).toBe(false);
      expect((await getJson(`${base}/features/latest?symbol=OLD`)).status).toBe(404);
    } finally {
      await stop();
    }
  });

  it('core mode: a flood of large trades is bounded by QUEUE_MAX_BYTES, dropped as overflow with a critical alert', async () => {
    const { base, service, stop } = await startService(suite.nats.url, { QUEUE_MAX_BYTES: '1048576', QUEUE_MAX_SIZE: '100000' });
    const alerts = await Collector.open(suite.nats.url, ['senpai.alerts']);
    try {
      const padding = 'x'.repeat(400_000);
      const now = Date.now();
      const N = 150;
      for (let i = 0; i < N; i++) suite.pub.publish('md.events.trade.FLOOD', trade('FLOOD', { trade_id: String(i), ts_exchange: now + i, note: padding }));
      await suite.pub.flush();
      const s = await waitFor(async () => {
        const st = await stats(base);
        return st.events_processed_total + (st.dropped_by_reason.overflow ?? 0) === N ? st : null;
      }, 'every message processed or dropped', 60_000);
      const peak = service.pipeline.queue.peakBytes;
      const overflow = s.dropped_by_reason.overflow ?? 0;
      console.log(`overflow flood: ${N} trades of 400 kB, ${overflow} dropped as overflow, peak queued bytes ${peak} (bound ${s.queue.max_bytes})`);
      expect(overflow).toBeGreaterThan(0);
      expect(peak).toBeGreaterThan(400_000); // a message did wait in the queue
      expect(peak).toBeLessThanOrEqual(1_048_576);
      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toContain(`senpai_events_dropped_total{reason="overflow",type="trade"} ${overflow}`);
      await waitFor(() => alerts.on('senpai.alerts').some((a) => a.kind === 'backpressure' && a.level === 'critical'), 'a critical backpressure alert');
      const f = (await getJson(`${base}/features/latest?symbol=FLOOD`)).body;
      expect(f.warm).toBe(false); // events were lost: the window is not whole
    } finally {
      await alerts.close();
      await stop();
    }
  });
});
