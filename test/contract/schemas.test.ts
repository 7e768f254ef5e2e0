import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { Alert, FeatureSnapshot, Signal } from '../../src/index.js';
import { ALERT_KINDS, RECORD_VERSION } from '../../src/index.js';
import type { ClusterAnswer, StateLatestAnswer } from '../../src/index.js';
import type { latestState } from '../../src/http/app.js';
import type { computeFeatures } from '../../src/features/feature-engine.js';
import type { PartitionLeases } from '../../src/cluster/leases.js';
import { contractErrors, loadSchemas, schemaErrors } from '../helpers/contract.js';
import { parseJsonl } from '../helpers/golden.js';

const root = join(import.meta.dirname, '..', '..');

/** The examples of SPEC §4/§5, as a trading agent would receive them. */
const FEATURES: FeatureSnapshot = {
  v: 1,
  symbol: 'BTCUSDT',
  ts: 1760000000123,
  warm: true,
  mid: 43000.25,
  spread_abs: 0.5,
  spread_bps: 0.116,
  trade_vwap_10s: 43001.2,
  trade_vwap_60s: 42998.7,
  trade_count_10s: 57,
  trade_volume_10s: 3.41,
  return_10s: 0.0012,
  realized_vol_60s: 0.00031,
  latency_ms_p50: 24.0,
  latency_ms_p95: 61.5,
};
const SIGNAL: Signal = {
  v: 1,
  symbol: 'BTCUSDT',
  ts: 1760000000123,
  warm: true,
  direction: 'long',
  return_10s: 0.0042,
  trade_volume_10s: 3.2,
  spread_bps: 1.1,
  thresholds: { return: 0.003, volume: 1.0, spread_bps: 20 },
};
const ALERT: Alert = { v: 1, ts: 1760000000500, kind: 'cluster', level: 'warn', symbol: null, provider: null, message: 'partition 3 moved to m2', value: 4.2, threshold: 15 };

/** Every key of a type, listed once: a missing or extra key fails to compile. */
function keysOf<T>() {
  return <const K extends readonly (keyof T)[]>(keys: K & ([Exclude<keyof T, K[number]>] extends [never] ? unknown : 'missing keys')) => keys;
}

