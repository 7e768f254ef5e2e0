import { PassThrough } from 'node:stream';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import { runCompute } from '../../src/cli/compute.js';
import { CliProcess } from '../helpers/cli-process.js';
import { parseJsonl } from '../helpers/golden.js';
import type { GoldenRecord } from '../helpers/golden.js';
import { TestNatsServer, freePort, waitFor } from '../helpers/nats-server.js';
import { Collector, getJson } from '../helpers/service.js';

const servers: TestNatsServer[] = [];
const procs: CliProcess[] = [];
afterAll(async () => {
  for (const p of procs) p.kill('SIGKILL');
  for (const s of servers) await s.stop();
});

const SYMBOLS = ['AAA', 'BBB', 'CCC'];
const LATENCY = new Set(['latency_ms_p50', 'latency_ms_p95']);

/** Every stored message of the stream as a recorded envelope, its stream timestamp as received_at. */
async function storedAsEnvelopes(natsUrl: string): Promise<string> {
  const nc = await connect({ servers: natsUrl });
  const js = jetstream(nc);
  const consumer = await js.consumers.get('MD_EVENTS');
  const info = await (await jetstreamManager(nc)).streams.info('MD_EVENTS');
  const lines: string[] = [];
  const iter = await consumer.fetch({ max_messages: info.state.messages, expires: 5000 });
  for await (const m of iter) {
    lines.push(JSON.stringify({ subject: m.subject, received_at: Math.floor(m.info.timestampNanos / 1e6), data: m.json() }));
    if (lines.length === info.state.messages) break;
  }
  await nc.close();
  return lines.join('\n') + '\n';
}

describe('JetStream warm start (SPEC §11)', () => {
  // the replay goes through the engine thread's ring with ENGINE_THREAD=worker
  it.each(['main', 'worker'])('after kill -9 and restart, the first features published equal compute over the stored events and say warm: true (ENGINE_THREAD=%s)', async (engineThread) => {
    const nats = await TestNatsServer.start({ jetstream: true });
    servers.push(nats);
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const env = {
      NATS_URL: nats.url,
      USE_JETSTREAM: 'true',
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(port),
      ROLLING_WINDOW_SECONDS: '10',
      WARMUP_MARGIN_S: '2',
      SYMBOL_IDLE_EVICT_S: '60',
      FEATURES_PUB_RATE_HZ: '1000',
      ENGINE_THREAD: engineThread,
    };
    const nc = await connect({ servers: nats.url });
    const js = jetstream(nc);
    const features = await Collector.open(nats.url, ['senpai.features.>']);
    try {
      const first = CliProcess.start(['run'], env);
      procs.push(first);
      await waitFor(async () => (await getJson(`${base}/health`)).status === 200, 'first service up');

      // 13 s of a live stream (more than W + margin), strictly increasing event times per symbol
      let seq = 0;
      const publishRound = async () => {
        const now = Date.now();
        const acks: Promise<unknown>[] = [];
        for (const s of SYMBOLS) {
          seq++;
          const p = 100 + 5 * Math.sin(seq / 40) + SYMBOLS.indexOf(s);
          acks.push(js.publish(`md.events.trade.${s}`, JSON.stringify({ type: 'trade', provider: 'p', symbol: s, price: p, size: 1 + (seq % 3), trade_id: String(seq), ts_exchange: now - 20 })));
          acks.push(js.publish(`md.events.quote.${s}`, JSON.stringify({ type: 'quote', provider: 'p', symbol: s, bid: p - 0.01, ask: p + 0.01, ts_exchange: now - 19 })));
        }
        await Promise.all(acks);
        return now;
      };
      const started = Date.now();
      while (Date.now() - started < 13_000) {
        await publishRound();
        await new Promise((r) => setTimeout(r, 40));
      }
      first.kill('SIGKILL'); // mid-stream: some messages delivered but not acknowledged
      expect(await first.exited).toBeNull();
      await publishRound(); // published while it is down
      const beforeRestart = features.messages.length;

      const second = CliProcess.start(['run'], env);
      procs.push(second);
      const health = await waitFor(async () => {
        const h = await getJson(`${base}/health`);
        return h.status === 200 ? h : null;
      }, 'second service warm and up', 30_000);
      expect(health.body.status).toBe('ok');
      const lastRound = await publishRound(); // the first live events after the restart
      await waitFor(async () => {
        const info = await (await jetstreamManager(nc)).consumers.info('MD_EVENTS', 'senpai-md-consumer');
        return info.num_pending === 0 && info.num_ack_pending === 0;
      }, 'every message processed and acknowledged');
      // the features of that round (its quote is each symbol's newest event) reached the collector
      await waitFor(() => SYMBOLS.every((s) => features.messages.some((m) => m.data.symbol === s && m.data.ts === lastRound - 19)), 'the last round published');

      // what an uninterrupted run computes over the same stored events
      const input = new PassThrough();
      const output = new PassThrough();
      let text = '';
      output.on('data', (d: Buffer) => (text += d.toString()));
      input.end(await storedAsEnvelopes(nats.url));
      await runCompute(input, output, { engine: { windowMs: 10_000, maxSymbols: 10_000, maxFutureSkewMs: 60_000, rules: { returnThreshold: 0.003, volumeThreshold: 1, spreadMaxBps: 20, cooldownMs: 10_000 } } });
      const offline = parseJsonl(text).filter((r) => r.kind === 'features');

      const after = features.messages.slice(beforeRestart).map((m) => m.data);
      expect(after.length).toBeGreaterThan(0);
      let compared = 0;
      for (const s of SYMBOLS) {
        const live = after.filter((f) => f.symbol === s);
        const last = live[live.length - 1]!;
        expect(live.every((f) => f.warm === true), `${s}: every features object after the restart is warm`).toBe(true);
        // the offline record at the same symbol clock, last of them (the state after every event at that time)
        const ref = offline.filter((r: GoldenRecord) => r.symbol === s && r.ts === last.ts).pop();
        expect(ref, `${s}: offline record at ts ${String(last.ts)}`).toBeDefined();
        for (const [k, v] of Object.entries(ref!)) {
          if (k === 'kind' || k === 'line' || LATENCY.has(k)) continue;
          const got = last[k];
          if (typeof v === 'number' && typeof got === 'number') expect(Math.abs(got - v), `${s} ${k}`).toBeLessThanOrEqual(1e-9 * Math.abs(v) + 1e-12);
          else expect(got, `${s} ${k}`).toEqual(v);
        }
        compared++;
      }
      const metrics = await (await fetch(`${base}/metrics`)).text();
      const warmupSeconds = Number(/^senpai_warmup_seconds (\S+)$/m.exec(metrics)?.[1]);
      const replayed = Number(/^senpai_warmup_messages_total (\S+)$/m.exec(metrics)?.[1]);
      console.log(`warm restart: ${replayed} stored messages replayed in ${warmupSeconds.toFixed(3)} s; ${compared} symbols' features after the restart equal compute over the stream (latency excepted), all warm`);
      expect(replayed).toBeGreaterThan(0);
      expect(metrics).toMatch(/^senpai_warming 0$/m);
      second.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    } finally {
      await features.close();
      await nc.close();
    }
  }, 90_000);
});
