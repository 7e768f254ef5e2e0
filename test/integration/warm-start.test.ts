import { PassThrough } from 'node:stream';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { Service } from '../../src/app/service.js';
import { runCompute } from '../../src/cli/compute.js';
import { partitionOf } from '../../src/cluster/partition.js';
import { loadConfig } from '../../src/config/config.js';
import { JetStreamSource } from '../../src/nats/jetstream-source.js';
import { warmStart } from '../../src/nats/warm-start.js';
import { CliProcess } from '../helpers/cli-process.js';
import { parseJsonl } from '../helpers/golden.js';
import type { GoldenRecord } from '../helpers/golden.js';
import { TestNatsServer, freePort, waitFor } from '../helpers/nats-server.js';
import { Collector, getJson } from '../helpers/service.js';

const servers: TestNatsServer[] = [];
const procs: CliProcess[] = [];
const services: Service[] = [];
afterAll(async () => {
  for (const p of procs) p.kill('SIGKILL');
  for (const s of services) await s.stop().catch(() => undefined);
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

describe('JetStream warm start of a range that holds nothing (SPEC §11)', () => {
  /** Under the replay's 10 s stall timeout, with room for a loaded machine: the warm-up must not wait for it. */
  const PROMPT_MS = 8000;
  const trade = (symbol: string) => JSON.stringify({ type: 'trade', provider: 'p', symbol, price: 1, size: 1, ts_exchange: Date.now() });

  /** A service whose log lines are kept; W = 1 s and no margin (below what an operator may set), so "older than the range" takes 1 s. */
  async function startLogged(natsUrl: string, env: Record<string, string>): Promise<{ service: Service; base: string; lines: Record<string, unknown>[]; startMs: number }> {
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    const loaded = loadConfig({ NATS_URL: natsUrl, HTTP_HOST: '127.0.0.1', HTTP_PORT: '0', USE_JETSTREAM: 'true', ...env });
    const service = new Service({ ...loaded, windowMs: 1000, warmup: { enabled: true, marginS: 0 } }, log, { defaultMetrics: false });
    services.push(service);
    const base = `http://127.0.0.1:${await service.listen()}`;
    const startMs = Date.now();
    await service.start();
    return { service, base, lines, startMs };
  }

  const warmupsDone = (lines: Record<string, unknown>[]) => lines.filter((l) => l.msg === 'warm-up done: windows rebuilt from the stream');
  /** A replay that waited out the stall timeout says so: the deterministic sign of the wait these tests guard against. */
  const cutShort = (lines: Record<string, unknown>[]) => lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('warm-up cut short'));

  it('ends at once when every message of the subscribed subjects is older than the range (a filtered subscription)', async () => {
    const nats = await TestNatsServer.start({ jetstream: true });
    servers.push(nats);
    const nc = await connect({ servers: nats.url });
    try {
      await (await jetstreamManager(nc)).streams.add({ name: 'MD_EVENTS', subjects: ['md.events.>'] });
      const js = jetstream(nc);
      for (let i = 0; i < 5; i++) await js.publish('md.events.trade.OLD', trade('OLD'));
      await new Promise((r) => setTimeout(r, 1500)); // now older than now − (W + margin)
      // inside the range all along, but outside the subscription: the stream as a whole is not older than the range
      const fresh = setInterval(() => void js.publish('md.events.quote.NEW', JSON.stringify({ type: 'quote', provider: 'p', symbol: 'NEW', bid: 1, ask: 2, ts_exchange: Date.now() })).catch(() => undefined), 100);
      await new Promise((r) => setTimeout(r, 150));

      const { base, lines, startMs } = await startLogged(nats.url, { NATS_SUBJECT: 'md.events.trade.>' }).finally(() => clearInterval(fresh));
      // start() returns once the warm-up is over
      expect(Date.now() - startMs).toBeLessThan(PROMPT_MS);
      const done = warmupsDone(lines);
      expect(done).toHaveLength(1);
      expect(done[0]).toMatchObject({ messages: 0 });
      expect(done[0]!.seconds as number).toBeLessThan(PROMPT_MS / 1000);
      expect(cutShort(lines)).toEqual([]);
      expect((await getJson(`${base}/health`)).status).toBe(200);
    } finally {
      await nc.close();
    }
  }, 30_000);

  it('a cluster member warms a partition whose messages are all older than the range at once', async () => {
    const nats = await TestNatsServer.start({ jetstream: true });
    servers.push(nats);
    const nc = await connect({ servers: nats.url });
    let fresh: NodeJS.Timeout | undefined;
    try {
      await (await jetstreamManager(nc)).streams.add({ name: 'MD_EVENTS', subjects: ['md.events.>'] });
      const js = jetstream(nc);
      // this server has no partition mapping: the partition token is published as the mapping would append it
      const oldK = partitionOf('OLD', 2);
      const newSymbol = ['NEW', 'NEW1', 'NEW2', 'NEW3'].find((s) => partitionOf(s, 2) !== oldK)!;
      for (let i = 0; i < 5; i++) await js.publish(`md.events.trade.OLD.${oldK}`, trade('OLD'));
      await new Promise((r) => setTimeout(r, 1500));
      // the other partition has messages inside the range all along
      fresh = setInterval(() => void js.publish(`md.events.trade.${newSymbol}.${partitionOf(newSymbol, 2)}`, trade(newSymbol)).catch(() => undefined), 100);
      await new Promise((r) => setTimeout(r, 150));

      const { service, base, lines } = await startLogged(nats.url, { CLUSTER_PARTITIONS: '2', CLUSTER_LEASE_MS: '3000', CLUSTER_MEMBER_ID: 'solo' });
      await waitFor(() => service.cluster!.owned().length === 2, 'the lone member owns both partitions');
      const ownedMs = Date.now();
      const health = await waitFor(async () => {
        const h = await getJson(`${base}/health`);
        return h.status === 200 ? h : null;
      }, 'both partitions warmed and /health 200', 30_000);
      clearInterval(fresh);
      expect(Date.now() - ownedMs).toBeLessThan(PROMPT_MS);
      expect(health.body.partitions).toEqual([0, 1]);
      const done = warmupsDone(lines);
      expect(done.map((l) => l.partition).sort()).toEqual([0, 1]);
      for (const l of done) expect(l.seconds as number, `partition ${String(l.partition)}`).toBeLessThan(PROMPT_MS / 1000);
      expect(cutShort(lines)).toEqual([]);
      expect(done.find((l) => l.partition === oldK)).toMatchObject({ messages: 0 });
      expect(done.find((l) => l.partition !== oldK)!.messages as number).toBeGreaterThan(0);
      expect(service.cluster!.owned()).toEqual([0, 1]);
    } finally {
      clearInterval(fresh);
      await nc.close();
    }
  }, 60_000);
});

/** Publishes `n` trades of AAA, 1 ms apart from 30 s ago, and waits until the stream holds them. */
async function storeTrades(nc: NatsConnection, n: number): Promise<void> {
  const t0 = Date.now() - 30_000;
  for (let i = 0; i < n; i++) {
    nc.publish('md.events.trade.AAA', JSON.stringify({ type: 'trade', provider: 'p', symbol: 'AAA', price: 100 + (i % 7), size: 1, trade_id: String(i + 1), ts_exchange: t0 + i }));
  }
  await nc.flush();
  const jsm = await jetstreamManager(nc);
  await waitFor(async () => (await jsm.streams.info('MD_EVENTS')).state.messages === n, 'every trade stored');
}

/** Whether the connection is up, as the service's link status tells it (nats.js status events). */
function linkUp(nc: NatsConnection): () => boolean {
  let up = true;
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') up = false;
      else if (s.type === 'reconnect') up = true;
    }
  })();
  return () => up;
}

