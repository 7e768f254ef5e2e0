import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { Service } from '../../src/app/service.js';
import { loadConfig } from '../../src/config/config.js';
import { TestNatsServer, waitFor } from '../helpers/nats-server.js';
import { getJson } from '../helpers/service.js';

const servers: TestNatsServer[] = [];
const services: Service[] = [];
afterAll(async () => {
  for (const s of services) await s.stop().catch(() => undefined);
  for (const s of servers) await s.stop();
});

/**
 * A nats-server of its own with the stream MD_EVENTS on `subjects`, and one cluster member of P
 * partitions whose warnings go to `lines`, listening (started unless `start` is false).
 */
async function soloMember(subjects: string[], partitions: number, id: string, start = true) {
  const nats = await TestNatsServer.start({ jetstream: true });
  servers.push(nats);
  const nc = await connect({ servers: nats.url });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'MD_EVENTS', subjects });
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  const config = loadConfig({ NATS_URL: nats.url, HTTP_HOST: '127.0.0.1', HTTP_PORT: '0', USE_JETSTREAM: 'true', CLUSTER_PARTITIONS: String(partitions), CLUSTER_LEASE_MS: '3000', CLUSTER_MEMBER_ID: id });
  const service = new Service(config, log, { defaultMetrics: false });
  services.push(service);
  const port = await service.listen();
  if (start) await service.start();
  return { nc, jsm, lines, service, port };
}

describe('cluster mode on a single nats-server without the partition mapping (SPEC §12)', () => {
  it('creates the lease bucket with one copy, and warns with the fix about messages no member receives', async () => {
    const { nc, jsm, lines, service } = await soloMember(['md.events.>'], 4, 'solo', false);
    try {
      const js = jetstream(nc);
      // no mapping on this server: published as is, so no partition's durable matches them
      await js.publish('md.events.trade.AAA', JSON.stringify({ type: 'trade', provider: 'p', symbol: 'AAA', price: 1, size: 1, ts_exchange: Date.now() }));
      await js.publish('md.events.trade.BBB.7', JSON.stringify({ type: 'trade', provider: 'p', symbol: 'BBB', price: 1, size: 1, ts_exchange: Date.now() }));
      await service.start();
      await waitFor(() => service.cluster!.owned().length === 4, 'the only member owns every partition');
      const warned = await waitFor(() => {
        const msgs = lines.map((l) => String(l.msg));
        const un = msgs.find((m) => m.includes('unpartitioned md.events.*.* messages'));
        const big = msgs.find((m) => m.includes('partition token >= CLUSTER_PARTITIONS (4)'));
        return un !== undefined && big !== undefined ? [un, big] : null;
      }, 'both warnings');
      for (const w of warned) expect(w).toContain('"md.events.*.*": "md.events.{{wildcard(1)}}.{{wildcard(2)}}.{{partition(4,2)}}"');
      expect((await jsm.streams.info('KV_senpai_cluster')).config.num_replicas).toBe(1);
      expect(service.engine.symbols.size).toBe(0);
    } finally {
      await nc.close();
    }
  }, 60_000);

  it('a stream without the partitioned subjects: /health degraded with the fix, a warning per partition and minute, healthy once the stream is mended', async () => {
    const { nc, jsm, lines, port } = await soloMember(['md.events.*.*'], 2, 'solo2');
    try {
      const health = await waitFor(async () => {
        const r = await getJson(`http://127.0.0.1:${port}/health`);
        return r.status === 503 && typeof r.body.jetstream_error === 'string' && r.body.jetstream_error.includes('partition 1') ? r.body : null;
      }, '/health degraded for both partitions', 20_000);
      expect(health.reasons).toContain('jetstream');
      expect(String(health.jetstream_error)).toMatch(/stream MD_EVENTS does not store the partitioned subjects .*give the stream the subject md\.events\.>/);
      const failed = lines.filter((l) => String(l.msg).startsWith('cluster: starting a partition failed'));
      expect(failed.length).toBe(2); // one per partition: retried every second, warned once a minute
      expect(failed.every((l) => l.err === undefined && typeof l.reason === 'string')).toBe(true);

      await jsm.streams.update('MD_EVENTS', { subjects: ['md.events.>'] });
      await waitFor(async () => (await getJson(`http://127.0.0.1:${port}/health`)).status === 200, '/health ok once the stream holds the partitioned subjects', 20_000);
    } finally {
      await nc.close();
    }
  }, 60_000);
});
