import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Service } from '../../src/app/service.js';
import { loadConfig } from '../../src/config/config.js';
import { attachDashboard } from '../../src/http/dashboard.js';
import { contractErrors } from '../helpers/contract.js';
import { TestNatsServer, waitFor } from '../helpers/nats-server.js';
import { coreNatsForFile, getJson, startService } from '../helpers/service.js';

const suite = coreNatsForFile();

describe('ENGINE_THREAD=worker', () => {
  it('answers state reads with what the engine thread processed, and the dashboard views follow it', async () => {
    const { service, base, stop } = await startService(suite.nats.url, { ENGINE_THREAD: 'worker' });
    try {
      const t0 = Date.now();
      for (let i = 0; i < 500; i++) {
        suite.pub.publish('md.events.trade.ETH', JSON.stringify({ type: 'trade', provider: 'kraken', symbol: 'ETH', price: 2000 + i, size: 1, trade_id: String(i), ts_exchange: t0 + i }));
      }
      await suite.pub.flush();
      // each read is the engine thread's state now: once 500 are counted, the last trade is there
      await waitFor(async () => (await getJson(`${base}/stats`)).body.events_processed_total === 500, 'all processed');
      const state = await getJson(`${base}/state/latest?symbol=eth`);
      expect(state.body.trade).toMatchObject({ price: 2499, trade_id: '499', provider: 'kraken' });
      expect((await getJson(`${base}/features/latest?symbol=ETH`)).body).toMatchObject({ symbol: 'ETH', trade_count_10s: 500 });
      expect(await getJson(`${base}/health`)).toMatchObject({ status: 200, body: { status: 'ok', symbols: ['ETH'] } });
      expect(service.views.symbols.size).toBe(1);
      await waitFor(() => service.views.providerLastSeen().has('kraken'), 'provider seen');
      // the engine on the I/O thread stays idle in this mode
      expect(service.engine.symbols.size).toBe(0);
    } finally {
      await stop();
    }
  });

  it('feeds the dashboard stream with the features and stats of the engine thread', async () => {
    const config = loadConfig({ NATS_URL: suite.nats.url, HTTP_HOST: '127.0.0.1', HTTP_PORT: '0', ENGINE_THREAD: 'worker' });
    const service = new Service(config, pino({ level: 'silent' }), { defaultMetrics: false, extendHttp: attachDashboard });
    const base = `http://127.0.0.1:${await service.listen()}`;
    await service.start();
    const abort = new AbortController();
    try {
      const res = await fetch(`${base}/stream`, { signal: abort.signal });
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      let text = '';
      const t0 = Date.now();
      suite.pub.publish('md.events.trade.SOL', JSON.stringify({ type: 'trade', provider: 'okx', symbol: 'SOL', price: 150, size: 2, trade_id: '1', ts_exchange: t0 }));
      await suite.pub.flush();
      // frames until one carries SOL's features and stats that counted its trade
      while (!(/"symbol":"SOL"/.test(text) && /"events_in_total":1[,}]/.test(text))) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      expect(text).toMatch(/"symbol":"SOL"/);
      expect(text).toMatch(/"events_in_total":1[,}]/);
      // forgotten on the engine thread (idle eviction): the page is told to drop it
      expect(await service.engineThread!.evictIdle(Date.now() + 1000, 0)).toEqual(['SOL']);
      while (!text.includes('event: forget\n')) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      expect(text).toContain('event: forget\ndata: ["SOL"]\n\n');
    } finally {
      abort.abort();
      await service.stop();
    }
  });

  it('is loud when the engine thread dies: the error comes out, /health says 503 engine, and the service still stops', async () => {
    const { service, base, stop } = await startService(suite.nats.url, { ENGINE_THREAD: 'worker' });
    try {
      suite.pub.publish('md.events.trade.X', JSON.stringify({ type: 'trade', symbol: 'X', price: 1, size: 1, ts_exchange: Date.now() }));
      await waitFor(async () => (await getJson(`${base}/stats`)).body.events_processed_total === 1, 'processed');
      // a request the engine thread does not know makes it throw, as a bug in the engine would
      service.engineThread!.worker.postMessage({ type: 'request', id: 0, request: { kind: 'no-such-request' } });
      const err = await service.fatal;
      expect(err.message).toMatch(/unknown request/);
      const health = await getJson(`${base}/health`);
      expect(health).toMatchObject({ status: 503, body: { status: 'degraded', reasons: ['engine'], engine_error: expect.stringMatching(/unknown request/) } });
      // every read that asks the engine thread says why it cannot be answered, as /health does
      for (const path of ['/features/latest?symbol=X', '/state/latest?symbol=X', '/features/latest?symbol=UNSEEN']) {
        const res = await getJson(`${base}${path}`);
        expect(res, path).toMatchObject({ status: 503, body: { error: expect.stringMatching(/engine thread/), reasons: ['engine'], engine_error: expect.stringMatching(/unknown request/) } });
        expect(contractErrors('http-error', res.body), path).toEqual([]);
      }
      // messages that keep coming are left alone (the service is going down), and nothing hangs
      const delivered = new Promise<void>((resolve) => suite.pub.subscribe('md.events.trade.X', { max: 1, callback: () => resolve() }));
      await suite.pub.flush(); // the probe subscription is in place
      suite.pub.publish('md.events.trade.X', JSON.stringify({ type: 'trade', symbol: 'X', price: 2, size: 1, ts_exchange: Date.now() }));
      await delivered; // the server has sent it to every subscriber, the service's included
      await new Promise((r) => setTimeout(r, 200));
      const stats = await getJson(`${base}/stats`);
      expect(stats.status).toBe(200);
      expect(stats.body).toMatchObject({ events_in_total: 1, events_processed_total: 1 });
    } finally {
      await stop();
    }
  });

  it('is loud when the engine thread exits unexpectedly', async () => {
    const { service, stop } = await startService(suite.nats.url, { ENGINE_THREAD: 'worker' });
    try {
      await service.engineThread!.worker.terminate();
      expect((await service.fatal).message).toMatch(/engine thread exited unexpectedly/);
    } finally {
      await stop();
    }
  });
});

