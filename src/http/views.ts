import type { ClusterAnswer } from '../domain/http-answers.js';
import type { Telemetry } from '../obs/telemetry.js';
import type { ForgetListener, OutputPort } from '../output/output-port.js';
import type { RuleConfig } from '../signals/rule-engine.js';
import type { SymbolState } from '../state/symbol-state.js';

/**
 * The read-only ports the HTTP side sees of the running service: it reads
 * these and subscribes to the output; it never holds the service, the engine
 * or the pipeline.
 */

/** The tracked symbols and their state (the engine's map, read-only). */
export type SymbolStoreView = ReadonlyMap<string, SymbolState>;

/** How many symbols are tracked, as the dashboard asks (the engine's map is one). */
export interface SymbolCount {
  readonly size: number;
}

/**
 * ENGINE_THREAD=worker: the engine runs on a thread of its own, so state is
 * read by asking it (the answers are its current state, never a copy), and
 * the counters are brought up to date before they are read.
 */
export interface EngineReads {
  /** Resolves once the counters hold everything the engine processed before the call. */
  sync(): Promise<void>;
  /** The tracked symbols, sorted (rebuilt at most once a second or when the count changes). */
  symbols(): Promise<readonly string[]>;
  /** The `/state/latest` body of a symbol; null when unknown. */
  latestState(symbol: string): Promise<object | null>;
  /** The `/features/latest` body of a symbol; null when unknown. */
  features(symbol: string): Promise<object | null>;
  /** Symbols tracked at the engine's last report (after {@link sync}: now). */
  readonly symbolCount: number;
  /** Why the engine thread stopped; null while it runs. */
  failure(): Error | null;
}

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
  readonly symbols: SymbolCount;
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
  cluster(): ClusterAnswer | null;
  subscribe(sink: OutputPort): void;
  /** Calls `listener` with the symbols the engine forgets (idle eviction, a partition gone), once they are gone. */
  onForgotten(listener: ForgetListener): void;
}
