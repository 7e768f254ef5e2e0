import { Counter, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { MetricsCache } from '../../src/http/metrics-cache.js';
import { Telemetry } from '../../src/obs/telemetry.js';

describe('MetricsCache', () => {
  it('renders exactly what the registry renders, at most once per second however often it is asked', async () => {
    let now = 0;
    const telemetry = new Telemetry(() => 0.25, { defaultMetrics: false });
    telemetry.countIn('trade', 'binance');
    const cache = new MetricsCache(telemetry.registry, 1000, () => now);
    expect(cache.fresh()).toBeNull();
    const [a, b] = await Promise.all([cache.get(), cache.get()]);
    expect(a.toString()).toBe(await telemetry.registry.metrics());
    expect(b).toBe(a);
    expect(cache.renders).toBe(1);

    telemetry.countIn('trade', 'binance');
    now = 999;
    expect(cache.fresh()).toBe(a); // still the old text: that is the point
    expect(await cache.get()).toBe(a);
    expect(cache.renders).toBe(1);
    now = 1000;
    expect(cache.fresh()).toBeNull();
    const c = (await cache.get()).toString();
    expect(cache.renders).toBe(2);
    expect(c).toMatch(/^senpai_events_in_total\{type="trade",provider="binance"\} 2$/m);
  });

  it('keeps the registry format with several families and label values that need escaping', async () => {
    const registry = new Registry();
    const c = new Counter({ name: 'x_total', help: 'a "quoted" help\nwith a newline', labelNames: ['l'], registers: [registry] });
    c.inc({ l: 'va"l\\ue' });
    new Counter({ name: 'y_total', help: 'y', registers: [registry] }).inc(3);
    expect((await new MetricsCache(registry).get()).toString()).toBe(await registry.metrics());
  });
});
