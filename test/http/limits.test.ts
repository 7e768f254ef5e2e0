import { connect as tcpConnect } from 'node:net';
import type { Socket } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { attachDashboard } from '../../src/http/dashboard.js';
import type { DashboardStreamOptions } from '../../src/http/dashboard.js';
import type { HttpStats } from '../../src/http/http-counters.js';
import { Service } from '../../src/app/service.js';
import { TestNatsServer, waitFor } from '../helpers/nats-server.js';
import { startService } from '../helpers/service.js';

/**
 * The HTTP bounds of SPEC §7 over real sockets: connections, dashboard
 * streams, and a stream client that never reads.
 */

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** One HTTP/1.1 keep-alive connection spoken by hand, so the test decides when it opens, reads and closes. */
class RawConnection {
  private buf = Buffer.alloc(0);
  private waiter: (() => void) | null = null;
  readonly closed: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.waiter?.();
    });
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined);
  }

  static open(port: number): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const s = tcpConnect({ host: '127.0.0.1', port });
      s.once('connect', () => resolve(new RawConnection(s)));
      s.once('error', reject);
    });
  }

  /** Sends a GET and reads one response (Content-Length bodies only). */
  async get(path: string): Promise<RawResponse> {
    this.socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    for (;;) {
      const head = this.buf.indexOf('\r\n\r\n');
      if (head >= 0) {
        const lines = this.buf.subarray(0, head).toString('latin1').split('\r\n');
        const headers: Record<string, string> = {};
        for (const l of lines.slice(1)) headers[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
        const length = Number(headers['content-length'] ?? 0);
        if (this.buf.length >= head + 4 + length) {
          const body = this.buf.subarray(head + 4, head + 4 + length).toString('utf8');
          this.buf = this.buf.subarray(head + 4 + length);
          return { status: Number(lines[0]!.split(' ')[1]), headers, body };
        }
      }
      if (this.socket.destroyed) throw new Error(`connection closed before the answer to ${path}`);
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
        this.socket.once('close', resolve);
      });
      this.waiter = null;
    }
  }

  close(): Promise<void> {
    this.socket.destroy();
    return this.closed;
  }
}

async function httpStats(c: RawConnection): Promise<HttpStats> {
  const res = await c.get('/stats');
  expect(res.status).toBe(200);
  return (JSON.parse(res.body) as { http: HttpStats }).http;
}

describe('HTTP_MAX_CONNECTIONS', () => {
  let nats: TestNatsServer;
  beforeAll(async () => {
    nats = await TestNatsServer.start({ jetstream: false });
  });
  afterAll(async () => {
    await nats?.stop();
  });

  it('answers 503 at once on connections over the limit, still answers /health there, and serves again once one closes', async () => {
    const { base, stop } = await startService(nats.url, { HTTP_MAX_CONNECTIONS: '3' });
    const port = Number(new URL(base).port);
    const open: RawConnection[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const c = await RawConnection.open(port);
        open.push(c);
        expect((await c.get('/health')).status).toBe(200); // served, and kept alive
      }
      const fourth = await RawConnection.open(port);
      const refused = await fourth.get('/stats');
      expect(refused.status).toBe(503);
      expect(refused.headers.connection).toBe('close');
      expect(refused.headers['retry-after']).toBe('1');
      expect(JSON.parse(refused.body)).toEqual({ error: expect.stringContaining('HTTP_MAX_CONNECTIONS') });
      await fourth.closed; // the server lets the slot go

      const fifth = await RawConnection.open(port);
      const health = await fifth.get('/health');
      expect(health.status).toBe(200);
      expect(health.headers.connection).toBe('close');
      // serving, but it had to turn a client away
      expect(JSON.parse(health.body)).toMatchObject({ status: 'degraded', reasons: ['http_overload'], nats_connected: true });
      await fifth.closed;

      const stats = await httpStats(open[0]!);
      expect(stats).toMatchObject({ connections: 3, max_connections: 3 });
      expect(stats.rejected.connections).toBe(1);
      const metrics = await open[1]!.get('/metrics');
      expect(metrics.body).toContain('senpai_http_requests_rejected_total{reason="connections"} 1');
      expect(metrics.body).toContain('senpai_http_connections 3');

      await open.shift()!.close();
      await waitFor(async () => (await httpStats(open[0]!)).connections === 2, 'the closed connection counted out');
      const again = await RawConnection.open(port);
      open.push(again);
      expect((await again.get('/stats')).status).toBe(200);
    } finally {
      for (const c of open) await c.close();
      await stop();
    }
  });
});

