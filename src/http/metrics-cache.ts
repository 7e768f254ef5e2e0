import { Registry } from 'prom-client';
import type { Metric } from 'prom-client';

/** A scrape is rendered at most this often; scrapes in between get the same text (SPEC §7). */
export const METRICS_MAX_AGE_MS = 1000;

/**
 * The `/metrics` text, rendered at most once per `maxAgeMs` however many
 * clients scrape, and rendered one metric family per event-loop turn, so a
 * render never holds the loop for longer than its largest family takes.
 * Concurrent scrapes of a stale text share one rendering. The output is
 * exactly what `registry.metrics()` would give, kept encoded: a scrape costs a
 * socket write, not a 15 KB string encode (and its garbage) per request.
 */
export class MetricsCache {
  private bytes: Buffer | null = null;
  private renderedAt = Number.NEGATIVE_INFINITY;
  private rendering: Promise<Buffer> | null = null;
  /** Renders so far. */
  renders = 0;

  constructor(
    /** A Prometheus-format registry (the only kind this service has). */
    private readonly registry: Registry,
    private readonly maxAgeMs = METRICS_MAX_AGE_MS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The cached text (UTF-8) while it is fresh, else null. */
  fresh(): Buffer | null {
    return this.bytes !== null && this.now() - this.renderedAt < this.maxAgeMs ? this.bytes : null;
  }

  /** The fresh text (UTF-8), rendering it when the cached one is stale. */
  get(): Promise<Buffer> {
    const bytes = this.fresh();
    if (bytes !== null) return Promise.resolve(bytes);
    this.rendering ??= this.render().finally(() => {
      this.rendering = null;
    });
    return this.rendering;
  }

  private async render(): Promise<Buffer> {
    const startedAt = this.now();
    const parts: string[] = [];
    for (const metric of this.registry.getMetricsAsArray()) {
      // one family through a registry of its own: the public API, the same text
      const one = new Registry();
      one.registerMetric(metric as unknown as Metric);
      parts.push(await one.metrics());
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    // each part ends with a newline: joined like registry.metrics() joins families
    this.bytes = Buffer.from(parts.join('\n'), 'utf8');
    this.renderedAt = startedAt;
    this.renders++;
    return this.bytes;
  }
}
