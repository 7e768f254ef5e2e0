import { connect } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Service } from '../../src/app/service.js';
import { loadConfig } from '../../src/config/config.js';
import { DurableInUseError } from '../../src/domain/errors.js';
import { claimDurable } from '../../src/nats/durable-claim.js';
import type { InstanceInfo } from '../../src/nats/durable-claim.js';
import { CliProcess } from '../helpers/cli-process.js';
import { TestNatsServer, freePort, stoppedAfterAll, waitFor } from '../helpers/nats-server.js';
import { getJson, startService } from '../helpers/service.js';

/** One JetStream durable, one instance (DECISIONS 90). */

const { servers, cleanups } = stoppedAfterAll();

const silent = pino({ level: 'silent' });
const who = (instance: string, startedMs: number): InstanceInfo => ({ instance, host: 'h', pid: 1, http_url: `http://${instance}`, started_ms: startedMs });

describe('one instance per JetStream durable', () => {
  it('a second service on the same durable refuses to start, naming the first; the first consumes on; once it stops, the durable is free', async () => {
    const nats = await TestNatsServer.start({ jetstream: true });
    servers.push(nats);
    const env = { USE_JETSTREAM: 'true', WARMUP: 'false' };
    const first = await startService(nats.url, env);
    cleanups.push(first.stop);
    const firstPort = new URL(first.base).port;

    const secondService = new Service(loadConfig({ NATS_URL: nats.url, HTTP_HOST: '127.0.0.1', HTTP_PORT: '0', ...env }), silent);
    cleanups.push(() => secondService.stop());
    await secondService.listen();
    const second = secondService.start();
    await expect(second).rejects.toThrow(DurableInUseError);
    await expect(second).rejects.toThrow(new RegExp(`durable senpai-md-consumer on stream MD_EVENTS is consumed by another running instance \\(host .*, pid ${process.pid}, http://[^:]+:${firstPort}\\).*own JETSTREAM_DURABLE, or use cluster mode`));

    // the first is untouched: healthy, and every trade is its own
    const nc = await connect({ servers: nats.url });
    cleanups.push(() => nc.close());
    const js = jetstream(nc);
    const t0 = Date.now();
    for (let i = 0; i < 100; i++) await js.publish('md.events.trade.ONE', JSON.stringify({ type: 'trade', provider: 'p', symbol: 'ONE', price: 100, size: 1, trade_id: String(i + 1), ts_exchange: t0 + i }));
    await waitFor(async () => (await getJson(`${first.base}/features/latest?symbol=ONE`)).body.trade_count_10s === 100, 'all 100 trades in the first service');
    expect((await getJson(`${first.base}/health`)).status).toBe(200);

    // another durable is another consumer: allowed
    const other = await startService(nats.url, { ...env, JETSTREAM_DURABLE: 'other-desk' });
    cleanups.push(other.stop);

    await first.stop();
    const third = await startService(nats.url, env);
    cleanups.push(third.stop);
    expect((await getJson(`${third.base}/health`)).status).toBe(200);
  }, 60_000);

  it('of two instances asking at the same moment exactly one keeps the durable: the older, ties broken by the instance id', async () => {
    const nats = await TestNatsServer.start({ jetstream: false });
    servers.push(nats);
    const a = await connect({ servers: nats.url });
    const b = await connect({ servers: nats.url });
    cleanups.push(() => a.close(), () => b.close());
    for (const [ma, mb, winner] of [
      [who('a', 1000), who('b', 2000), 'a'],
      [who('a', 2000), who('b', 1000), 'b'],
      [who('b', 1000), who('a', 1000), 'a'],
    ] as const) {
      const durable = `d-${ma.started_ms}-${mb.started_ms}-${ma.instance}`;
      const results = await Promise.allSettled([claimDurable(a, 'S', durable, ma, silent), claimDurable(b, 'S', durable, mb, silent)]);
      const kept = results.flatMap((r, i) => (r.status === 'fulfilled' ? [[ma, mb][i]!.instance] : []));
      expect(kept).toEqual([winner]);
      const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect(refused.reason).toBeInstanceOf(DurableInUseError);
      for (const r of results) if (r.status === 'fulfilled') r.value.release();
    }
  });

  it('the older instance keeps the durable when it asks a moment after the younger (its question then reaches the younger, the younger\'s never reaches it)', async () => {
    const nats = await TestNatsServer.start({ jetstream: false });
    servers.push(nats);
    const a = await connect({ servers: nats.url });
    const b = await connect({ servers: nats.url });
    cleanups.push(() => a.close(), () => b.close());
    const younger = claimDurable(b, 'S', 'late-older', who('b', 2000), silent);
    await new Promise((r) => setTimeout(r, 100)); // b has asked; a's answering side is not there yet
    const older = claimDurable(a, 'S', 'late-older', who('a', 1000), silent);
    const [y, o] = await Promise.allSettled([younger, older]);
    expect(o.status).toBe('fulfilled');
    expect(y.status).toBe('rejected');
    expect((y as PromiseRejectedResult).reason).toBeInstanceOf(DurableInUseError);
    if (o.status === 'fulfilled') o.value.release();
  });

  it('`run` exits 1 with one line when the durable is taken', async () => {
    const nats = await TestNatsServer.start({ jetstream: true });
    servers.push(nats);
    const first = await startService(nats.url, { USE_JETSTREAM: 'true', WARMUP: 'false' });
    cleanups.push(first.stop);
    const p = CliProcess.start(['run'], { NATS_URL: nats.url, USE_JETSTREAM: 'true', HTTP_PORT: String(await freePort()) });
    cleanups.push(async () => p.kill('SIGKILL'));
    expect(await p.exited).toBe(1);
    expect(p.output).toMatch(/senpai-md: JetStream durable senpai-md-consumer on stream MD_EVENTS is consumed by another running instance/);
  }, 30_000);
});