/** A service with the dashboard on a free port; NATS is never connected (the stream does not need it). */
async function dashboardService(env: Record<string, string>, opts: DashboardStreamOptions = {}): Promise<{ service: Service; base: string; port: number }> {
  const config = loadConfig({ NATS_URL: 'nats://127.0.0.1:1', HTTP_HOST: '127.0.0.1', HTTP_PORT: '0', ...env });
  const service = new Service(config, pino({ level: 'silent' }), {
    defaultMetrics: false,
    extendHttp: (app, svc, counters) => attachDashboard(app, svc, counters, opts),
  });
  const port = await service.listen();
  return { service, base: `http://127.0.0.1:${port}`, port };
}

/** Opens /stream and reads until the snapshot has arrived; returns the reader. */
async function openStream(base: string): Promise<ReadableStreamDefaultReader<string>> {
  const res = await fetch(`${base}/stream`);
  expect(res.status).toBe(200);
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  while (!text.includes('event: snapshot\n')) {
    const { value, done } = await reader.read();
    if (done) throw new Error('stream ended before its snapshot');
    text += value;
  }
  return reader;
}

describe('HTTP_MAX_STREAM_CLIENTS', () => {
  it('answers 503 to a stream over the limit and takes one again when a slot frees', async () => {
    const { service, base } = await dashboardService({ HTTP_MAX_STREAM_CLIENTS: '2' });
    const stats = async () => ((await (await fetch(`${base}/stats`)).json()) as { http: HttpStats }).http;
    try {
      const a = await openStream(base);
      const b = await openStream(base);
      const c = await fetch(`${base}/stream`);
      expect(c.status).toBe(503);
      expect(c.headers.get('retry-after')).toBe('2');
      expect(await c.json()).toEqual({ error: expect.stringContaining('HTTP_MAX_STREAM_CLIENTS') });
      expect(await stats()).toMatchObject({ stream_clients: 2, max_stream_clients: 2, rejected: { stream_clients: 1 } });

      await a.cancel();
      await waitFor(async () => (await stats()).stream_clients === 1, 'the cancelled stream counted out');
      const d = await openStream(base);
      await Promise.all([b.cancel(), d.cancel()]);
    } finally {
      await service.http.close();
    }
  });

  it('disconnects a stream client that never reads, while one that reads keeps its stream', async () => {
    const { service, base, port } = await dashboardService({}, { frameIntervalMs: 20, maxBufferBytes: 32 * 1024, slowReaderCutoffMs: 200 });
    const stats = async () => ((await (await fetch(`${base}/stats`)).json()) as { http: HttpStats }).http;
    const reader = await openStream(base);
    let received = 0;
    const reading = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        received += value.length;
      }
    })();
    // a client that sends its request and then reads nothing, not even the headers
    const stalled = tcpConnect({ host: '127.0.0.1', port });
    stalled.on('error', () => undefined);
    const stalledClosed = new Promise<void>((resolve) => stalled.once('close', () => resolve()));
    stalled.pause();
    stalled.write('GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    try {
      await waitFor(async () => (await stats()).stream_clients === 2, 'both streams open');
      // ~0.5 MB of alerts per poll until the stalled client's buffers fill and it is cut off
      const message = 'z'.repeat(64 * 1024);
      let n = 0;
      await waitFor(
        async () => {
          for (let i = 0; i < 8; i++) service.alerts.raise({ kind: 'gap', level: 'warn', message, symbol: `S${n++}`, provider: null, value: null, threshold: null });
          return (await stats()).slow_readers_disconnected === 1;
        },
        'the stalled client cut off',
        20_000,
      );
      // the server closed it: reading now drains what was buffered, then the end
      stalled.resume();
      await stalledClosed;
      const after = await stats();
      expect(after.stream_clients).toBe(1);
      // the reading client still gets frames
      const seen = received;
      service.alerts.raise({ kind: 'gap', level: 'warn', message: 'still here', symbol: 'LAST', provider: null, value: null, threshold: null });
      await waitFor(() => received > seen, 'a frame for the reading client');
    } finally {
      stalled.destroy();
      await reader.cancel().catch(() => undefined);
      await reading.catch(() => undefined);
      await service.http.close();
    }
  });
});
