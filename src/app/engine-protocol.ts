import type { Config } from '../config/config.js';
import type { EngineConfig } from '../engine/market-engine.js';
import type { QualityDelta } from '../obs/data-quality-metrics.js';
import type { TelemetryDelta } from '../obs/telemetry.js';
import type { InlineBudget, PipelineOptions } from './pipeline.js';

/**
 * The messages between the I/O thread and the engine thread
 * (ENGINE_THREAD=worker). Admitted messages travel through the shared ring
 * (src/queue/message-ring.ts); these go over the worker's message port.
 */

/** What the engine thread is started with. */
export interface EngineWorkerData {
  readonly config: Config;
  /** The ring's SharedArrayBuffer. */
  readonly ring: SharedArrayBuffer;
  /** The I/O thread's `performance.timeOrigin`: its `t0`s become this thread's clock by the difference. */
  readonly mainTimeOrigin: number;
}

/** A question to the engine thread; answered in order, after everything it processed before. */
export type EngineRequest =
  | { readonly kind: 'state'; readonly symbol: string }
  | { readonly kind: 'features'; readonly symbol: string }
  | { readonly kind: 'symbols' }
  | { readonly kind: 'sync' }
  | { readonly kind: 'evict'; readonly nowMs: number; readonly idleMs: number }
  | { readonly kind: 'stale'; readonly nowMs: number; readonly staleAfterMs: number; readonly lastBackpressureDropMs: number }
  | { readonly kind: 'flush' };

export interface ToEngine {
  readonly type: 'request';
  readonly id: number;
  readonly request: EngineRequest;
}

/** Output codes in {@link EngineBatch.outputs}. */
export const OutputCode = { features: 0, signal: 1, alert: 2 } as const;

/** What the engine thread did since its last report: sent after each run of records and after timers published. */
export interface EngineBatch {
  readonly type: 'batch';
  /** Records released from the ring so far (modulo 2^32): the I/O thread acknowledges up to here. */
  readonly read: number;
  /** Symbols tracked now. */
  readonly symbols: number;
  /** Outputs in the order they were made: an {@link OutputCode}, then the object, repeated. */
  readonly outputs: readonly unknown[];
  readonly telemetry: TelemetryDelta | null;
  readonly quality: QualityDelta | null;
  /** The providers' last accepted receive times (for the dashboard), at most every 250 ms; null: unchanged. */
  readonly providers: readonly (readonly [string, number])[] | null;
  /** Once: the first provider past MAX_TRACKED_PROVIDERS, for the I/O thread to log; null otherwise. */
  readonly providerBound: string | null;
}

export interface EngineReply {
  readonly type: 'reply';
  readonly id: number;
  readonly value: unknown;
}

export type FromEngine = EngineBatch | EngineReply;

/** The engine's settings from the configuration (the same on either thread). */
export function engineConfigOf(config: Config): EngineConfig {
  return { windowMs: config.windowMs, maxSymbols: config.maxSymbols, maxFutureSkewMs: config.maxFutureSkewMs, rules: config.rules };
}

/** The pipeline's settings from the configuration (the same on either thread). */
export function pipelineOptionsOf(config: Config, inline: InlineBudget | null): PipelineOptions {
  return {
    queueCapacity: config.queueMaxSize,
    queueMaxBytes: config.queueMaxBytes,
    // ENGINE_THREAD=worker: messages wait in the engine thread's ring, neither pipeline's queue
    prepareQueue: config.engineThread !== 'worker',
    signalMaxAgeMs: config.signalMaxAgeMs,
    dropOnBackpressure: !config.jetstream.enabled,
    featuresPubRateHz: config.featuresPubRateHz,
    latencyAlertMs: config.latencyAlertMs,
    maxSymbols: config.maxSymbols,
    inline,
  };
}
