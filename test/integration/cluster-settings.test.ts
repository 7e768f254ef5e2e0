import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Service } from '../../src/app/service.js';
import { checkClusterSettings } from '../../src/cluster/settings-check.js';
import type { MemberSettings } from '../../src/cluster/settings-check.js';
import { loadConfig } from '../../src/config/config.js';
import { ClusterSettingsError } from '../../src/domain/errors.js';
import { CliProcess } from '../helpers/cli-process.js';
import { getJson, startService } from '../helpers/service.js';
import { TestNatsServer, freePort, stoppedAfterAll, waitFor } from '../helpers/nats-server.js';

/** Members of one cluster share its settings; one that does not refuses to join (DECISIONS 94). */

const { servers, cleanups } = stoppedAfterAll();

const silent = pino({ level: 'silent' });
let next = 0;
const member = (over: Partial<MemberSettings> = {}): MemberSettings => ({
  member: `m${++next}`,
  instance: `i${next}`,
  host: 'h',
  pid: 1,
  http_url: `http://m${next}`,
  started_ms: 1000 + next,
  stream: 'MD_EVENTS',
  durable: 'senpai-md-consumer',
  bucket: 'senpai_cluster',
  partitions: 12,
  lease_ms: 15_000,
  ...over,
});

async function connection(url: string): Promise<NatsConnection> {
  const nc = await connect({ servers: url });
  cleanups.push(() => nc.close());
  return nc;
}

describe('cluster settings check', () => {
  it('refuses a member of the group with other settings or the same member id, naming them; lets compatible members and other groups join', async () => {
    const nats = await TestNatsServer.start({ jetstream: false });
    servers.push(nats);
    const running = await checkClusterSettings(await connection(nats.url), member({ member: 'm1' }), silent);
    cleanups.push(async () => running.release());
    const nc = await connection(nats.url);
    const refused: [Partial<MemberSettings>, RegExp][] = [
      [{ bucket: 'other_bucket' }, /CLUSTER_BUCKET other_bucket here, senpai_cluster there/],
      [{ lease_ms: 3000 }, /CLUSTER_LEASE_MS 3000 here, 15000 there/],
      [{ partitions: 8 }, /CLUSTER_PARTITIONS 8 here, 12 there/],
      [{ durable: 'other-durable' }, /JETSTREAM_DURABLE other-durable here, senpai-md-consumer there/],
      [{ member: 'm1' }, /same CLUSTER_MEMBER_ID m1/],
    ];
    for (const [over, why] of refused) {
      const attempt = checkClusterSettings(nc, member({ ...over, started_ms: Date.now() }), silent);
      await expect(attempt).rejects.toThrow(ClusterSettingsError);
      await expect(attempt).rejects.toThrow(why);
      await expect(attempt).rejects.toThrow(/beside running member m1 \(host h, pid 1, http:\/\/m\d+\)/);
    }
    // the same settings, or another group altogether (its own bucket and durable)
    for (const over of [{}, { bucket: 'desk2', durable: 'desk2' }]) {
      const ok = await checkClusterSettings(nc, member({ ...over, started_ms: Date.now() }), silent);
      ok.release();
    }
  });

  it('of two conflicting members starting at once the older joins, whichever question goes unheard', async () => {
    const nats = await TestNatsServer.start({ jetstream: false });
    servers.push(nats);
    const a = await connection(nats.url);
    const b = await connection(nats.url);
    // at the same moment
    const older = member({ started_ms: 1 });
    const younger = member({ started_ms: 2, lease_ms: 3000 });
    const [o, y] = await Promise.allSettled([checkClusterSettings(a, older, silent), checkClusterSettings(b, younger, silent)]);
    expect(o.status).toBe('fulfilled');
    expect(y.status).toBe('rejected');
    if (o.status === 'fulfilled') o.value.release();
    // the younger asks first, the older 100 ms later (its answering side was not there for the younger's question)
    const y2 = checkClusterSettings(b, member({ started_ms: 4, partitions: 8 }), silent);
    await new Promise((r) => setTimeout(r, 100));
    const o2 = checkClusterSettings(a, member({ started_ms: 3 }), silent);
    const [ry, ro] = await Promise.allSettled([y2, o2]);
    expect(ro.status).toBe('fulfilled');
    expect(ry.status).toBe('rejected');
    if (ro.status === 'fulfilled') ro.value.release();
  });

  it('`run` exits 2 with one line when its CLUSTER_LEASE_MS differs from a running member', async () => {
    const nats = await TestNatsServer.start({ jetstream: true });
    servers.push(nats);
    const env = { NATS_URL: nats.url, USE_JETSTREAM: 'true', CLUSTER_PARTITIONS: '4', CLUSTER_LEASE_MS: '5000' };
    const first = new Service(loadConfig({ ...env, HTTP_HOST: '127.0.0.1', HTTP_PORT: '0', CLUSTER_MEMBER_ID: 'first' }), silent, { defaultMetrics: false });
    cleanups.push(() => first.stop());
    await first.listen();
    await first.start();
    await waitFor(() => first.cluster!.owned().length === 4, 'the first member owns every partition');
    const p = CliProcess.start(['run'], { ...env, CLUSTER_LEASE_MS: '3000', CLUSTER_MEMBER_ID: 'second', HTTP_PORT: String(await freePort()) });
    cleanups.push(async () => p.kill('SIGKILL'));
    expect(await p.exited).toBe(2);
    expect(p.output).toMatch(/senpai-md: cluster member second cannot join beside running member first \(.*\): its settings differ \(CLUSTER_LEASE_MS 3000 here, 5000 there\)/);
    expect(first.cluster!.owned()).toEqual([0, 1, 2, 3]);
  }, 60_000);

  it('a member restarted under its id after kill -9 answers 503 for partitions its previous run still holds, not 421 to itself', async () => {
    const nats = await TestNatsServer.start({ jetstream: true });
    servers.push(nats);
    const env = { USE_JETSTREAM: 'true', CLUSTER_PARTITIONS: '2', CLUSTER_LEASE_MS: '6000', CLUSTER_MEMBER_ID: 'again' };
    const before = await startService(nats.url, env);
    cleanups.push(before.stop);
    await waitFor(() => before.service.cluster!.owned().length === 2, 'the member owns both partitions');
    await before.service.crash(); // its leases stay in the bucket until they expire
    const after = await startService(nats.url, env);
    cleanups.push(after.stop);
    const r = await getJson(`${after.base}/features/latest?symbol=AAA`);
    expect(after.service.cluster!.owned()).toEqual([]); // still the old run's leases
    expect(r.status).toBe(503);
    expect(String(r.body.error)).toMatch(/partition/);
    await waitFor(() => after.service.cluster!.owned().length === 2, 'both partitions again once the old leases expire', 20_000);
  }, 60_000);
});