describe('the JSON Schemas (schema/)', () => {
  const schemas = loadSchemas();

  it('are draft 2020-12, named after their file, and compile (ajv strict mode)', () => {
    expect([...schemas.keys()]).toEqual(['alert', 'features', 'http-cluster', 'http-error', 'http-features-latest', 'http-health', 'http-state-latest', 'http-stats', 'signal']);
    for (const [name, s] of schemas) {
      expect(s.$schema, name).toBe('https://json-schema.org/draft/2020-12/schema');
      expect(s.$id, name).toBe(`https://senpai-md-consumer.invalid/schema/${name}.schema.json`);
      expect(typeof s.description, name).toBe('string');
    }
    expect(schemaErrors('features', FEATURES)).toEqual([]); // compiling happens on first use
  });

  it('accept the SPEC examples, closed to undescribed fields', () => {
    expect(contractErrors('features', FEATURES)).toEqual([]);
    expect(contractErrors('http-features-latest', FEATURES)).toEqual([]);
    expect(contractErrors('signal', SIGNAL)).toEqual([]);
    expect(contractErrors('alert', ALERT)).toEqual([]);
    expect(contractErrors('features', { ...FEATURES, mid: null, spread_abs: null, spread_bps: null, return_10s: null, latency_ms_p50: null, latency_ms_p95: null, warm: false })).toEqual([]);
  });

  it('allow extra properties (consumers ignore keys they do not know); our own output is held to the closed form', () => {
    expect(contractErrors('features', { ...FEATURES, new_feature_30s: 1 }).join()).toMatch(/unevaluated/);
    expect(contractErrors('signal', { ...SIGNAL, thresholds: { ...SIGNAL.thresholds, extra: 1 } }).join()).toMatch(/unevaluated/);
    expect(schemaErrors('features', { ...FEATURES, new_feature_30s: 1 })).toEqual([]);
    expect(schemaErrors('signal', { ...SIGNAL, thresholds: { ...SIGNAL.thresholds, extra: 1 }, extra: 'x' })).toEqual([]);
    expect(schemaErrors('alert', { ...ALERT, extra: true })).toEqual([]);
  });

  it('require warm on features and signals (revision 2), and v 1', () => {
    const { warm: _w, ...noWarm } = FEATURES;
    expect(schemaErrors('features', noWarm).join()).toMatch(/must have required property 'warm'/);
    const { warm: _s, ...signalNoWarm } = SIGNAL;
    expect(schemaErrors('signal', signalNoWarm).join()).toMatch(/'warm'/);
    expect(schemaErrors('features', { ...FEATURES, v: 2 }).join()).toMatch(/constant/);
    expect(schemaErrors('features', { ...FEATURES, warm: 'yes' })).not.toEqual([]);
  });

  it('reject what the contract rules out', () => {
    expect(schemaErrors('features', { ...FEATURES, symbol: 'btc/usdt' })).not.toEqual([]);
    expect(schemaErrors('features', { ...FEATURES, trade_count_10s: 1.5 })).not.toEqual([]);
    expect(schemaErrors('signal', { ...SIGNAL, direction: 'flat' })).not.toEqual([]);
    expect(schemaErrors('alert', { ...ALERT, kind: 'weather' })).not.toEqual([]);
    expect(schemaErrors('alert', { ...ALERT, level: 'info' })).not.toEqual([]);
    expect(schemaErrors('http-health', { status: 'ok', nats_connected: false, uptime_s: 1, symbols: [] })).not.toEqual([]);
    expect(schemaErrors('http-health', { status: 'warming', nats_connected: true, uptime_s: 1, symbols: [] }).join()).toMatch(/warmup/);
    expect(schemaErrors('http-health', { status: 'degraded', nats_connected: false, uptime_s: 1, symbols: [], reasons: ['nats'], nats_error: 'connection refused' })).toEqual([]);
    expect(schemaErrors('http-health', { status: 'degraded', nats_connected: false, uptime_s: 1, symbols: [] })).not.toEqual([]);
    expect(schemaErrors('http-state-latest', { symbol: 'X', trade: null, quote: null, book: { bids: [[1, 2, 3]], asks: [[2, 1]], provider: 'p', ts_exchange: null, ts_recv: 1 } })).not.toEqual([]);
  });

  it('describe the SPEC §7/§12 answers that a running single instance cannot show', () => {
    expect(contractErrors('http-health', { status: 'warming', nats_connected: true, uptime_s: 3.2, symbols: ['BTCUSDT'], warmup: { messages: 120000, elapsed_s: 2.5 } })).toEqual([]);
    expect(contractErrors('http-health', { status: 'degraded', nats_connected: true, uptime_s: 3.2, symbols: [], reasons: ['backpressure'], partitions: [0, 3] })).toEqual([]);
    expect(contractErrors('http-error', { error: 'symbol BTCUSDT is owned by m2', owner: 'm2', http_url: 'http://10.0.0.2:8892' })).toEqual([]);
    expect(
      contractErrors('http-cluster', {
        member: 'm1',
        members: [
          { id: 'm1', http_url: 'http://a:8892', partitions: [0, 1], last_seen_ms: 1760000000000 },
          { id: 'm2', http_url: 'http://b:8892', partitions: [2], last_seen_ms: 1760000000100 },
        ],
        partitions: [
          { partition: 0, owner: 'm1', since_ms: 1760000000000 },
          { partition: 1, owner: 'm1', since_ms: 1760000000000 },
          { partition: 2, owner: null, since_ms: null },
        ],
      }),
    ).toEqual([]);
  });

  it('list the same fields and alert kinds as the TypeScript types', () => {
    const props = (name: string) => Object.keys((schemas.get(name)!.properties ?? {}) as object).sort();
    const featureKeys = keysOf<FeatureSnapshot>()(['v', 'symbol', 'ts', 'warm', 'mid', 'spread_abs', 'spread_bps', 'trade_vwap_10s', 'trade_vwap_60s', 'trade_count_10s', 'trade_volume_10s', 'return_10s', 'realized_vol_60s', 'latency_ms_p50', 'latency_ms_p95']);
    expect(props('features')).toEqual([...featureKeys].sort());
    expect(schemas.get('features')!.required).toEqual([...featureKeys]);
    const signalKeys = keysOf<Signal>()(['v', 'symbol', 'ts', 'warm', 'direction', 'return_10s', 'trade_volume_10s', 'spread_bps', 'thresholds']);
    expect(props('signal')).toEqual([...signalKeys].sort());
    const alertKeys = keysOf<Alert>()(['v', 'ts', 'kind', 'level', 'symbol', 'provider', 'message', 'value', 'threshold']);
    expect(props('alert')).toEqual([...alertKeys].sort());
    expect((schemas.get('alert')!.properties as { kind: { enum: string[] } }).kind.enum).toEqual([...ALERT_KINDS]);
    expect(ALERT_KINDS).toContain('cluster');
    expect(RECORD_VERSION).toBe((schemas.get('features')!.properties as { v: { const: number } }).v.const);
  });

  it('types the producers: the HTTP state and cluster answers and the features are the exported contract types', () => {
    expectTypeOf<ReturnType<typeof latestState>>().toExtend<StateLatestAnswer>();
    expectTypeOf<ReturnType<PartitionLeases['view']>>().toEqualTypeOf<ClusterAnswer>();
    expectTypeOf<ReturnType<typeof computeFeatures>>().toEqualTypeOf<FeatureSnapshot>();
  });

  it('accept every features and signal record compute writes for the golden vectors', () => {
    const res = spawnSync(process.execPath, [join(root, 'bin', 'senpai-md'), 'compute', join(root, 'test', 'fixtures', 'golden', 'events.jsonl')], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      env: { PATH: process.env.PATH ?? '' },
      cwd: join(root, 'test', 'fixtures', 'golden'),
    });
    expect(res.status).toBe(0);
    const problems: string[] = [];
    const counts = { features: 0, signal: 0 };
    for (const { kind, line, ...payload } of parseJsonl(res.stdout)) {
      const name = kind === 'signal' ? 'signal' : 'features';
      counts[name]++;
      for (const e of contractErrors(name, payload)) problems.push(`line ${line}: ${e}`);
      if (problems.length > 10) break;
    }
    expect(problems).toEqual([]);
    expect(counts.features).toBeGreaterThan(5000);
    expect(counts.signal).toBeGreaterThan(0);
  });
});
