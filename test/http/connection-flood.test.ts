import { Agent, get } from 'node:http';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { Service } from '../../src/app/service.js';
import { HEALTH_RESERVE_CONNECTIONS } from '../../src/http/connection-limit.js';

/**
 * SPEC §7: beyond HTTP_MAX_CONNECTIONS a request gets 503 "and /health is
 * still answered" — also when more clients than the limit and its reserve
 * together keep reconnecting and asking (a liveness probe failing during a
 * flood would have the pod restarted and the feed taken down).
 */

const LIMIT = 4;
// more clients than the served connections and their reserve together (the ceiling is test/http/connection-limit.test.ts's)
const FLOOD = LIMIT + HEALTH_RESERVE_CONNECTIONS + 300;

/** One answer on a connection of its own, or why there was none. */
function probe(port: number, path: string): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', (err) => resolve({ error: err.message }));
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 5 s')));
    req.on('error', (err) => resolve({ error: err.message }));
  });
}

/** `clients` closed-loop keep-alive clients asking `path` again as soon as they have an answer (or an error), until stopped. */
function flood(port: number, clients: number, path: string): { answers: () => number; stop: () => Promise<void> } {
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  let stopping = false;
  let answers = 0;
  const loop = (): Promise<void> =>
    new Promise<void>((resolve) => {
      const req = get({ host: '127.0.0.1', port, path, agent }, (res) => {
        res.resume();
        res.on('end', () => {
          answers++;
          resolve();
        });
        res.on('error', () => resolve());
      });
      req.on('error', () => resolve());
    }).then(() => (stopping ? undefined : loop()));
  const loops = Array.from({ length: clients }, () => loop());
  return {
    answers: () => answers,
    stop: async () => {
      stopping = true;
      await Promise.all(loops);
      agent.destroy();
    },
  };
}

describe('a connection flood beyond HTTP_MAX_CONNECTIONS and its reserve', () => {
  let service: Service | null = null;
  afterEach(async () => {
    await service?.http.close();
    service = null;
  });

  it('still answers every /health probe on a fresh connection', async () => {
    // NATS is never connected: /health answers 503 degraded, which is an answer
    const config = loadConfig({ NATS_URL: 'nats://127.0.0.1:1', HTTP_HOST: '127.0.0.1', HTTP_PORT: '0', HTTP_MAX_CONNECTIONS: String(LIMIT) });
    service = new Service(config, pino({ level: 'silent' }), { defaultMetrics: false });
    const port = await service.listen();

    const load = flood(port, FLOOD, '/features/latest?symbol=BTCUSDT');
    const outcomes: string[] = [];
    try {
      // the flood is under way: its clients have been answered (refused or served)
      for (const deadline = Date.now() + 10_000; load.answers() < FLOOD && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
      expect(load.answers()).toBeGreaterThanOrEqual(FLOOD);
      for (let i = 0; i < 15; i++) {
        const res = await probe(port, '/health');
        if ('error' in res) outcomes.push(`error: ${res.error}`);
        else if ((res.status === 200 || res.status === 503) && typeof (JSON.parse(res.body) as { status?: unknown }).status === 'string') outcomes.push('answered');
        else outcomes.push(`${res.status} ${res.body}`);
        await new Promise((r) => setTimeout(r, 30));
      }
    } finally {
      await load.stop();
    }
    // the bound on open connections (the ceiling beyond the limit) is tested in connection-limit.test.ts
    expect(outcomes).toEqual(Array.from({ length: 15 }, () => 'answered'));
  });
});
