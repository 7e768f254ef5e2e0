import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import { CliProcess } from '../helpers/cli-process.js';
import { TestNatsServer, freePort, waitFor } from '../helpers/nats-server.js';
import { Collector, getJson } from '../helpers/service.js';

const servers: TestNatsServer[] = [];
const procs: CliProcess[] = [];
afterAll(async () => {
  for (const p of procs) p.kill('SIGKILL');
  for (const s of servers) await s.stop();
});

describe('JetStream mode', () => {
  it('exits 1 with one line saying what to do when the server has no JetStream', async () => {
    const nats = await TestNatsServer.start({ jetstream: false });
    servers.push(nats);
    const p = CliProcess.start(['run'], { NATS_URL: nats.url, USE_JETSTREAM: 'true', HTTP_PORT: String(await freePort()) });
    procs.push(p);
    expect(await p.exited).toBe(1);
    expect(p.output).toMatch(/JetStream is not enabled.*nats-server -js.*USE_JETSTREAM=false/);
  });

  // acknowledged only once processed, also when the engine runs on its own thread (ENGINE_THREAD=worker)
  it.each(['main', 'worker'])('loses no trade when the service is killed with SIGKILL mid-stream and started again (ENGINE_THREAD=%s)', async (engineThread) => {
    const nats = await TestNatsServer.start({ jetstream: true });
    servers.push(nats);
    const port = await freePort();
    const env = { NATS_URL: nats.url, USE_JETSTREAM: 'true', HTTP_PORT: String(port), QUEUE_MAX_SIZE: '200', FEATURES_PUB_RATE_HZ: '1000', ENGINE_THREAD: engineThread };
    const base = `http://127.0.0.1:${port}`;
    const nc = await connect({ servers: nats.url });
    const features = await Collector.open(nats.url, ['senpai.features.>']);
    try {
      const first = CliProcess.start(['run'], env);
      procs.push(first);
      await waitFor(async () => (await getJson(`${base}/health`)).status === 200, 'service up');
      const jsm = await jetstreamManager(nc);
      await waitFor(async () => (await jsm.consumers.info('MD_EVENTS', 'senpai-md-consumer')).name, 'durable consumer created');

      // one symbol per trade: each processed trade shows up as that symbol's features
      const N = 3000;
      const js = jetstream(nc);
      const t0 = Date.now();
      const publish = async (from: number, to: number) => {
        const acks: Promise<unknown>[] = [];
        for (let i = from; i < to; i++) {
          acks.push(js.publish(`md.events.trade.S${i}`, JSON.stringify({ type: 'trade', provider: 'p', symbol: `S${i}`, price: 100, size: 1, trade_id: String(i), ts_exchange: t0 + i })));
        }
        await Promise.all(acks);
      };
      const seen = () => new Set(features.messages.map((m) => m.subject));
      await publish(0, 1500);
      await waitFor(() => seen().size >= 300, 'processing under way');
      first.kill('SIGKILL');
      expect(await first.exited).toBeNull(); // killed by the signal
      const seenBeforeKill = seen().size;
      await publish(1500, N); // while the service is down

      const second = CliProcess.start(['run'], env);
      procs.push(second);
      await waitFor(() => seen().size === N, `all ${N} trades processed (seen ${seen().size})`, 45_000);
      await waitFor(async () => {
        const info = await jsm.consumers.info('MD_EVENTS', 'senpai-md-consumer');
        return info.num_pending === 0 && info.num_ack_pending === 0;
      }, 'every message acknowledged', 30_000);

      const perSymbol = new Map<string, number>();
      for (const m of features.messages) perSymbol.set(m.subject, (perSymbol.get(m.subject) ?? 0) + 1);
      const twice = [...perSymbol.values()].filter((n) => n > 1).length;
      console.log(`JetStream SIGKILL (ENGINE_THREAD=${engineThread}): ${N} trades published, ${seenBeforeKill} processed before the kill, all ${perSymbol.size} processed after restart; ${twice} redelivered (unacknowledged at the kill) and processed again, 0 lost`);
      expect(perSymbol.size).toBe(N);

      // a redelivery inside the running service's window is a duplicate (the redeliveries of the
      // messages the warm-up already replayed are duplicates too: count from here)
      const dupBefore = ((await getJson(`${base}/stats`)).body.dropped_by_reason as Record<string, number>).duplicate ?? 0;
      await js.publish('md.events.trade.S1', JSON.stringify({ type: 'trade', provider: 'p', symbol: 'S1', price: 100, size: 1, trade_id: 'dup', ts_exchange: Date.now() }));
      await js.publish('md.events.trade.S1', JSON.stringify({ type: 'trade', provider: 'p', symbol: 'S1', price: 100, size: 1, trade_id: 'dup', ts_exchange: Date.now() }));
      await waitFor(async () => ((await getJson(`${base}/stats`)).body.dropped_by_reason as Record<string, number>).duplicate === dupBefore + 1, 'the duplicate counted');
      second.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    } finally {
      await features.close();
      await nc.close();
    }
  });
});
