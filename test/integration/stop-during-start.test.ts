import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Service } from '../../src/app/service.js';
import { partitionOf } from '../../src/cluster/partition.js';
import { loadConfig } from '../../src/config/config.js';
import { CliProcess } from '../helpers/cli-process.js';
import { TestNatsServer, freePort, waitFor } from '../helpers/nats-server.js';
import { getJson } from '../helpers/service.js';

/**
 * SPEC §10: SIGTERM drains and exits 0 in every phase of `run`, start-up
 * included — the connection, the stream and durable checks, the warm-up
 * replay, the start of the pull loop. A stop used to drain the connection
 * under a start-up that carried on: its next request failed with
 * "connection draining" and the process crashed with exit 1. In cluster mode
 * a partition's warm-up runs after start-up; a stop ends it there too.
 */
const STORED = 60_000;
/** Enough for partition 0's replay to take seconds (60 000 take half a second): a stop that waits for it shows. */
const CLUSTER_STORED = 300_000;
let nats: TestNatsServer;
const procs: CliProcess[] = [];

beforeAll(async () => {
  nats = await TestNatsServer.start({ jetstream: true });
}, 30_000);

afterAll(async () => {
  for (const p of procs) p.kill('SIGKILL');
  await nats.stop();
});

/**
 * Empties the stream and stores `count` trades in it, as the service creates it, with a fresh durable to warm from.
 * With `partitions` > 0 each subject ends with its symbol's partition token, as the cluster's mapping writes it.
 */
async function fillStream(count: number, partitions = 0): Promise<void> {
  const nc = await connect({ servers: nats.url });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete('MD_EVENTS').catch(() => undefined);
  await jsm.streams.add({ name: 'MD_EVENTS', subjects: ['md.events.>'] });
  const now = Date.now();
  for (let i = 0; i < count; i++) {
    const symbol = `S${i % 50}`;
    const subject = partitions > 0 ? `md.events.trade.${symbol}.${partitionOf(symbol, partitions)}` : `md.events.trade.${symbol}`;
    nc.publish(subject, JSON.stringify({ type: 'trade', provider: 'p', symbol, price: 100 + (i % 7), size: 1, trade_id: String(i), ts_exchange: now - 1000 }));
    if (i % 5000 === 4999) await nc.flush();
  }
  await nc.flush();
  await waitFor(async () => (await jsm.streams.info('MD_EVENTS')).state.messages === count, `${count} messages stored`, 30_000);
  await nc.close();
}

/** The consumers on the stream, and what the durable has been given (nothing delivered: nothing acknowledged). */
async function consumers(durable = 'senpai-md-consumer'): Promise<{ names: string[]; durableDelivered: number | null }> {
  const nc = await connect({ servers: nats.url });
  try {
    const jsm = await jetstreamManager(nc);
    const names: string[] = [];
    for await (const c of jsm.consumers.list('MD_EVENTS')) names.push(c.name);
    const info = await jsm.consumers.info('MD_EVENTS', durable).catch(() => null);
    return { names: names.sort(), durableDelivered: info === null ? null : info.delivered.consumer_seq };
  } finally {
    await nc.close();
  }
}

/** `run` in JetStream mode, logging at info, the window long enough for the warm-up to replay everything stored. */
function startRun(port: number): CliProcess {
  const p = CliProcess.start(
    ['run'],
    {
      NATS_URL: nats.url,
      USE_JETSTREAM: 'true',
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(port),
      ROLLING_WINDOW_SECONDS: '3600',
      SYMBOL_IDLE_EVICT_S: '3600',
      LOG_LEVEL: 'info',
    },
    { outputLimit: 200_000 },
  );
  procs.push(p);
  return p;
}

/** A clean stop: exit 0, the "stopped" line, no stack trace and no error logged. */
async function expectCleanStop(p: CliProcess): Promise<void> {
  const code = await p.exited;
  expect(p.output, 'no stack trace').not.toMatch(/\n\s+at /);
  expect(p.output, 'nothing logged at error or fatal').not.toMatch(/"level":(50|60)/);
  expect(p.output).toMatch(/"msg":"stopped"/);
  expect(code, p.output.slice(-3000)).toBe(0);
}

