import { randomBytes } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestNatsServer, waitFor } from '../helpers/nats-server.js';
import { Collector, getJson, startService } from '../helpers/service.js';

let nats: TestNatsServer;
beforeAll(async () => {
  nats = await TestNatsServer.start({ jetstream: false });
});
afterAll(async () => {
  await nats?.stop();
});

describe('resilience', () => {
  it('survives a NATS stop and restart: /health 503 then 200, the gauge follows, processing resumes', async () => {
    const { base, stop } = await startService(nats.url);
    try {
      const metric = async () => /^senpai_nats_connected (\d)$/m.exec(await (await fetch(`${base}/metrics`)).text())?.[1];
      expect((await getJson(`${base}/health`)).status).toBe(200);
      await nats.halt();
      const down = await waitFor(async () => {
        const h = await getJson(`${base}/health`);
        return h.status === 503 ? h.body : null;
      }, '/health 503');
      expect(down).toMatchObject({ status: 'degraded', nats_connected: false });
      expect(await metric()).toBe('0');
      await nats.resume();
      await waitFor(async () => (await getJson(`${base}/health`)).status === 200, '/health 200 again', 20_000);
      // /metrics is rendered at most once per second: the gauge follows within that
      await waitFor(async () => (await metric()) === '1', 'the gauge back at 1');

      const alerts = await Collector.open(nats.url, ['senpai.alerts']);
      const nc = await connect({ servers: nats.url });
      nc.publish('md.events.trade.RS', JSON.stringify({ type: 'trade', symbol: 'RS', price: 5, size: 1, ts_exchange: Date.now() }));
      await nc.flush();
      await waitFor(async () => (await getJson(`${base}/features/latest?symbol=RS`)).status === 200, 'processing after reconnect');
      await nc.close();
      await alerts.close();
    } finally {
      await stop();
    }
  });

  it('notices a frozen server (SIGSTOP: sockets open, nothing answered) within a few pings, and recovers when it runs again', async () => {
    const { base, stop } = await startService(nats.url);
    try {
      expect((await getJson(`${base}/health`)).status).toBe(200);
      nats.freeze();
      const frozenAt = Date.now();
      // three unanswered 2 s pings (DECISIONS 100); with 10 s pings this took 30–40 s
      const down = await waitFor(async () => {
        const h = await getJson(`${base}/health`);
        return h.status === 503 ? h.body : null;
      }, '/health 503 while the server is frozen', 15_000);
      console.log(`frozen server noticed after ${((Date.now() - frozenAt) / 1000).toFixed(1)} s`);
      expect(down).toMatchObject({ status: 'degraded', nats_connected: false });
      nats.thaw();
      await waitFor(async () => (await getJson(`${base}/health`)).status === 200, '/health 200 after the thaw', 20_000);
    } finally {
      nats.thaw();
      await stop();
    }
  }, 60_000);

  it('stays up through 10,000 malformed messages, counting each, and processes the valid events around them', async () => {
    const { base, stop, service } = await startService(nats.url, { QUEUE_MAX_SIZE: '100000' });
    const nc = await connect({ servers: nats.url });
    try {
      const bad: [string, Uint8Array | string][] = [];
      for (let i = 0; i < 10_000; i++) {
        switch (i % 10) {
          case 0: bad.push(['md.events.trade.X', randomBytes(1 + (i % 200))]); break;
          case 1: bad.push(['md.events.trade.X', JSON.stringify({ type: 'trade', symbol: 'X', price: 'lots', size: 1, ts_exchange: 1 })]); break;
          case 2: bad.push(['md.events.quote.X', JSON.stringify({ type: 'quote', symbol: 'X', bid: 1e308 * 10, ask: 2, ts_exchange: Date.now() })]); break;
          case 3: bad.push(['md.events.trade.X', `{"type":"trade","symbol":"X","price":1e999,"size":1,"ts_exchange":${Date.now()}}`]); break;
          case 4: bad.push(['md.events.trade.X', JSON.stringify({ type: 'trade', symbol: 'BTC.>', price: 1, size: 1, ts_exchange: Date.now() })]); break;
          case 5: bad.push(['md.events.trade.X', '[1,2,3]']); break;
          case 6: bad.push(['md.events.book_l2.X', JSON.stringify({ type: 'book_l2', symbol: 'X', bids: [[1, 1]], asks: 'none', ts_exchange: Date.now() })]); break;
          case 7: bad.push(['md.events.wat.X', JSON.stringify({ type: 42 })]); break;
          case 8: bad.push(['md.events.trade.X', JSON.stringify({ type: 'trade', symbol: { a: [1, { b: null }] }, price: [1], size: true })]); break;
          default: bad.push(['md.events.trade.X', '{"a":' + '['.repeat(64) + ']'.repeat(64) + '}']); break;
        }
      }
      for (let i = 0; i < 20; i++) bad.push(['md.events.trade.X', Buffer.alloc(2 * 1024 * 1024 + i, 0x7b)]); // 2 MiB
      const t0 = Date.now();
      let valid = 0;
      for (let i = 0; i < bad.length; i++) {
        nc.publish(bad[i]![0], bad[i]![1]);
        if (i % 100 === 0) {
          valid++;
          nc.publish('md.events.trade.GOOD', JSON.stringify({ type: 'trade', symbol: 'GOOD', price: 10, size: 1, trade_id: String(i), ts_exchange: t0 + i / 1000 }));
        }
      }
      await nc.flush();
      const total = bad.length + valid;
      const stats = await waitFor(async () => {
        const s = (await getJson(`${base}/stats`)).body;
        return s.events_processed_total === total ? s : null;
      }, 'every message processed', 30_000).catch(async (e) => { console.log(JSON.stringify((await getJson(`${base}/stats`)).body)); throw e; });
      expect(stats.events_dropped_total).toBe(bad.length);
      const byReason = stats.dropped_by_reason as Record<string, number>;
      expect((byReason.parse_error ?? 0) + (byReason.invalid ?? 0)).toBe(bad.length);
      expect(byReason.invalid).toBeGreaterThanOrEqual(20); // the 2 MiB payloads at least
      expect((await getJson(`${base}/features/latest?symbol=GOOD`)).body.trade_count_10s).toBe(valid);
      expect((await getJson(`${base}/health`)).body.symbols).toEqual(['GOOD']);
      expect(service.natsConnected).toBe(true);
    } finally {
      await nc.close();
      await stop();
    }
  });
});

