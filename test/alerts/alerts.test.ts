import { describe, expect, it } from 'vitest';
import type { Alert } from '../../src/domain/features.js';
import type { AlertSpec } from '../../src/alerts/alert-rules.js';
import { gapAlert, latencyAlert, staleAlerts } from '../../src/alerts/alert-rules.js';
import { AlertThrottle } from '../../src/alerts/alert-throttle.js';

const a = (over: Partial<AlertSpec>): AlertSpec => ({ kind: 'gap', level: 'warn', message: 'x', symbol: null, provider: null, value: null, threshold: null, ...over });

describe('AlertThrottle', () => {
  it('raises the same (kind, symbol, provider) at most once per cooldown, on wall-clock time', () => {
    let now = 0;
    const got: Alert[] = [];
    const m = new AlertThrottle(10_000, (x) => got.push(x), () => now);
    expect(m.raise(a({ symbol: 'A', provider: 'p', value: 2, threshold: 0 }))).toBe(true);
    expect(m.raise(a({ symbol: 'A', provider: 'p' }))).toBe(false);
    expect(m.raise(a({ symbol: 'B', provider: 'p' }))).toBe(true);
    expect(m.raise(a({ kind: 'stale', provider: 'p' }))).toBe(true);
    expect(m.raise(null)).toBe(false);
    now = 10_000;
    expect(m.raise(a({ symbol: 'A', provider: 'p' }))).toBe(true);
    expect(got[0]).toEqual({ v: 1, ts: 0, kind: 'gap', level: 'warn', symbol: 'A', provider: 'p', message: 'x', value: 2, threshold: 0 });
    expect(got).toHaveLength(4);
    // an escalation passes a warn's cooldown once; then critical cools down too
    expect(m.raise(a({ level: 'critical', message: 'worse', symbol: 'A', provider: 'p' }))).toBe(true);
    expect(m.raise(a({ level: 'critical', message: 'worse', symbol: 'A', provider: 'p' }))).toBe(false);
    expect(m.raise(a({ symbol: 'A', provider: 'p' }))).toBe(false);
  });

  it('forgets cooled-down alerts: alerts of symbols that come and go do not pile up, and each still cools down', () => {
    let now = 0;
    let emitted = 0;
    const m = new AlertThrottle(10_000, () => emitted++, () => now);
    let peak = 0;
    // 3,000 new symbols per cooldown period, for 10 periods (symbols refused at MAX_SYMBOLS, or evicted and replaced)
    for (let period = 0; period < 10; period++) {
      for (let i = 0; i < 3000; i++) {
        now = period * 10_000 + i;
        expect(m.raise(a({ kind: 'symbol_limit', level: 'critical', symbol: `S${period}-${i}` }))).toBe(true);
        peak = Math.max(peak, m.tracked);
      }
    }
    expect(emitted).toBe(30_000);
    // at most twice the alerts still cooling down (≤ 6,000 live here), not all 30,000 ever raised
    expect(peak).toBeLessThanOrEqual(12_000);
    expect(m.tracked).toBeLessThanOrEqual(12_000);
    // a sweep keeps what is still cooling down: the last period's alerts are refused again, an old one is raised again
    now = 9 * 10_000 + 5000;
    expect(m.raise(a({ kind: 'symbol_limit', level: 'critical', symbol: 'S9-2500' }))).toBe(false);
    expect(m.raise(a({ kind: 'symbol_limit', level: 'critical', symbol: 'S0-1' }))).toBe(true);
  });
});

describe('alert rules (pure)', () => {
  it('latency: none at or under the limit, warn above, critical above 5x; null p95 is no alert', () => {
    expect(latencyAlert('S', 100, 100)).toBeNull();
    expect(latencyAlert('S', null, 100)).toBeNull();
    expect(latencyAlert('S', 101, 100)).toMatchObject({ kind: 'latency', level: 'warn', symbol: 'S', value: 101, threshold: 100 });
    expect(latencyAlert('S', 501, 100)?.level).toBe('critical');
  });

  it('gap: only for missing ids; stale: per silent provider, none while backpressure drops', () => {
    expect(gapAlert('S', 'p', 0)).toBeNull();
    expect(gapAlert('S', 'p', 3)).toMatchObject({ kind: 'gap', value: 3, threshold: 0 });
    const seen = new Map([['a', 0], ['b', 9_000]]);
    expect(staleAlerts(12_000, seen, 10_000, -Infinity).map((x) => x.provider)).toEqual(['a']);
    expect(staleAlerts(12_000, seen, 10_000, 5_000)).toEqual([]);
  });
});
