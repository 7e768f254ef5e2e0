import { describe, expect, it } from 'vitest';
import { MarketEngine } from '../../src/engine/market-engine.js';
import { buildHttpApp } from '../../src/http/app.js';
import type { ClusterRoutes } from '../../src/http/app.js';
import { Telemetry } from '../../src/obs/telemetry.js';
import { EventQueue } from '../../src/queue/event-queue.js';
import { contractErrors } from '../helpers/contract.js';
import { engineConfig, trade } from '../helpers/events.js';

/** The cluster-mode answers of SPEC §12 over the view the app reads (the member itself is tested on a real cluster). */

const VIEW = {
  member: 'm1',
  members: [
    { id: 'm1', http_url: 'http://10.0.0.1:8892', partitions: [0], last_seen_ms: 1 },
    { id: 'm2', http_url: 'http://10.0.0.2:8892', partitions: [1], last_seen_ms: 2 },
  ],
  partitions: [
    { partition: 0, owner: 'm1', since_ms: 1 },
    { partition: 1, owner: 'm2', since_ms: 2 },
    { partition: 2, owner: null, since_ms: null },
  ],
};

/** AAA is owned here, BBB by m2, CCC by nobody yet. */
const ROUTES: ClusterRoutes = {
  view: () => VIEW,
  owned: () => [0],
  route: (symbol) =>
    symbol === 'BBB' ? { kind: 'elsewhere', owner: 'm2', httpUrl: 'http://10.0.0.2:8892' } : symbol === 'CCC' ? { kind: 'unowned', partition: 2 } : { kind: 'here' },
};

function app(cluster: ClusterRoutes | null) {
  const queue = new EventQueue(10, true);
  const engine = new MarketEngine(engineConfig(), 'live');
  engine.ingest(trade(1_000, 100, 1, { symbol: 'AAA' }), 1_000);
  const telemetry = new Telemetry(() => queue.fillRatio, { defaultMetrics: false });
  return buildHttpApp({ symbols: engine.symbols, symbolChanges: () => engine.symbolChanges, telemetry, queue, isNatsConnected: () => true, ...(cluster !== null ? { cluster: () => cluster } : {}) });
}

async function get(cluster: ClusterRoutes | null, url: string) {
  const a = app(cluster);
  try {
    const res = await a.inject({ method: 'GET', url });
    return { status: res.statusCode, body: res.json() as Record<string, unknown>, headers: res.headers };
  } finally {
    await a.close();
  }
}

describe('cluster mode over HTTP (SPEC §12)', () => {
  it('GET /cluster: the view in cluster mode, 404 "cluster mode off" otherwise', async () => {
    const on = await get(ROUTES, '/cluster');
    expect(on.status).toBe(200);
    expect(on.body).toEqual(VIEW);
    expect(contractErrors('http-cluster', on.body)).toEqual([]);
    const off = await get(null, '/cluster');
    expect(off).toMatchObject({ status: 404, body: { error: 'cluster mode off' } });
    expect(contractErrors('http-error', off.body)).toEqual([]);
  });

  it('/health lists the partitions owned here in cluster mode only', async () => {
    const on = await get(ROUTES, '/health');
    expect(on.body.partitions).toEqual([0]);
    expect(contractErrors('http-health', on.body)).toEqual([]);
    expect((await get(null, '/health')).body.partitions).toBeUndefined();
  });

  it('a symbol owned elsewhere is 421 with the owner and its URL; unowned 503 with Retry-After; unknown here 404', async () => {
    for (const path of ['/features/latest', '/state/latest']) {
      const elsewhere = await get(ROUTES, `${path}?symbol=bbb`);
      expect(elsewhere.status).toBe(421);
      expect(elsewhere.body).toEqual({ error: 'symbol BBB is owned by cluster member m2', owner: 'm2', http_url: 'http://10.0.0.2:8892' });
      expect(contractErrors('http-error', elsewhere.body)).toEqual([]);
      const unowned = await get(ROUTES, `${path}?symbol=CCC`);
      expect(unowned.status).toBe(503);
      expect(unowned.headers['retry-after']).toBe('1');
      expect(String(unowned.body.error)).toMatch(/partition 2/);
      expect((await get(ROUTES, `${path}?symbol=AAA`)).status).toBe(200);
      expect((await get(ROUTES, `${path}?symbol=DDD`)).status).toBe(404);
    }
  });
});
