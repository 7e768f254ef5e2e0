import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { contractErrors } from '../helpers/contract.js';
import type { SchemaName } from '../helpers/contract.js';
import { waitFor } from '../helpers/nats-server.js';
import { Collector, coreNatsForFile, getJson, startService } from '../helpers/service.js';

const root = join(import.meta.dirname, '..', '..');

const suite = coreNatsForFile();

/**
 * Trades with a rising price (signals), quotes, books and heartbeats for
 * BTCUSDT; trades only, with id gaps, for TRADESONLY; exchange times 20 s old
 * (latency alerts at LATENCY_ALERT_MS=1). Sent in 40 slices 20 ms apart, so
 * that the throttled features go out many times, from the first nulls on.
 */
async function publishStream(t0: number, n: number): Promise<number> {
  let price = 100;
  let count = 0;
  const send = (subject: string, payload: Record<string, unknown>) => {
    suite.pub.publish(subject, JSON.stringify(payload));
    count++;
  };
  for (let i = 0; i < n; i++) {
    const ts = t0 + i * 40;
    price *= 1 + (i % 7 === 0 ? 0.002 : 0.0004);
    if (i % 50 === 0) send('md.events.heartbeat.__system__', { type: 'heartbeat', provider: 'binance', ts_exchange: ts });
    else if (i % 5 === 0) send('md.events.quote.BTCUSDT', { type: 'quote', provider: 'binance', symbol: 'BTCUSDT', bid: price - 0.01, ask: price + 0.01, bid_size: 1, ts_exchange: ts });
    else if (i % 23 === 0) send('md.events.book_l2.BTCUSDT', { type: 'book_l2', provider: 'bybit', symbol: 'BTCUSDT', bids: [[price - 0.02, 1], [price - 0.03, 0]], asks: [{ price: price + 0.02, size: 2 }], ts_exchange: ts });
    else send('md.events.trade.BTCUSDT', { type: 'trade', provider: 'binance', symbol: 'BTCUSDT', price, size: 0.3, side: i % 2 === 0 ? 'buy' : 's', trade_id: String(1000 + i), ts_exchange: ts, ts_recv: ts + 3 });
    if (i % 10 === 0) send('md.events.trade.TRADESONLY', { type: 'trade', provider: 'kraken', symbol: 'tradesonly', price: 5 + i / 1000, size: 1, trade_id: 10 * i, ts_exchange: ts });
    if (i % Math.ceil(n / 40) === 0) {
      await suite.pub.flush();
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  await suite.pub.flush();
  return count;
}

describe('what the live service publishes and answers matches the JSON Schemas (docs/CONTRACT.md)', () => {
  it('every features, signal and alert payload on NATS, and every HTTP answer', async () => {
    const { base, service, stop } = await startService(suite.nats.url, { FEATURES_PUB_RATE_HZ: '50', LATENCY_ALERT_MS: '1' });
    const out = await Collector.open(suite.nats.url, ['senpai.>']);
    try {
      const sent = await publishStream(Date.now() - 20_000, 600);
      suite.pub.publish('md.events.trade.BTCUSDT', 'not json');
      await suite.pub.flush();
      await waitFor(async () => (await getJson(`${base}/stats`)).body.events_processed_total === sent + 1, 'all events processed');
      await waitFor(() => out.on('senpai.signals.').length > 0 && out.on('senpai.alerts').some((a) => a.kind === 'gap') && out.on('senpai.alerts').some((a) => a.kind === 'latency'), 'signals, gap and latency alerts');
      await waitFor(() => service.pipeline.features.pendingCount === 0, 'trailing-edge publishes sent');
      await out.nc.flush();

      const problems: string[] = [];
      const check = (name: SchemaName, what: string, value: unknown) => {
        for (const e of contractErrors(name, value)) problems.push(`${what}: ${e}`);
      };
      const schemaOf = (subject: string): SchemaName => (subject.startsWith('senpai.features.') ? 'features' : subject.startsWith('senpai.signals.') ? 'signal' : 'alert');
      for (const m of out.messages) check(schemaOf(m.subject), m.subject, m.data);
      const bySchema = (name: SchemaName) => out.messages.filter((m) => schemaOf(m.subject) === name).length;
      expect(bySchema('features')).toBeGreaterThan(10);
      expect(bySchema('signal')).toBeGreaterThan(0);
      expect(bySchema('alert')).toBeGreaterThan(1);
      expect(out.messages.every((m) => m.subject.startsWith('senpai.features.') || m.subject.startsWith('senpai.signals.') || m.subject === 'senpai.alerts')).toBe(true);

      const answers: { path: string; status: number; schema: SchemaName }[] = [
        { path: '/health', status: 200, schema: 'http-health' },
        { path: '/stats', status: 200, schema: 'http-stats' },
        { path: '/state/latest?symbol=BTCUSDT', status: 200, schema: 'http-state-latest' },
        { path: '/state/latest?symbol=tradesonly', status: 200, schema: 'http-state-latest' },
        { path: '/features/latest?symbol=btc/usdt', status: 200, schema: 'http-features-latest' },
        { path: '/features/latest?symbol=TRADESONLY', status: 200, schema: 'http-features-latest' },
        { path: '/features/latest', status: 400, schema: 'http-error' },
        { path: '/state/latest?symbol=BTC.%3E', status: 400, schema: 'http-error' },
        { path: '/features/latest?symbol=A&symbol=B', status: 400, schema: 'http-error' },
        { path: '/features/latest?symbol=NOPE', status: 404, schema: 'http-error' },
        { path: '/state/latest?symbol=NOPE', status: 404, schema: 'http-error' },
        { path: '/no/such/path', status: 404, schema: 'http-error' },
        { path: '/cluster', status: 404, schema: 'http-error' }, // cluster mode off
      ];
      const bodies = new Map<string, Record<string, unknown>>();
      for (const a of answers) {
        const r = await getJson(`${base}${a.path}`);
        expect(r.status, a.path).toBe(a.status);
        check(a.schema, `GET ${a.path}`, r.body);
        bodies.set(a.path, r.body);
      }
      const state = bodies.get('/state/latest?symbol=BTCUSDT')!;
      expect(state.trade).not.toBeNull();
      expect(state.quote).not.toBeNull();
      expect(state.book).not.toBeNull();
      expect(bodies.get('/state/latest?symbol=tradesonly')).toMatchObject({ quote: null, book: null });
      // the stream did carry heartbeats, counted under their type and provider
      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toMatch(/^senpai_events_in_total\{type="heartbeat",provider="binance"\} [1-9]/m);
      expect(problems).toEqual([]);
    } finally {
      await out.close();
      await stop();
    }
  });

  it('examples/consumer.mjs validates and prints what the service publishes', async () => {
    const { stop } = await startService(suite.nats.url, { FEATURES_PUB_RATE_HZ: '50' });
    const consumer = spawn(process.execPath, [join(root, 'examples', 'consumer.mjs'), '--count', '20'], {
      env: { PATH: process.env.PATH ?? '', NATS_URL: suite.nats.url },
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    consumer.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    consumer.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => consumer.once('exit', (code) => resolve(code)));
    try {
      await waitFor(() => stderr.includes('listening on'), 'the consumer to subscribe');
      await publishStream(Date.now() - 20_000, 400);
      const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('still running after 15 s'), 15_000))]);
      expect(code, stderr).toBe(0);
      expect(stdout).toMatch(/^features BTCUSDT ts=\d+(\.\d+)? warm=(true|false) mid=/m);
      expect(stderr).toMatch(/consumer: 20 valid messages, 0 invalid/);
    } finally {
      if (consumer.exitCode === null) consumer.kill('SIGKILL');
      await stop();
    }
  });
});
