import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Service } from '../../src/app/service.js';
import { contractErrors } from '../helpers/contract.js';
import { offlineService } from '../helpers/service.js';

/** Methods (SPEC §7: errors are `{"error":"…"}`; unknown paths 404): a known path asked with the wrong method is 405. */

type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE' | 'PATCH' | 'OPTIONS';

describe('HTTP methods', () => {
  let service: Service;
  beforeAll(() => {
    service = offlineService();
  });
  afterAll(async () => {
    await service.http.close();
  });
  const inject = (method: Method, url: string, headers: Record<string, string> = {}) => service.http.inject({ method, url, headers });

  it('answers 405 with Allow and an error body to a wrong method on an existing path', async () => {
    const asked: [Method, string][] = [
      ['POST', '/stats'],
      ['DELETE', '/health'],
      ['PUT', '/features/latest?symbol=BTCUSDT'],
      ['PATCH', '/state/latest'],
      ['POST', '/metrics'],
      ['OPTIONS', '/cluster'],
      ['POST', '/'],
    ];
    for (const [method, url] of asked) {
      const res = await inject(method, url);
      const what = `${method} ${url}`;
      expect(res.statusCode, what).toBe(405);
      expect(res.headers.allow, what).toBe('GET, HEAD');
      expect(res.json(), what).toEqual({ error: `method ${method} not allowed on ${url.split('?')[0]}: use GET or HEAD` });
      expect(contractErrors('http-error', res.json()), what).toEqual([]);
    }
  });

  it('keeps 404 for an unknown path, whatever the method', async () => {
    for (const method of ['GET', 'POST', 'HEAD'] as const) {
      const res = await inject(method, '/nope');
      expect(res.statusCode, method).toBe(404);
      if (method !== 'HEAD') expect(res.json()).toEqual({ error: `no route ${method} /nope` });
    }
  });

  it('answers HEAD as GET without the body on every GET route but /stream, which is 405 (GET only)', async () => {
    for (const url of ['/health', '/stats', '/metrics', '/', '/features/latest?symbol=BTCUSDT', '/state/latest']) {
      const get = await inject('GET', url);
      const head = await inject('HEAD', url);
      expect(head.statusCode, url).toBe(get.statusCode);
      expect(head.headers['content-type'], url).toBe(get.headers['content-type']);
      expect(head.body, url).toBe('');
    }
    const stream = await inject('HEAD', '/stream');
    expect(stream.statusCode).toBe(405);
    expect(stream.headers.allow).toBe('GET');
    expect(stream.json()).toEqual({ error: 'method HEAD not allowed on /stream: use GET' });
  });

  it('says 401, not 405, without the token when HTTP_AUTH_TOKEN is set, so routes cannot be probed', async () => {
    const guarded = offlineService({ HTTP_AUTH_TOKEN: 'Zm9vYmFy-0123456789abcdef' });
    try {
      expect((await guarded.http.inject({ method: 'POST', url: '/stats' })).statusCode).toBe(401);
      expect((await guarded.http.inject({ method: 'DELETE', url: '/health' })).statusCode).toBe(401);
      const withToken = await guarded.http.inject({ method: 'POST', url: '/stats', headers: { authorization: 'Bearer Zm9vYmFy-0123456789abcdef' } });
      expect(withToken.statusCode).toBe(405);
    } finally {
      await guarded.http.close();
    }
  });
});
