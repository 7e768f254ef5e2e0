import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { LatencyHistogram, PROCESSING_LATENCY_BUCKETS } from '../../src/obs/telemetry.js';

describe('LatencyHistogram', () => {
  it('exposes exactly what a prom-client Histogram exposes for the same observations', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const h = new LatencyHistogram('x_ms', 'help text', PROCESSING_LATENCY_BUCKETS, ours);
    const ref = new Histogram({ name: 'x_ms', help: 'help text', buckets: [...PROCESSING_LATENCY_BUCKETS], registers: [theirs] });
    expect(await ours.metrics()).toBe(await theirs.metrics()); // before any observation
    const samples = [0, 0.005, 0.0051, 0.3, 0.5, 1, 7.25, 5000, 5000.1, 1e9, 0.01, 0.01];
    let seed = 3;
    for (let i = 0; i < 500; i++) samples.push(((seed = (seed * 16807) % 2147483647) / 2147483647) ** 4 * 300);
    for (const v of samples) {
      h.observe(v);
      ref.observe(v);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });
});
