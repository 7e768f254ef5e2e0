import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_TYPES, REJECT_REASONS } from '../../src/domain/events.js';
import { ALERT_KINDS, ALERT_LEVELS } from '../../src/domain/features.js';
import { HTTP_REJECT_REASONS } from '../../src/http/http-counters.js';
import { PUBLISH_OUTPUTS } from '../../src/obs/telemetry.js';
import { TestNatsServer, waitFor } from '../helpers/nats-server.js';
import { getJson, startService } from '../helpers/service.js';

/** promtool from PROMTOOL, .ci/bin (extracted by .ci/run) or PATH; null when absent. */
function promtool(): string | null {
  const candidates = [process.env.PROMTOOL, join(import.meta.dirname, '..', '..', '.ci', 'bin', 'promtool')];
  for (const c of candidates) if (c !== undefined && c !== '' && existsSync(c)) return c;
  const which = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' });
  return which.status === 0 ? which.stdout.trim() : null;
}

/** promtool lint that SPEC §8 accepts: the `_ms` name kept for dashboards, and prom-client's defaults. */
const ACCEPTED_LINT = [/^senpai_processing_latency_ms metric names should not contain abbreviated units$/, /^nodejs_\w+_total non-counter metrics should not have "_total" suffix$/];

let nats: TestNatsServer;
let text: string;

beforeAll(async () => {
  nats = await TestNatsServer.start({ jetstream: false });
  // a bound of 2 symbol labels: MX and MA keep theirs, MB and MC are "other"
  const { base, service, stop } = await startService(nats.url, { METRICS_MAX_SYMBOLS: '2' });
  const nc = await connect({ servers: nats.url });
  const t0 = Date.now();
  // 40 providers: label values beyond the first 32 become "other"
  for (let i = 0; i < 40; i++) nc.publish('md.events.trade.MX', JSON.stringify({ type: 'trade', provider: `prov${i}`, symbol: 'MX', price: 100 + i, size: 2, trade_id: String(i), ts_exchange: t0 + i }));
  nc.publish('md.events.quote.MX', JSON.stringify({ type: 'quote', symbol: 'MX', bid: 101, ask: 100, ts_exchange: t0 }));
  nc.publish('md.events.wat.MX', '{}');
  for (const [i, symbol] of ['MA', 'MB', 'MC'].entries()) nc.publish(`md.events.trade.${symbol}`, JSON.stringify({ type: 'trade', provider: 'prov0', symbol, price: 10, size: 1, trade_id: `x${i}`, ts_exchange: t0 }));
  await nc.flush();
  await waitFor(async () => (await getJson(`${base}/stats`)).body.events_processed_total === 45, 'processing');
  await waitFor(() => service.pipeline.features.pendingCount === 0, 'the trailing feature publish');
  text = await (await fetch(`${base}/metrics`)).text();
  await nc.close();
  await stop();
});
afterAll(async () => {
  await nats?.stop();
});

describe('/metrics', () => {
  it('parses as Prometheus text with the families, types and bounded labels of SPEC §8', () => {
    const families = new Map(parsePrometheusTextFormat(text).map((f) => [f.name, f]));
    const types: Record<string, string> = {
      senpai_events_in_total: 'COUNTER',
      senpai_events_dropped_total: 'COUNTER',
      senpai_queue_fill_ratio: 'GAUGE',
      senpai_processing_latency_ms: 'HISTOGRAM',
      senpai_feature_publish_total: 'COUNTER',
      senpai_signals_emitted_total: 'COUNTER',
      senpai_nats_connected: 'GAUGE',
    };
    for (const [name, type] of Object.entries(types)) expect(families.get(name)?.type, name).toBe(type);
    const providers = new Set(families.get('senpai_events_in_total')!.metrics.map((m) => m.labels?.provider));
    expect(providers.size).toBe(34); // 32 named + other + unknown (no provider: rejected before decoding)
    expect(providers.has('other')).toBe(true);
    const other = families.get('senpai_events_in_total')!.metrics.find((m) => m.labels?.provider === 'other' && m.labels?.type === 'trade');
    expect(Number(other!.value)).toBe(8);
    // every reason × type from the start; only what happened is non-zero
    const dropped = families.get('senpai_events_dropped_total')!.metrics;
    expect(dropped.length).toBe(REJECT_REASONS.length * (EVENT_TYPES.length + 1));
    const nonZero = dropped.filter((m) => Number(m.value) > 0).map((m) => `${m.labels?.reason}/${m.labels?.type}`).sort();
    expect(nonZero).toEqual(['invalid/quote', 'invalid/unknown']);
    // METRICS_MAX_SYMBOLS=2: the first two symbols keep their label, later ones are "other"
    const publishes = families.get('senpai_feature_publish_total')!.metrics.map((m) => m.labels?.symbol).sort();
    expect(publishes).toEqual(['MA', 'MX', 'other']);
    const signals = families.get('senpai_signals_emitted_total')!.metrics.map((m) => `${m.labels?.symbol}/${m.labels?.direction}=${m.value}`).sort();
    expect(signals).toEqual(['MA/long=0', 'MA/short=0', 'MX/long=0', 'MX/short=0', 'other/long=0', 'other/short=0']);
    expect(Number(families.get('senpai_processing_latency_ms')!.metrics[0]!.count)).toBe(45);
    expect(families.has('process_resident_memory_bytes')).toBe(true);
  });

  it('exports the revision-2 series, every fixed label set at 0 from the start', () => {
    const families = new Map(parsePrometheusTextFormat(text).map((f) => [f.name, f]));
    const labelsOf = (name: string) => families.get(name)!.metrics.map((m) => m.labels ?? {});
    expect(families.get('senpai_publish_errors_total')?.type).toBe('COUNTER');
    expect(labelsOf('senpai_publish_errors_total').map((l) => l.output).sort()).toEqual([...PUBLISH_OUTPUTS].sort());
    expect(labelsOf('senpai_alerts_total').length).toBe(ALERT_KINDS.length * ALERT_LEVELS.length);
    // nothing in this stream raises an alert: every series is there, at 0
    expect(families.get('senpai_alerts_total')!.metrics.every((m) => Number(m.value) === 0)).toBe(true);
    expect(labelsOf('senpai_http_requests_rejected_total').map((l) => l.reason).sort()).toEqual([...HTTP_REJECT_REASONS].sort());
    for (const gauge of ['senpai_http_connections', 'senpai_http_stream_clients', 'senpai_http_requests_waiting']) expect(families.get(gauge)?.type, gauge).toBe('GAUGE');
    expect(families.get('senpai_http_stream_slow_readers_total')?.type).toBe('COUNTER');
  });

  const tool = promtool();
  it.skipIf(tool === null)('passes promtool check metrics, apart from the lint SPEC §8 accepts', () => {
    const res = spawnSync(tool!, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    const complaints = `${res.stdout}${res.stderr}`.split('\n').filter((l) => l.trim() !== '');
    expect([0, 3]).toContain(res.status); // 3: lint findings only; 1 would be a parse error
    expect(complaints.filter((l) => !ACCEPTED_LINT.some((re) => re.test(l.trim())))).toEqual([]);
  });
});
