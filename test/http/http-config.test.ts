import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { ConfigError } from '../../src/domain/errors.js';

/** The four HTTP and metrics settings of SPEC §7/§8. */
describe('HTTP and metrics configuration', () => {
  it('reads the limits, the token and the symbol label bound', () => {
    const c = loadConfig({ HTTP_MAX_CONNECTIONS: '10', HTTP_MAX_STREAM_CLIENTS: '0', HTTP_AUTH_TOKEN: ' s3cr3t-Token_1 ', METRICS_MAX_SYMBOLS: '5' });
    expect(c.http).toMatchObject({ maxConnections: 10, maxStreamClients: 0, authToken: 's3cr3t-Token_1' });
    expect(c.metricsMaxSymbols).toBe(5);
    expect(loadConfig({ HTTP_AUTH_TOKEN: '' }).http.authToken).toBeUndefined();
  });

  it('refuses values out of range, naming the variable', () => {
    const bad: [string, string, RegExp][] = [
      ['HTTP_MAX_CONNECTIONS', '0', /HTTP_MAX_CONNECTIONS="0": expected an integer from 1 to 100000/],
      ['HTTP_MAX_CONNECTIONS', 'many', /HTTP_MAX_CONNECTIONS="many"/],
      ['HTTP_MAX_STREAM_CLIENTS', '10001', /HTTP_MAX_STREAM_CLIENTS="10001": expected an integer from 0 to 10000/],
      ['METRICS_MAX_SYMBOLS', '2.5', /METRICS_MAX_SYMBOLS="2.5"/],
    ];
    for (const [k, v, re] of bad) expect(() => loadConfig({ [k]: v })).toThrow(re);
  });

  it('refuses a token that cannot travel in a header without echoing it', () => {
    let message = '';
    try {
      loadConfig({ HTTP_AUTH_TOKEN: 'two words' });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      message = (err as Error).message;
    }
    expect(message).toMatch(/HTTP_AUTH_TOKEN.*visible ASCII/);
    expect(message).not.toContain('two words');
  });
});
