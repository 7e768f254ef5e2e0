import { describe, expect, it } from 'vitest';
import { EVENT_TYPES, REJECT_REASONS } from '../../src/domain/events.js';
import { ALERT_KINDS, ALERT_LEVELS } from '../../src/domain/features.js';
import { PUBLISH_OUTPUTS, Telemetry } from '../../src/obs/telemetry.js';

/** The series of one family as `labels → value`, labels rendered `k=v,k=v`. */
async function series(t: Telemetry, name: string): Promise<Map<string, number>> {
  const metric = t.registry.getSingleMetric(name);
  if (metric === undefined) throw new Error(`no metric ${name}`);
  const out = new Map<string, number>();
  for (const v of (await metric.get()).values) {
    out.set(
      Object.entries(v.labels)
        .map(([k, x]) => `${k}=${x}`)
        .join(','),
      v.value,
    );
  }
  return out;
}

describe('Telemetry labels', () => {
  it('exports every fixed label set at 0 before anything happened, derived from the domain lists', async () => {
    const t = new Telemetry(() => 0, { defaultMetrics: false });
    const dropped = await series(t, 'senpai_events_dropped_total');
    expect(dropped.size).toBe(REJECT_REASONS.length * (EVENT_TYPES.length + 1));
    for (const reason of REJECT_REASONS) {
      for (const type of [...EVENT_TYPES, 'unknown']) expect(dropped.get(`reason=${reason},type=${type}`), `${reason}/${type}`).toBe(0);
    }
    const eventsIn = await series(t, 'senpai_events_in_total');
    expect([...eventsIn.keys()].sort()).toEqual([...EVENT_TYPES, 'unknown'].map((type) => `type=${type},provider=unknown`).sort());
    const errors = await series(t, 'senpai_publish_errors_total');
    expect([...errors.entries()]).toEqual(PUBLISH_OUTPUTS.map((o) => [`output=${o}`, 0]));
    const alerts = await series(t, 'senpai_alerts_total');
    expect(alerts.size).toBe(ALERT_KINDS.length * ALERT_LEVELS.length);
    expect([...alerts.values()].every((v) => v === 0)).toBe(true);
    expect(alerts.has('kind=symbol_limit,level=critical')).toBe(true);
  });

  it('keeps the first METRICS_MAX_SYMBOLS symbols and counts the rest as "other", zero-filling both directions', async () => {
    const t = new Telemetry(() => 0, { defaultMetrics: false, maxSymbolLabels: 2 });
    for (const s of ['AAA', 'BBB', 'CCC', 'DDD', 'AAA']) t.countFeaturePublish(s);
    t.countSignal('DDD', 'long');
    t.countSignal('BBB', 'short');
    expect(t.symbolLabel('AAA')).toBe('AAA');
    expect(t.symbolLabel('EEE')).toBe('other');
    const publishes = await series(t, 'senpai_feature_publish_total');
    expect(Object.fromEntries(publishes)).toEqual({ 'symbol=AAA': 2, 'symbol=BBB': 1, 'symbol=other': 2 });
    const signals = await series(t, 'senpai_signals_emitted_total');
    expect(Object.fromEntries(signals)).toEqual({
      'symbol=AAA,direction=long': 0,
      'symbol=AAA,direction=short': 0,
      'symbol=BBB,direction=long': 0,
      'symbol=BBB,direction=short': 1,
      'symbol=other,direction=long': 1,
      'symbol=other,direction=short': 0,
    });
    expect(t.featuresPublishedTotal).toBe(5);
  });

  it('labels a provider longer than 64 characters "other", without taking one of the 32 labels', async () => {
    const t = new Telemetry(() => 0, { defaultMetrics: false });
    const long = 'p'.repeat(65);
    expect(t.providerLabel('q'.repeat(64))).toBe('q'.repeat(64));
    t.countIn('trade', long);
    expect(t.providerLabel(long)).toBe('other');
    for (let i = 0; i < 31; i++) t.countIn('quote', `prov${i}`);
    expect(t.providerLabel('last')).toBe('other'); // 'q'.repeat(64) and 31 more fill the 32
    const eventsIn = await series(t, 'senpai_events_in_total');
    expect(eventsIn.get('type=trade,provider=other')).toBe(1);
    expect([...eventsIn.keys()].some((k) => k.includes(long))).toBe(false);
  });

  it('counts publish errors by output and alerts by kind and level', async () => {
    const t = new Telemetry(() => 0, { defaultMetrics: false });
    t.countPublishError('signals');
    t.countAlert('backpressure', 'critical');
    t.countAlert('backpressure', 'critical');
    expect((await series(t, 'senpai_publish_errors_total')).get('output=signals')).toBe(1);
    expect(t.publishErrorsTotal).toBe(1);
    expect((await series(t, 'senpai_alerts_total')).get('kind=backpressure,level=critical')).toBe(2);
    expect(t.alertCount('backpressure', 'warn')).toBe(0);
  });
});