describe('ENGINE_THREAD=worker, a JetStream message the ring cannot carry (SPEC §2, §6)', () => {
  it('is refused as invalid and counted, live and in the warm-up, never acknowledged unprocessed as overflow', async () => {
    // ~8 MiB: under half the 16 MiB ring with a short subject, over it with a long one; the server allows it
    const nats = await TestNatsServer.start({ jetstream: true, maxPayload: '8387808' });
    const nc = await connect({ servers: nats.url });
    const services: { stop: () => Promise<void> }[] = [];
    try {
      await (await jetstreamManager(nc)).streams.add({ name: 'MD_EVENTS', subjects: ['md.events.>'] });
      const env = { USE_JETSTREAM: 'true', ENGINE_THREAD: 'worker' };
      const first = await startService(nats.url, env);
      services.push(first);
      const js = jetstream(nc);
      const longSubject = `md.events.trade.BIG.${'x'.repeat(1000)}`;
      const head = JSON.stringify({ type: 'trade', provider: 'p', symbol: 'BIG', price: 1, size: 1, trade_id: '1', ts_exchange: Date.now(), pad: '' });
      const big = Buffer.alloc(8_387_000, 0x78);
      big.write(head.slice(0, -2), 0);
      big.write('"}', big.length - 2);
      await js.publish(longSubject, big);
      await js.publish('md.events.trade.OK', JSON.stringify({ type: 'trade', provider: 'p', symbol: 'OK', price: 2, size: 1, trade_id: '2', ts_exchange: Date.now() }));
      const durableDone = async () => {
        const info = await (await jetstreamManager(nc)).consumers.info('MD_EVENTS', 'senpai-md-consumer');
        return info.num_pending === 0 && info.num_ack_pending === 0;
      };
      await waitFor(durableDone, 'both messages acknowledged');
      const stats = await waitFor(async () => {
        const s = (await getJson(`${first.base}/stats`)).body;
        return s.events_processed_total === 2 ? s : null;
      }, 'both messages processed', 5000).catch(async () => (await getJson(`${first.base}/stats`)).body);
      expect(stats).toMatchObject({ events_in_total: 2, events_processed_total: 2, events_dropped_total: 1, dropped_by_reason: { invalid: 1 } });
      expect((stats.dropped_by_reason as Record<string, number>).overflow ?? 0).toBe(0);
      expect((await getJson(`${first.base}/features/latest?symbol=OK`)).status).toBe(200);
      await first.stop();

      // a restart warms up from the stream: the stored message is refused there too, and the warm-up completes
      const second = await startService(nats.url, env);
      services.push(second);
      expect((await getJson(`${second.base}/health`)).status).toBe(200);
      const metrics = await (await fetch(`${second.base}/metrics`)).text();
      expect(metrics).toMatch(/^senpai_warmup_messages_total 2$/m);
      expect(metrics).toMatch(/^senpai_warmup_dropped_total\{reason="invalid"\} 1$/m);
      expect((await getJson(`${second.base}/features/latest?symbol=OK`)).status).toBe(200);
    } finally {
      for (const s of services) await s.stop().catch(() => undefined);
      await nc.close();
      await nats.stop();
    }
  });
});