describe('SIGTERM during start-up (SPEC §10)', () => {
  it('while /health says warming: exit 0, "stopped", no stack trace, nothing delivered to the durable', async () => {
    await fillStream(STORED);
    const port = await freePort();
    const p = startRun(port);
    await waitFor(async () => {
      const h = await getJson(`http://127.0.0.1:${port}/health`).catch(() => null);
      const warmup = h?.body.warmup as { messages?: number } | undefined;
      return h?.body.status === 'warming' && (warmup?.messages ?? 0) > 0 ? h : null;
    }, 'the warm-up replaying', 30_000);
    p.kill('SIGTERM');
    await expectCleanStop(p);
    // stopped mid-replay: the warm-up never finished and the pull loop never started
    expect(p.output).not.toMatch(/"msg":"warm-up done/);
    expect(p.output).not.toMatch(/"msg":"consuming from JetStream"/);
    // the warm-up's ephemeral consumer was deleted, not left to expire; nothing was delivered to the durable
    expect(await consumers()).toEqual({ names: ['senpai-md-consumer'], durableDelivered: 0 });
  }, 90_000);

  it('Service.stop() during the warm-up: start() resolves, and has by the time stop() does', async () => {
    await fillStream(STORED);
    const config = loadConfig({ NATS_URL: nats.url, USE_JETSTREAM: 'true', HTTP_HOST: '127.0.0.1', HTTP_PORT: '0', ROLLING_WINDOW_SECONDS: '3600', SYMBOL_IDLE_EVICT_S: '3600' });
    const service = new Service(config, pino({ level: 'silent' }), { defaultMetrics: false });
    const base = `http://127.0.0.1:${await service.listen()}`;
    let outcome: 'pending' | 'resolved' | 'rejected' = 'pending';
    const started = service.start().then(
      () => (outcome = 'resolved'),
      () => (outcome = 'rejected'),
    );
    const replaying = async () => (((await getJson(`${base}/health`)).body.warmup as { messages?: number } | undefined)?.messages ?? 0) > 0;
    await waitFor(replaying, 'the warm-up replaying', 30_000);
    await service.stop();
    expect(outcome).toBe('resolved'); // no start-up step left running behind the stop
    await started;
    expect((await consumers()).names).toEqual(['senpai-md-consumer']);
  }, 90_000);

  it('cluster mode: Service.stop() during a partition\'s warm-up ends the replay there, not at its end', async () => {
    await fillStream(CLUSTER_STORED, 1);
    const lines: { msg: string }[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as { msg: string }) });
    const config = loadConfig({
      NATS_URL: nats.url,
      USE_JETSTREAM: 'true',
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: '0',
      ROLLING_WINDOW_SECONDS: '3600',
      SYMBOL_IDLE_EVICT_S: '3600',
      CLUSTER_PARTITIONS: '1',
      CLUSTER_LEASE_MS: '3000',
      CLUSTER_MEMBER_ID: 'solo',
    });
    const service = new Service(config, log, { defaultMetrics: false });
    await service.listen();
    await service.start(); // the leases are taken; partition 0 warms in the background
    const progress = await waitFor(() => {
      const w = service.cluster?.warming() ?? null;
      return w !== null && w.messages > 0 ? w : null;
    }, 'partition 0 replaying', 30_000);
    const t0 = Date.now();
    await service.stop();
    const stopMs = Date.now() - t0;
    // the whole replay takes seconds (two here): the stop did not wait for its end
    expect(stopMs).toBeLessThan(1000);
    expect(progress.messages).toBeLessThan(CLUSTER_STORED);
    const msgs = lines.map((l) => l.msg);
    expect(msgs.filter((m) => m.startsWith('warm-up done'))).toEqual([]);
    expect(msgs).toContain('cluster: partition stopped');
    expect(msgs, 'the cut is logged').toContain('cluster: partition warm-up stopped (the partition moved away or the member is stopping)');
    expect(msgs, 'the abort is no failure').not.toContain('cluster: starting a partition failed; retrying');
    // the replay's ephemeral consumer was deleted; the partition's durable was never consumed
    expect(await consumers('senpai-md-consumer-p0')).toEqual({ names: ['senpai-md-consumer-p0'], durableDelivered: 0 });
  }, 60_000);

  // the signal as soon as the line is read, in the same tick: the stream and durable checks are still in flight
  it.each(['connecting to NATS', 'connected to NATS'])('right after the log says "%s": exit 0, "stopped", no stack trace', async (line) => {
    await fillStream(5000);
    const port = await freePort();
    const p = startRun(port);
    let sent = false;
    p.proc.stdout?.on('data', () => {
      if (!sent && p.output.includes(`"msg":"${line}"`)) {
        sent = true;
        p.kill('SIGTERM');
      }
    });
    await expectCleanStop(p);
    expect(sent).toBe(true);
  }, 60_000);
});
