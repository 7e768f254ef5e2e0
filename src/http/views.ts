import type { ClusterView } from '../cluster/leases.js';
import type { Telemetry } from '../obs/telemetry.js';
import type { OutputPort } from '../output/output-port.js';
import type { RuleConfig } from '../signals/rule-engine.js';
import type { SymbolState } from '../state/symbol-state.js';

/**
 * The read-only ports the HTTP side sees of the running service: it reads
 * these and subscribes to the output; it never holds the service, the engine
 * or the pipeline.
 */

/** The tracked symbols and their state (the engine's map, read-only). */
export type SymbolStoreView = ReadonlyMap<string, SymbolState>;

/** The bounded queue, read-only. */
export interface QueueView {
  readonly size: number;
  readonly capacity: number;
  readonly fillRatio: number;
  readonly highWater: number;
  readonly bytes: number;
  readonly maxBytes: number;
}

/** The HTTP settings of SPEC §7 (`Config.http`). */
export interface HttpOptions {
  readonly maxConnections: number;
  readonly maxStreamClients: number;
  readonly authToken: string | undefined;
}

/** What the dashboard reads, and where it subscribes to the features, signals and alerts. */
export interface DashboardViews {
  readonly symbols: SymbolStoreView;
  /** Counters and rates (read only). */
  readonly telemetry: Telemetry;
  readonly queue: QueueView;
  readonly rules: RuleConfig;
  readonly http: HttpOptions;
  natsConnected(): boolean;
  /** Wall-clock ms of the last accepted event per provider (the pipeline's map, read-only). */
  providerLastSeen(): ReadonlyMap<string, number>;
  /** A provider silent longer than this is stale (`STALE_AFTER_MS`). */
  readonly staleAfterMs: number;
  /** Who owns what in cluster mode (the `GET /cluster` body); null when the mode is off. */
  cluster(): ClusterView | null;
  subscribe(sink: OutputPort): void;
}