describe('shutdown', () => {
  it('stops within the drain bound even while NATS is down', async () => {
    const own = await TestNatsServer.start({ jetstream: false });
    const { stop } = await startService(own.url);
    await own.halt();
    const t = Date.now();
    await stop();
    expect(Date.now() - t).toBeLessThan(8_000);
    await own.stop();
  });
});

describe('coverage after a core-mode reconnect (SPEC §11)', () => {
  it('moves past the gap in queue order while a backlog that never empties is still being processed', async () => {
    const own = await TestNatsServer.start({ jetstream: false });
    const { service, stop } = await startService(own.url, { QUEUE_MAX_SIZE: '1000000' });
    const pub = await connect({ servers: own.url, reconnectTimeWait: 100 });
    const engine = service.engine;
    // about 1 ms per event: the 3000 events/s published below outrun it, so the queue only grows
    const ingest = engine.ingest.bind(engine);
    let sampling = false;
    let minQueued = Number.POSITIVE_INFINITY;
    engine.ingest = (...args: Parameters<typeof engine.ingest>) => {
      // what is left in the queue, at every event: a moment it ran empty cannot be missed
      if (sampling) minQueued = Math.min(minQueued, service.pipeline.queue.size);
      const until = performance.now() + 1;
      while (performance.now() < until);
      return ingest(...args);
    };
    let n = 0;
    const publishing = setInterval(() => {
      for (let i = 0; i < 30; i++) {
        n++;
        pub.publish('md.events.trade.BACKLOG', JSON.stringify({ type: 'trade', provider: 'p', symbol: 'BACKLOG', price: 1, size: 1, trade_id: String(n), ts_exchange: Date.now() }));
      }
    }, 10);
    try {
      // 8 s of work at 1 ms per event: the outage below (halt, restart, reconnect) must not drain it on a loaded machine
      await waitFor(() => service.pipeline.queue.size > 8000, 'a backlog of 8000 events', 30_000);
      const before = engine.coverage.start;
      sampling = true;
      const haltAt = Date.now();
      expect(haltAt - before).toBeGreaterThan(1000);
      await own.halt();
      await waitFor(() => !service.natsConnected, 'the service sees the disconnect');
      await own.resume();
      await waitFor(() => service.natsConnected, 'the service reconnected', 20_000);
      // what was queued before the gap is processed, then the first event after it moves coverage_start
      await waitFor(() => engine.coverage.start >= haltAt - 500, 'coverage_start past the gap', 40_000);
      sampling = false;
      expect(minQueued).toBeGreaterThan(0); // the queue never emptied meanwhile
      expect(service.pipeline.queue.size).toBeGreaterThan(0);
    } finally {
      clearInterval(publishing);
      engine.ingest = ingest; // the rest drains at full speed
      await pub.close();
      await stop();
      await own.stop();
    }
  }, 120_000);
});
