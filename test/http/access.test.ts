import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BearerToken } from '../../src/http/bearer-token.js';
import type { Service } from '../../src/app/service.js';
import { offlineService } from '../helpers/service.js';

/** HTTP_AUTH_TOKEN (SPEC §7) through inject(): the service is built, never connected. */

const TOKEN = 'Zm9vYmFy-0123456789abcdef';

describe('with HTTP_AUTH_TOKEN set', () => {
  let service: Service;
  beforeAll(() => {
    service = offlineService({ HTTP_AUTH_TOKEN: TOKEN });
  });
  afterAll(async () => {
    await service.http.close();
  });

  const inject = (url: string, authorization?: string) =>
    service.http.inject({ method: 'GET', url, headers: authorization === undefined ? {} : { authorization } });

  it('answers 401 without the token on every endpoint but /health and /', async () => {
    for (const url of ['/metrics', '/stats', '/state/latest?symbol=BTCUSDT', '/features/latest?symbol=BTCUSDT', '/stream', '/nope']) {
      const res = await inject(url);
      expect(res.statusCode, url).toBe(401);
      expect(res.headers['www-authenticate'], url).toMatch(/^Bearer /);
      expect(res.json(), url).toEqual({ error: expect.stringContaining('Authorization: Bearer') });
    }
    // the health check and the static page (which holds no data) stay open
    expect((await inject('/health')).statusCode).toBe(503); // answered: NATS is not connected here
    expect((await inject('/health')).json()).toMatchObject({ status: 'degraded', reasons: ['nats'] });
    expect((await inject('/')).statusCode).toBe(200);
  });

  it('answers 200 with the token, and never takes it from the query string', async () => {
    expect((await inject('/stats', `Bearer ${TOKEN}`)).statusCode).toBe(200);
    expect((await inject('/stats', `bearer   ${TOKEN}`)).statusCode).toBe(200);
    expect((await inject('/metrics', `Bearer ${TOKEN}`)).statusCode).toBe(200);
    expect((await inject('/features/latest?symbol=BTCUSDT', `Bearer ${TOKEN}`)).statusCode).toBe(404); // past the check: unknown symbol
    for (const url of [`/stats?token=${TOKEN}`, `/stats?access_token=${TOKEN}`, `/stats?authorization=Bearer%20${TOKEN}`]) {
      expect((await inject(url)).statusCode, url).toBe(401);
    }
    for (const header of [`Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, TOKEN, `Basic ${TOKEN}`, 'Bearer', `Bearer ${TOKEN} extra`]) {
      expect((await inject('/stats', header)).statusCode, header).toBe(401);
    }
  });

  it('counts refusals in /stats and metrics', async () => {
    const before = service.http.inject({ method: 'GET', url: '/stats', headers: { authorization: `Bearer ${TOKEN}` } });
    const n = ((await before).json() as { http: { rejected: { unauthorized: number } } }).http.rejected.unauthorized;
    await inject('/stats');
    const stats = (await inject('/stats', `Bearer ${TOKEN}`)).json() as { http: { rejected: { unauthorized: number } } };
    expect(stats.http.rejected.unauthorized).toBe(n + 1);
  });
});

describe('without HTTP_AUTH_TOKEN (the default)', () => {
  it('is open', async () => {
    const service = offlineService();
    try {
      expect((await service.http.inject({ method: 'GET', url: '/stats' })).statusCode).toBe(200);
      expect((await service.http.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(200);
    } finally {
      await service.http.close();
    }
  });
});

describe('BearerToken', () => {
  it('requires nothing when unset and compares the whole token when set', () => {
    expect(new BearerToken(undefined).allows(undefined)).toBe(true);
    expect(new BearerToken('').required).toBe(false);
    const t = new BearerToken('abc');
    expect(t.required).toBe(true);
    expect(t.allows(undefined)).toBe(false);
    expect(t.allows('Bearer abc')).toBe(true);
    expect(t.allows('BEARER abc')).toBe(true);
    expect(t.allows('Bearer abcd')).toBe(false);
    expect(t.allows('Bearer ab')).toBe(false);
    expect(t.allows('Bearer  abc ')).toBe(true);
    expect(t.allows('Bearerabc')).toBe(false);
  });
});
