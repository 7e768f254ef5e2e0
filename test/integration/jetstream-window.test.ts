/**
 * The single process's JetStream window (DECISIONS 73): the durable's
 * max_ack_pending is QUEUE_MAX_SIZE up to two pulls (2048); the queue keeps
 * QUEUE_MAX_SIZE as its capacity (SPEC §6).
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import { TestNatsServer } from '../helpers/nats-server.js';
import { getJson, startService } from '../helpers/service.js';

const servers: TestNatsServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.stop();
});

describe('JetStream in-flight window', () => {
  it.each([
    ['10000', 2048],
    ['500', 500],
  ])('QUEUE_MAX_SIZE=%s: max_ack_pending %i, queue capacity QUEUE_MAX_SIZE', async (queueMaxSize, expected) => {
    const nats = await TestNatsServer.start({ jetstream: true });
    servers.push(nats);
    const { base, stop } = await startService(nats.url, { USE_JETSTREAM: 'true', QUEUE_MAX_SIZE: queueMaxSize, WARMUP: 'false' });
    const nc = await connect({ servers: nats.url });
    try {
      const info = await (await jetstreamManager(nc)).consumers.info('MD_EVENTS', 'senpai-md-consumer');
      expect(info.config.max_ack_pending).toBe(expected);
      const stats = (await getJson(`${base}/stats`)).body as { queue: { capacity: number } };
      expect(stats.queue.capacity).toBe(Number(queueMaxSize));
    } finally {
      await nc.close();
      await stop();
    }
  });
});
