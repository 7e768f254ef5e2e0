import { connect } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import { CliProcess } from '../helpers/cli-process.js';
import { TestNatsServer, freePort, waitFor } from '../helpers/nats-server.js';
import { Collector } from '../helpers/service.js';

/**
 * A service that does not run for a while (SIGSTOP here; a suspended VM, a
 * blocked event loop) is cut off by the server as a slow consumer long before
 * it notices: the `nats` alert counts the outage from the last moment it ran
 * (DECISIONS 91), not from the moment it noticed (which said "0.0 s").
 */

const servers: TestNatsServer[] = [];
const procs: CliProcess[] = [];
afterAll(async () => {
  for (const p of procs) p.kill('SIGKILL');
  for (const s of servers) await s.stop();
});

describe('core mode, cut off as a slow consumer while stopped', () => {
  it('the nats alert says how long the service was gone, not how long its reconnect took', async () => {
    // a 1 s write deadline: the stopped service is cut off a second after its socket buffers are full
    const nats = await TestNatsServer.start({ jetstream: false, writeDeadline: '1s' });
    servers.push(nats);
    const alerts = await Collector.open(nats.url, ['senpai.alerts']);
    const pub = await connect({ servers: nats.url });
    const run = CliProcess.start(['run'], { NATS_URL: nats.url, HTTP_HOST: '127.0.0.1', HTTP_PORT: String(await freePort()), LOG_LEVEL: 'info' });
    procs.push(run);
    let feeding: NodeJS.Timeout | undefined;
    try {
      await waitFor(() => run.output.includes('"msg":"subscribed"'), 'service subscribed');
      // 10 MB/s of (unreadable, counted and dropped) payloads: a stopped reader's buffers fill within a second
      const payload = new Uint8Array(10_000).fill(0x20);
      feeding = setInterval(() => {
        for (let i = 0; i < 100; i++) pub.publish('md.events.trade.SLOW', payload);
      }, 100);
      await new Promise((r) => setTimeout(r, 300));
      run.kill('SIGSTOP');
      const stoppedAt = Date.now();
      await new Promise((r) => setTimeout(r, 4000));
      run.kill('SIGCONT');
      const gone = (Date.now() - stoppedAt) / 1000;
      await waitFor(() => alerts.on('senpai.alerts').some((a) => a.kind === 'nats'), 'the nats alert', 20_000);
      const alert = alerts.on('senpai.alerts').find((a) => a.kind === 'nats')!;
      expect(run.output).toMatch(/noticed after this process did not run for a while/);
      // from the last moment it ran (at most half a second before the stop) to the reconnect
      expect(alert.value as number).toBeGreaterThanOrEqual(gone - 0.1);
      expect(alert.value as number).toBeLessThan(gone + 5);
      expect(alert.message).toMatch(/^NATS connection was lost for \d+\.\d s and is restored$/);
    } finally {
      clearInterval(feeding);
      run.kill('SIGCONT');
      await pub.close();
      await alerts.close();
    }
  }, 60_000);
});