/** A warm-up target that counts, records coverage starts and runs `at(n)` on the n-th message. */
function countingTarget(at: (n: number) => void) {
  const coverageStarts: number[] = [];
  const seqs: number[] = [];
  let replayed = 0;
  return {
    coverageStarts,
    seqs,
    get replayed() {
      return replayed;
    },
    target: {
      setCoverageStart: (ms: number) => void coverageStarts.push(ms),
      replay: (_subject: string, _data: Uint8Array, _tsMs: number, _publishSignal: boolean): string | null => {
        at(++replayed);
        return 'AAA';
      },
      republish: () => 0,
    },
  };
}

function logLines(): { lines: Record<string, unknown>[]; log: Logger } {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { lines, log };
}

const withMsg = (lines: Record<string, unknown>[], prefix: string) => lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith(prefix));

describe('JetStream warm start across a stall or a NATS restart (SPEC §11)', () => {
  const STORED = 20_000;

  it('gives up when the stream stops delivering while connected: a warn line, and coverage moves to the end of the warm-up', async () => {
    const nats = await TestNatsServer.start({ jetstream: true });
    servers.push(nats);
    const nc = await connect({ servers: nats.url });
    try {
      const source = new JetStreamSource(nc, { stream: 'MD_EVENTS', durable: 'senpai', subject: 'md.events.>', maxAckPending: 1000, replayStallMs: 500 });
      await source.ensureStream();
      await storeTrades(nc, STORED);
      const { lines, log } = logLines();
      let frozenMs = 0;
      // the server stops answering mid-range (its sockets stay open) and stays so until the warm-up has given up
      const c = countingTarget((n) => {
        if (n === 10) {
          nats.freeze();
          frozenMs = Date.now();
        }
      });
      const progress = { startedMs: Date.now(), messages: 0 };
      const count = await warmStart(source, 0, { stream: 'MD_EVENTS', windowMs: 60_000, marginS: 5 }, c.target, progress, log).finally(() => nats.thaw());
      expect(frozenMs).toBeGreaterThan(0);
      expect(count).toBe(c.replayed);
      expect(count).toBeLessThan(STORED);
      const cut = withMsg(lines, 'warm-up cut short');
      expect(cut).toHaveLength(1);
      expect(cut[0]).toMatchObject({ level: 40, messages: count, up_to_seq: STORED });
      // first the range's lower bound (here the first stored message's stream time), then, after the stall, the end of the warm-up
      expect(c.coverageStarts).toHaveLength(2);
      expect(c.coverageStarts[0]).toBeLessThan(frozenMs);
      expect(c.coverageStarts[1]).toBeGreaterThanOrEqual(frozenMs);
    } finally {
      await nc.close();
    }
  }, 60_000);

  it('takes the replay up again after the last message read when the stream delivers again: every stored message once', async () => {
    const nats = await TestNatsServer.start({ jetstream: true });
    servers.push(nats);
    const nc = await connect({ servers: nats.url });
    let thawTimer: NodeJS.Timeout | undefined;
    try {
      const source = new JetStreamSource(nc, { stream: 'MD_EVENTS', durable: 'senpai', subject: 'md.events.>', maxAckPending: 1000, replayStallMs: 500 });
      await source.ensureStream();
      await storeTrades(nc, STORED);
      const { lines, log } = logLines();
      // frozen for three stall timeouts, then running again
      const c = countingTarget((n) => {
        if (n === 10) {
          nats.freeze();
          thawTimer = setTimeout(() => nats.thaw(), 1500);
        }
      });
      const progress = { startedMs: Date.now(), messages: 0 };
      const count = await warmStart(source, 0, { stream: 'MD_EVENTS', windowMs: 60_000, marginS: 5 }, c.target, progress, log);
      expect(count).toBe(STORED);
      expect(withMsg(lines, 'warm-up cut short')).toHaveLength(0);
      expect(c.coverageStarts).toHaveLength(1);
      const done = withMsg(lines, 'warm-up done');
      expect(done).toHaveLength(1);
      expect(done[0]!.resumed).toBeGreaterThanOrEqual(1);
    } finally {
      clearTimeout(thawTimer);
      nats.thaw();
      await nc.close();
    }
  }, 60_000);

  it('waits out a NATS restart in the middle of the range and reads the rest once reconnected: nothing stored is lost', async () => {
    const nats = await TestNatsServer.start({ jetstream: true });
    servers.push(nats);
    const nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
    const restarted = { done: Promise.resolve() };
    try {
      const source = new JetStreamSource(nc, { stream: 'MD_EVENTS', durable: 'senpai', subject: 'md.events.>', maxAckPending: 1000, replayStallMs: 500, isConnected: linkUp(nc) });
      await source.ensureStream();
      await storeTrades(nc, STORED);
      const { lines, log } = logLines();
      const seen = new Set<number>();
      // the server stops (the client sees the disconnect) and comes back on the same store after 2 s
      const c = countingTarget((n) => {
        if (n === 10) restarted.done = nats.halt().then(() => new Promise((r) => setTimeout(r, 2000))).then(() => nats.resume());
      });
      const replay = c.target.replay;
      const progress = { startedMs: Date.now(), messages: 0 };
      const count = await warmStart(source, 0, { stream: 'MD_EVENTS', windowMs: 60_000, marginS: 5 }, { ...c.target, replay: (subject, data, tsMs, publish) => {
        // every stored trade exactly once: its trade id
        seen.add(Number((JSON.parse(Buffer.from(data).toString()) as { trade_id: string }).trade_id));
        return replay(subject, data, tsMs, publish);
      } }, progress, log);
      await restarted.done;
      expect(count).toBe(STORED);
      expect(seen.size).toBe(STORED);
      expect(withMsg(lines, 'warm-up cut short')).toHaveLength(0);
      expect(withMsg(lines, 'warm-up done')[0]!.resumed).toBeGreaterThanOrEqual(1);
    } finally {
      await restarted.done.catch(() => undefined);
      await nc.close();
    }
  }, 60_000);
});
