import { connect } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { Service } from '../../src/app/service.js';
import { contractErrors } from '../helpers/contract.js';

/**
 * SPEC §7: errors are `{"error":"…"}` — also those node or fastify answer
 * before any route runs (an oversized head, a malformed request, a bad URL),
 * which by default have fastify's `{"error","message","statusCode"}` or no body.
 * Spoken over raw sockets: inject() does not go through node's parser.
 */

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Sends `request` on a connection of its own and reads the one answer (Content-Length bodies; the server closes or the answer is complete). */
function exchange(port: number, request: string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => done(new Error(`no complete answer in 5 s: ${JSON.stringify(buf.toString('latin1'))}`)), 5000);
    const done = (err: Error | null, answer?: RawAnswer) => {
      clearTimeout(timer);
      socket.destroy();
      if (err !== null) reject(err);
      else resolve(answer!);
    };
    const tryParse = (): boolean => {
      const head = buf.indexOf('\r\n\r\n');
      if (head < 0) return false;
      const lines = buf.subarray(0, head).toString('latin1').split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines.slice(1)) headers[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
      const length = Number(headers['content-length'] ?? NaN);
      if (!(buf.length >= head + 4 + length)) return false;
      done(null, { status: Number(lines[0]!.split(' ')[1]), headers, body: buf.subarray(head + 4, head + 4 + length).toString('utf8') });
      return true;
    };
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      tryParse();
    });
    socket.on('error', () => undefined); // a reset after the answer: the answer is what counts
    socket.on('close', () => {
      if (!tryParse()) done(new Error(`closed without a complete answer: ${JSON.stringify(buf.toString('latin1'))}`));
    });
    socket.write(request);
  });
}

function expectErrorShape(res: RawAnswer, status: number, what: string): void {
  expect(res.status, what).toBe(status);
  expect(res.headers['content-type'], what).toMatch(/^application\/json/);
  const body = JSON.parse(res.body) as unknown;
  expect(body, what).toEqual({ error: expect.any(String) });
  expect(contractErrors('http-error', body), what).toEqual([]);
}

describe('error answers made before routing', () => {
  let service: Service;
  let port: number;
  beforeAll(async () => {
    const config = loadConfig({ NATS_URL: 'nats://127.0.0.1:1', HTTP_HOST: '127.0.0.1', HTTP_PORT: '0' });
    service = new Service(config, pino({ level: 'silent' }), { defaultMetrics: false });
    port = await service.listen();
  });
  afterAll(async () => {
    await service.http.close();
  });

  it('431 for a 100 KB URL', async () => {
    const res = await exchange(port, `GET /features/latest?symbol=${'A'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    expectErrorShape(res, 431, '100 KB URL');
    expect(JSON.parse(res.body)).toEqual({ error: expect.stringContaining('16 KiB') });
  });

  it('400 for a malformed request, a bad URL, an HTTP/1.1 request without Host', async () => {
    expectErrorShape(await exchange(port, 'FOO\r\n\r\n'), 400, 'no request line');
    expectErrorShape(await exchange(port, 'GET /health HTTP/9.9\r\nHost: x\r\n\r\n'), 400, 'HTTP/9.9');
    expectErrorShape(await exchange(port, 'GET /%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'), 400, 'bad percent-encoding');
    expectErrorShape(await exchange(port, 'GET /health HTTP/1.1\r\nConnection: close\r\n\r\n'), 400, 'no Host');
  });

  it('417 for an expectation it cannot meet, 413 for a body over the limit', async () => {
    expectErrorShape(await exchange(port, 'GET /health HTTP/1.1\r\nHost: x\r\nExpect: the-moon\r\nConnection: close\r\n\r\n'), 417, 'Expect');
    // 413 already had this shape (the app's error handler) before 417 was added: a regression guard
    const body = `{"a":"${'x'.repeat(2_000_000)}"}`;
    const res = await exchange(port, `POST /stats HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    expectErrorShape(res, 413, '2 MB body');
  });

  it('405 for CONNECT (node would close the connection without an answer), and the connection closed from this side', async () => {
    const res = await exchange(port, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
    expectErrorShape(res, 405, 'CONNECT');
    expect(res.headers.allow).toBe('GET, HEAD');
    expect(JSON.parse(res.body)).toEqual({ error: expect.stringContaining('not a proxy') });
    // clients that never close their side: the server still closes their connections, freeing the slots
    const openConnections = async (): Promise<number> => {
      const stats = JSON.parse((await exchange(port, 'GET /stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).body) as { http: { connections: number } };
      return stats.http.connections - 1; // less the one asking
    };
    const before = await openConnections();
    const sockets = [0, 1, 2].map(() => {
      const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
      socket.on('error', () => undefined);
      socket.resume(); // reads the answer and the end, and never ends its own side
      socket.write('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
      return socket;
    });
    try {
      await new Promise((r) => setTimeout(r, 500));
      expect(await openConnections()).toBe(before);
    } finally {
      for (const socket of sockets) socket.destroy();
    }
  });

  it('408 for a client that trickles its headers past 10 s (node waited 60 s), its connection closed', async () => {
    const socket = connect({ host: '127.0.0.1', port });
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
    socket.on('error', () => undefined);
    const closed = new Promise<number>((resolve) => socket.on('close', () => resolve(performance.now())));
    const start = performance.now();
    socket.write('GET /stats HTTP/1.1\r\nHost: x\r\n');
    // a header line every 2 s: the connection is never idle, the headers never end
    const trickle = setInterval(() => socket.writable && socket.write(`X-Slow-${Math.round(performance.now())}: 1\r\n`), 2000);
    const at = await closed;
    clearInterval(trickle);
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer).toMatch(/\{"error":"the request was not received in time"\}$/);
    expect(at - start).toBeGreaterThanOrEqual(9_500);
    expect(at - start).toBeLessThan(15_000);
  }, 25_000);

  it('still answers /health on a well-formed request, HTTP/1.0 without Host included', async () => {
    expect((await exchange(port, 'GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).status).toBe(503); // NATS never connected here
    expect((await exchange(port, 'GET /health HTTP/1.0\r\n\r\n')).status).toBe(503);
  });
});
