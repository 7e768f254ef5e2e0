import { Counter, Gauge } from 'prom-client';
import type { Registry } from 'prom-client';
import type { StatsAnswer } from '../domain/http-answers.js';

/** Why the HTTP layer refused a request: the `reason` label of `senpai_http_requests_rejected_total`. */
export const HTTP_REJECT_REASONS = ['connections', 'stream_clients', 'overload', 'unauthorized'] as const;
export type HttpRejectReason = (typeof HTTP_REJECT_REASONS)[number];

const REASON_INDEX = new Map<HttpRejectReason, number>(HTTP_REJECT_REASONS.map((r, i) => [r, i]));

/** The `/stats` `http` object, as the published contract types it. */
export type HttpStats = NonNullable<StatsAnswer['http']>;

/**
 * What the HTTP layer counts about itself (SPEC §7 `/stats`, §8): open
 * connections, refusals by reason, dashboard streams and the slow readers cut
 * off. Plain numbers, read by prom-client only when scraped.
 */
export class HttpCounters {
  /** Open connections, served or not. */
  connections = 0;
  /** Open `/stream` clients. */
  streamClients = 0;
  /** `/stream` clients disconnected because they did not read. */
  slowReadersDisconnected = 0;
  /** Requests waiting for their turn (set by the request gate). */
  requestsWaiting: () => number = () => 0;
  /** Wall-clock ms of the last refusal for lack of capacity (not for a missing token). */
  lastOverloadMs = Number.NEGATIVE_INFINITY;
  private readonly rejected = new Float64Array(HTTP_REJECT_REASONS.length);

  constructor(
    readonly maxConnections: number,
    readonly maxStreamClients: number,
  ) {}

  reject(reason: HttpRejectReason, nowMs = Date.now()): void {
    this.rejected[REASON_INDEX.get(reason)!]!++;
    if (reason !== 'unauthorized') this.lastOverloadMs = nowMs;
  }

  rejectedCount(reason: HttpRejectReason): number {
    return this.rejected[REASON_INDEX.get(reason)!]!;
  }

  stats(): HttpStats {
    const rejected = {} as Record<HttpRejectReason, number>;
    for (const r of HTTP_REJECT_REASONS) rejected[r] = this.rejectedCount(r);
    return {
      connections: this.connections,
      max_connections: this.maxConnections,
      requests_waiting: this.requestsWaiting(),
      stream_clients: this.streamClients,
      max_stream_clients: this.maxStreamClients,
      slow_readers_disconnected: this.slowReadersDisconnected,
      rejected,
    };
  }

  /** Registers the `senpai_http_*` series; every refusal reason is exported from the start at 0. */
  register(registry: Registry): void {
    const connections = () => this.connections;
    const waiting = () => this.requestsWaiting();
    const rejected = (reason: HttpRejectReason) => this.rejectedCount(reason);
    const streamClients = () => this.streamClients;
    const slowReaders = () => this.slowReadersDisconnected;
    new Gauge({
      name: 'senpai_http_connections',
      help: `Open HTTP connections; beyond ${this.maxConnections} (HTTP_MAX_CONNECTIONS) requests get 503.`,
      registers: [registry],
      collect() {
        this.set(connections());
      },
    });
    new Gauge({
      name: 'senpai_http_requests_waiting',
      help: 'HTTP requests waiting for their turn behind ingestion.',
      registers: [registry],
      collect() {
        this.set(waiting());
      },
    });
    new Counter({
      name: 'senpai_http_requests_rejected_total',
      help: 'HTTP requests refused: connections or stream_clients over their limit, overload (too many waiting), unauthorized (no valid bearer token).',
      labelNames: ['reason'],
      registers: [registry],
      collect() {
        this.reset();
        for (const reason of HTTP_REJECT_REASONS) this.inc({ reason }, rejected(reason));
      },
    });
    new Gauge({
      name: 'senpai_http_stream_clients',
      help: `Open dashboard streams (/stream); at most ${this.maxStreamClients} (HTTP_MAX_STREAM_CLIENTS).`,
      registers: [registry],
      collect() {
        this.set(streamClients());
      },
    });
    new Counter({
      name: 'senpai_http_stream_slow_readers_total',
      help: 'Dashboard streams disconnected because their client stopped reading.',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(slowReaders());
      },
    });
  }
}
