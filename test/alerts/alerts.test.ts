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
