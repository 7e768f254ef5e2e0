/**
 * JetStream mode's in-flight window (DECISIONS 73): the durable's
 * max_ack_pending and the queue's capacity are QUEUE_MAX_SIZE up to
 * JETSTREAM_IN_FLIGHT, never more.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import { JETSTREAM_IN_FLIGHT } from '../../src/app/engine-protocol.js';
import { TestNatsServer } from '../helpers/nats-server.js';
import { getJson, startService } from '../helpers/service.js';

const servers: TestNatsServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.stop();
});

describe('JetStream in-flight window', () => {
  it.each([
    ['10000', JETSTREAM_IN_FLIGHT],
    ['500', 500],
  ])('QUEUE_MAX_SIZE=%s: max_ack_pending and the queue capacity are %i', async (queueMaxSize, expected) => {
    expect(JETSTREAM_IN_FLIGHT).toBeLessThan(10_000); // the first case caps
    const nats = await TestNatsServer.start({ jetstream: true });
    servers.push(nats);
    const { base, stop } = await startService(nats.url, { USE_JETSTREAM: 'true', QUEUE_MAX_SIZE: queueMaxSize, WARMUP: 'false' });
    const nc = await connect({ servers: nats.url });
    try {
      const info = await (await jetstreamManager(nc)).consumers.info('MD_EVENTS', 'senpai-md-consumer');
      expect(info.config.max_ack_pending).toBe(expected);
      const stats = (await getJson(`${base}/stats`)).body as { queue: { capacity: number } };
      expect(stats.queue.capacity).toBe(expected);
    } finally {
      await nc.close();
      await stop();
    }
  });
});
