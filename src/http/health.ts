/**
 * `GET /health` (SPEC §7): one answer, by precedence — NATS down, then the
 * JetStream durable missing, then the engine thread down, then warming, then
 * degraded-but-serving, then ok.
 */

/** A warm-up in progress (SPEC §11). */
export interface WarmupProgress {
  readonly messages: number;
  readonly elapsed_s: number;
}

/** Why a running service is degraded while it still serves: `backpressure` (the feed), `http_overload` (HTTP refused clients). */
export type DegradedReason = 'backpressure' | 'http_overload';

/** Everything the answer is made of, read at request time. */
export interface HealthInput {
  readonly natsConnected: boolean;
  /** The last connection failure, credentials removed; null when none. */
  readonly natsError: string | null;
  readonly warmup: WarmupProgress | null;
  readonly degraded: readonly DegradedReason[];
  readonly uptimeS: number;
  readonly symbols: readonly string[];
  /** Cluster mode: the partitions owned here (SPEC §12); null when off. */
  readonly partitions?: readonly number[] | null;
  /** ENGINE_THREAD=worker: why the engine thread is not processing (it failed, or does not answer); null when it is. */
  readonly engineError?: string | null;
  /** JetStream: why the durable is not delivering (deleted, its stream gone, JetStream off); null when it is. */
  readonly consumerError?: string | null;
}

export interface HealthAnswer {
  readonly statusCode: 200 | 503;
  readonly body: Record<string, unknown>;
}

export function healthAnswer(h: HealthInput): HealthAnswer {
  const common = { nats_connected: h.natsConnected, uptime_s: h.uptimeS, symbols: h.symbols, ...(h.partitions != null ? { partitions: h.partitions } : {}) };
  if (!h.natsConnected) {
    return {
      statusCode: 503,
      body: { status: 'degraded', reasons: ['nats'], nats_error: h.natsError ?? 'not connected', ...common }, // the contract requires a reason
    };
  }
  // connected but consuming nothing: as unable to serve fresh data as a lost connection (DECISIONS 88)
  if (h.consumerError != null) {
    return { statusCode: 503, body: { status: 'degraded', reasons: ['jetstream'], jetstream_error: h.consumerError, ...common } };
  }
  if (h.engineError != null) {
    return { statusCode: 503, body: { status: 'degraded', reasons: ['engine'], engine_error: h.engineError, ...common } };
  }
  if (h.warmup !== null) {
    return { statusCode: 503, body: { status: 'warming', warmup: { messages: h.warmup.messages, elapsed_s: h.warmup.elapsed_s }, ...common } };
  }
  // still serving: 200, so an orchestrator does not restart a service that is only busy
  if (h.degraded.length > 0) return { statusCode: 200, body: { status: 'degraded', reasons: [...h.degraded], ...common } };
  return { statusCode: 200, body: { status: 'ok', ...common } };
}
