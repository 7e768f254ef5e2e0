import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { JetStreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import type { FeatureSnapshot } from '../../src/domain/features.js';
import { TestNatsCluster } from '../helpers/nats-cluster.js';
import { waitFor } from '../helpers/nats-server.js';
import { getJson, startService } from '../helpers/service.js';

/**
 * The durable's consumer leader moves (a step-down, as in a rolling restart) or dies with its
 * nats-server while the service's own connection is fine (DECISIONS 101): a pull held by the old
 * leader is lost, and only missed idle heartbeats tell the client to pull again. Delivery resumes
 * within two or three heartbeats (1 s each) after a move, and while the durable stays silent (five
 * heartbeats) `/health` says so; a quiet feed, whose durable still sends heartbeats, stays healthy.
 */

const DURABLE = 'senpai-md-consumer';
const clusters: TestNatsCluster[] = [];
const stops: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const stop of stops) await stop().catch(() => undefined);
  for (const c of clusters) await c.stop();
});

async function leaderOf(jsm: JetStreamManager): Promise<string> {
  return (await jsm.consumers.info('MD_EVENTS', DURABLE)).cluster?.leader ?? '';
}

describe('the durable consumer leader moves or dies under a running service', () => {
  it('resumes within two heartbeats of a step-down; /health says the durable is silent while its leader is dead', async () => {
    const cluster = await TestNatsCluster.start({ partitions: 0 });
    clusters.push(cluster);
    await cluster.waitForJetStream();
    // the publisher and the service on n1 and n2 only: n3 is the node that will die
    const admin = await connect({ servers: cluster.url(0), noRandomize: true });
    stops.push(() => admin.close());
    const jsm = await jetstreamManager(admin);
    await waitFor(async () => jsm.streams.add({ name: 'MD_EVENTS', subjects: ['md.events.>'], num_replicas: 3 }).then(() => true, () => false), 'the stream');
    const { service, base, stop } = await startService(`${cluster.url(0)},${cluster.url(1)}`, { USE_JETSTREAM: 'true', WARMUP: 'false', FEATURES_PUB_RATE_HZ: '50' });
    stops.unshift(stop);
    const published: number[] = [];
    service.addOutput({ features: (_f: FeatureSnapshot) => published.push(Date.now()), signal: () => undefined, alert: () => undefined });
    const unhealthy: Record<string, unknown>[] = [];
    const poll = setInterval(() => {
      void getJson(`${base}/health`).then((r) => {
        if (r.status !== 200) unhealthy.push({ ...r.body, atMs: Date.now() });
      }, () => undefined);
    }, 100);
    stops.unshift(async () => clearInterval(poll));

    // a quiet feed: the durable's heartbeats keep it healthy, also across a move of its leader
    await new Promise((r) => setTimeout(r, 3000));
    await admin.request(`$JS.API.CONSUMER.LEADER.STEPDOWN.MD_EVENTS.${DURABLE}`, '', { timeout: 5000 });
    await new Promise((r) => setTimeout(r, 6000));
    expect(unhealthy).toEqual([]);

    // a steady feed, 50 trades a second
    const js = jetstream(admin);
    let sending = true;
    let n = 0;
    const feed = (async () => {
      while (sending) {
        const i = n++;
        const ts = Date.now();
        await js.publish('md.events.trade.LDR', JSON.stringify({ type: 'trade', provider: 'p', symbol: 'LDR', price: 100 + (i % 7), size: 1, trade_id: String(i + 1), ts_exchange: ts })).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    stops.unshift(async () => {
      sending = false;
      await feed;
    });
    await waitFor(() => published.length > 20, 'features flowing');

    // the leader on n3, so that killing n3 kills the leader and not the service's connection
    const leaderOntoN3 = async (): Promise<void> => {
      await waitFor(async () => {
        if ((await leaderOf(jsm)) === cluster.serverName(2)) return true;
        await admin.request(`$JS.API.CONSUMER.LEADER.STEPDOWN.MD_EVENTS.${DURABLE}`, '', { timeout: 5000 }).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 500));
        return false;
      }, 'the consumer leader on n3', 30_000);
      await new Promise((r) => setTimeout(r, 1000));
    };
    await leaderOntoN3();

    // 1. a step-down: the pull held by n3 is lost; the next one goes out after two missed heartbeats
    const before = published.length;
    const stepAt = Date.now();
    await admin.request(`$JS.API.CONSUMER.LEADER.STEPDOWN.MD_EVENTS.${DURABLE}`, '', { timeout: 5000 });
    await waitFor(() => published.slice(before).some((t) => t > stepAt + 500) && published.length > before + 10, 'features after the step-down', 20_000);
    let gap = 0;
    for (let i = before; i < published.length; i++) gap = Math.max(gap, published[i]! - (i === before ? stepAt : published[i - 1]!));
    console.log(`step-down: longest pause in features ${gap} ms`);
    // 6–7 s with nats.js's default heartbeat (half of the 5 s expiry), 2–3 s with 1 s heartbeats
    expect(gap).toBeLessThan(5000);

    // 2. the leader dies with n3: the durable is silent until a new leader has it
    await leaderOntoN3();
    const killedAt = Date.now();
    unhealthy.length = 0;
    await cluster.kill(2);
    const silent = await waitFor(
      () => unhealthy.find((h) => (h.atMs as number) > killedAt && /no message or heartbeat from durable/.test(String(h.jetstream_error))) ?? null,
      '/health saying the durable is silent',
      30_000,
    );
    console.log(`leader killed: /health said ${JSON.stringify(silent)}`);
    expect(silent).toMatchObject({ status: 'degraded', reasons: ['jetstream'] });
    const after = published.length;
    await waitFor(() => published.length > after + 10, 'features again after the new leader took the durable', 60_000);
    await waitFor(async () => (await getJson(`${base}/health`)).status === 200, '/health 200 again', 20_000);
  }, 150_000);
});
