import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import { JetStreamSource } from '../../src/nats/jetstream-source.js';
import { TestNatsServer, waitFor } from '../helpers/nats-server.js';
import { Collector, getJson, startService } from '../helpers/service.js';

/**
 * The durable or its stream disappears under a running JetStream service (an
 * operator's delete, a server restarted on an empty store): `/health` says so
 * while the service recreates them, and consuming goes on from where it was
 * (DECISIONS 88).
 */

const servers: TestNatsServer[] = [];
const stops: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const stop of stops) await stop().catch(() => undefined);
  for (const s of servers) await s.stop();
});

const t0 = Date.now();

/** Publishes trades `from`..`to - 1` of `symbol` into the stream (1 ms apart in event time). */
async function publishTrades(nc: NatsConnection, symbol: string, from: number, to: number): Promise<void> {
  const js = jetstream(nc);
  const acks: Promise<unknown>[] = [];
  for (let i = from; i < to; i++) {
    acks.push(js.publish(`md.events.trade.${symbol}`, JSON.stringify({ type: 'trade', provider: 'p', symbol, price: 100 + (i % 5), size: 1, trade_id: String(i + 1), ts_exchange: t0 + i })));
  }
  await Promise.all(acks);
}

async function tradeCount(base: string, symbol: string): Promise<number> {
  const r = await getJson(`${base}/features/latest?symbol=${symbol}`);
  return r.status === 200 ? (r.body.trade_count_10s as number) : 0;
}

async function setUp(engineThread = 'main'): Promise<{ nats: TestNatsServer; nc: NatsConnection; base: string; alerts: Collector; healthSeen: () => Record<string, unknown>[] }> {
  const nats = await TestNatsServer.start({ jetstream: true });
  servers.push(nats);
  const { base, stop } = await startService(nats.url, { USE_JETSTREAM: 'true', WARMUP: 'false', ENGINE_THREAD: engineThread });
  stops.push(stop);
  const nc = await connect({ servers: nats.url });
  stops.push(() => nc.close());
  const alerts = await Collector.open(nats.url, ['senpai.alerts']);
  stops.push(() => alerts.close());
  // every /health answer other than ok, polled every 50 ms
  const seen: Record<string, unknown>[] = [];
  const poll = setInterval(() => {
    void getJson(`${base}/health`).then((r) => {
      if (r.status !== 200) seen.push({ ...r.body, code: r.status });
    }, () => undefined);
  }, 50);
  stops.unshift(async () => clearInterval(poll));
  return { nats, nc, base, alerts, healthSeen: () => seen };
}

describe('JetStream consumer lost under a running service', () => {
  it.each(['main', 'worker'])('a deleted durable: /health answers 503 jetstream, the durable comes back after the last message delivered, and every trade is processed once (ENGINE_THREAD=%s)', async (engineThread) => {
    const { nc, base, alerts, healthSeen } = await setUp(engineThread);
    const jsm = await jetstreamManager(nc);
    await publishTrades(nc, 'DEL', 0, 300);
    await waitFor(async () => (await tradeCount(base, 'DEL')) === 300, 'the first trades processed');

    await jsm.consumers.delete('MD_EVENTS', 'senpai-md-consumer');
    await waitFor(() => healthSeen().some((h) => (h.reasons as string[] | undefined)?.includes('jetstream')), '/health reports the lost durable', 10_000);
    await publishTrades(nc, 'DEL', 300, 600); // while it is missing
    await waitFor(async () => (await tradeCount(base, 'DEL')) === 600, 'the trades published meanwhile processed', 20_000);
    await waitFor(async () => (await getJson(`${base}/health`)).status === 200, 'healthy again');

    const lost = healthSeen().find((h) => (h.reasons as string[] | undefined)?.includes('jetstream'))!;
    expect(lost).toMatchObject({ code: 503, status: 'degraded', reasons: ['jetstream'] });
    expect(lost.jetstream_error).toMatch(/durable senpai-md-consumer .*deleted|not found/);
    // recreated to start after the last delivered message: nothing read twice, nothing skipped
    const info = await jsm.consumers.info('MD_EVENTS', 'senpai-md-consumer');
    expect(info.config.opt_start_seq).toBe(301);
    const stats = (await getJson(`${base}/stats`)).body;
    expect(stats.events_processed_total).toBe(600);
    expect((stats.dropped_by_reason as Record<string, number>).duplicate ?? 0).toBe(0);
    const restored = alerts.on('senpai.alerts').filter((a) => a.kind === 'nats');
    expect(restored).toHaveLength(1);
    expect(restored[0]!.message).toMatch(/^JetStream durable senpai-md-consumer was missing for \d+\.\d s and is recreated$/);
  }, 60_000);

  it('a durable deleted before it delivered anything comes back where it was, not at the start of the stream', async () => {
    const nats = await TestNatsServer.start({ jetstream: true });
    servers.push(nats);
    const nc = await connect({ servers: nats.url });
    stops.push(() => nc.close());
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'MD_EVENTS', subjects: ['md.events.>'] });
    await publishTrades(nc, 'OLD', 0, 50); // stored before the service: a new durable starts after them (WARMUP=false)
    const { base, stop } = await startService(nats.url, { USE_JETSTREAM: 'true', WARMUP: 'false' });
    stops.push(stop);
    await jsm.consumers.delete('MD_EVENTS', 'senpai-md-consumer');
    await waitFor(async () => (await jsm.consumers.info('MD_EVENTS', 'senpai-md-consumer').catch(() => null)) !== null, 'durable recreated', 20_000);
    await publishTrades(nc, 'NEW', 0, 20);
    await waitFor(async () => (await tradeCount(base, 'NEW')) === 20, 'new trades processed');
    expect((await getJson(`${base}/features/latest?symbol=OLD`)).status).toBe(404);
    expect((await jsm.consumers.info('MD_EVENTS', 'senpai-md-consumer')).config.opt_start_seq).toBe(51);
  }, 60_000);

  it('a server restarted on its store: every trade processed once, and no "recreated" alert (the durable was never gone)', async () => {
    const { nats, nc, base, alerts } = await setUp();
    await publishTrades(nc, 'RST', 0, 200);
    await waitFor(async () => (await tradeCount(base, 'RST')) === 200, 'the first trades processed');
    await nats.halt();
    await new Promise((r) => setTimeout(r, 1000));
    await nats.resume();
    await waitFor(async () => (await getJson(`${base}/health`)).status === 200, 'healthy again', 30_000);
    const pub = await connect({ servers: nats.url });
    stops.push(() => pub.close());
    await publishTrades(pub, 'RST', 200, 400);
    await waitFor(async () => (await tradeCount(base, 'RST')) === 400, 'the trades after the restart processed', 30_000);
    expect((await getJson(`${base}/stats`)).body.events_processed_total).toBe(400);
    expect(alerts.on('senpai.alerts').filter((a) => typeof a.message === 'string' && a.message.startsWith('JetStream durable'))).toEqual([]);
  }, 90_000);

  it('a stream deleted and made again by someone else, already holding new messages: read from its first message, and the alert says events may be lost', async () => {
    const { nc, base, alerts } = await setUp();
    const jsm = await jetstreamManager(nc);
    await publishTrades(nc, 'AGN', 0, 20);
    await waitFor(async () => (await tradeCount(base, 'AGN')) === 20, 'the first trades processed');
    await jsm.streams.delete('MD_EVENTS');
    await jsm.streams.add({ name: 'MD_EVENTS', subjects: ['md.events.>'] });
    await publishTrades(nc, 'AGN', 20, 120); // sequences 1..100 of the new stream, past the old last sequence (20)
    await waitFor(async () => (await getJson(`${base}/stats`)).body.events_processed_total === 120, 'every trade of the new stream processed', 30_000);
    expect(await tradeCount(base, 'AGN')).toBe(120);
    const restored = alerts.on('senpai.alerts').filter((a) => a.kind === 'nats');
    expect(restored.at(-1)!.message).toMatch(/may be lost$/);
  }, 60_000);

  it('a server back without JetStream: /health says jetstream within seconds; back with JetStream on its store, consuming goes on', async () => {
    const { nats, nc, base, healthSeen } = await setUp();
    await publishTrades(nc, 'NOJ', 0, 50);
    await waitFor(async () => (await tradeCount(base, 'NOJ')) === 50, 'the first trades processed');
    await nats.halt();
    const bare = await TestNatsServer.start({ jetstream: false, port: nats.port });
    await waitFor(() => healthSeen().some((h) => h.jetstream_error === 'JetStream does not answer (not enabled on the server, or unavailable)'), '/health reports JetStream missing', 20_000);
    await bare.stop();
    await nats.resume();
    const pub = await connect({ servers: nats.url });
    stops.push(() => pub.close());
    await waitFor(async () => (await getJson(`${base}/health`)).status === 200, 'healthy again', 30_000);
    await publishTrades(pub, 'NOJ', 50, 100);
    await waitFor(async () => (await tradeCount(base, 'NOJ')) === 100, 'the trades after JetStream came back processed', 30_000);
  }, 90_000);

  it('a durable made again by someone else with settings the service cannot use: /health says why it cannot recreate it', async () => {
    const { nc, healthSeen } = await setUp();
    const jsm = await jetstreamManager(nc);
    await jsm.consumers.delete('MD_EVENTS', 'senpai-md-consumer');
    await jsm.consumers.add('MD_EVENTS', { durable_name: 'senpai-md-consumer', ack_policy: AckPolicy.None });
    await waitFor(() => healthSeen().some((h) => typeof h.jetstream_error === 'string' && h.jetstream_error.startsWith('cannot recreate the durable: durable senpai-md-consumer on MD_EVENTS has ack_policy none')), '/health says why', 20_000);
  }, 60_000);

  it('a durable missing when consuming starts (gone between the warm-up and the pull loop) is recreated, not a crash', async () => {
    const nats = await TestNatsServer.start({ jetstream: true });
    servers.push(nats);
    const nc = await connect({ servers: nats.url });
    stops.push(() => nc.close());
    const source = new JetStreamSource(nc, { stream: 'MD_EVENTS', durable: 'd', subject: 'md.events.>', maxAckPending: 100 });
    stops.push(() => source.stop());
    await source.ensureStream();
    await source.ensureDurable();
    await (await jetstreamManager(nc)).consumers.delete('MD_EVENTS', 'd');
    const events: string[] = [];
    const got: string[] = [];
    await source.start(
      (subject, _data, ack) => {
        got.push(subject);
        ack.ack();
      },
      { lost: (t) => void events.push(`lost ${t.kind}`), restored: (r) => void events.push(`restored recreated=${r.recreated}`) },
    );
    expect(events).toEqual(['lost consumer_not_found']);
    await waitFor(() => events.length === 2, 'restored', 15_000);
    expect(events[1]).toBe('restored recreated=true');
    await publishTrades(nc, 'LATE', 0, 5);
    await waitFor(() => got.length === 5, 'delivered after the restore');
  }, 60_000);

  it('a deleted stream: stream and durable are recreated, new trades are processed, and the alert says events may be lost', async () => {
    const { nc, base, alerts, healthSeen } = await setUp();
    const jsm = await jetstreamManager(nc);
    await publishTrades(nc, 'STR', 0, 200);
    await waitFor(async () => (await tradeCount(base, 'STR')) === 200, 'the first trades processed');

    await jsm.streams.delete('MD_EVENTS');
    await waitFor(() => healthSeen().some((h) => (h.reasons as string[] | undefined)?.includes('jetstream')), '/health reports the lost stream', 40_000);
    await waitFor(async () => (await jsm.streams.info('MD_EVENTS').catch(() => null)) !== null && (await getJson(`${base}/health`)).status === 200, 'stream recreated, healthy again', 20_000);
    await publishTrades(nc, 'STR', 200, 300);
    await waitFor(async () => (await tradeCount(base, 'STR')) === 300, 'trades of the new stream processed', 20_000);

    const restored = alerts.on('senpai.alerts').filter((a) => a.kind === 'nats');
    expect(restored).toHaveLength(1);
    expect(restored[0]!.message).toMatch(/is recreated; events stored before it was recreated may be lost$/);
  }, 90_000);
});
