/**
 * The JSON answers of the HTTP API (SPEC §7, §12), as consumers see them;
 * schema/http-*.schema.json say the same for any language. Imports types only.
 */
import type { BookLevel, TradeSide } from './events.js';
import type { FeatureSnapshot } from './features.js';

/** Why `/health` says `degraded`; consumers treat an unknown reason as degraded too. */
export type HealthReason = 'nats' | 'jetstream' | 'engine' | 'backpressure' | 'http_overload' | (string & {});

/** `GET /health`: 200 `ok` or `degraded` (backpressure, HTTP overload); 503 `degraded` (NATS, the JetStream durable or stream missing, the engine thread down) or `warming`. */
export interface HealthAnswer {
  status: 'ok' | 'degraded' | 'warming';
  nats_connected: boolean;
  /** Seconds since the process started. */
  uptime_s: number;
  /** Tracked symbols, sorted. */
  symbols: string[];
  /** Present when `status` is `degraded`. */
  reasons?: HealthReason[];
  /** While NATS is not connected: the last reason the server or TLS gave. */
  nats_error?: string | null;
  /** With reason `jetstream`: what is missing (the durable, its stream, JetStream itself); the service recreates it. */
  jetstream_error?: string;
  /** With reason `engine` (ENGINE_THREAD=worker): why the engine thread is not processing. */
  engine_error?: string;
  /** While warming: progress of the rebuild from the stream. */
  warmup?: { messages: number; elapsed_s: number };
  /** Cluster mode: the partitions this member owns. */
  partitions?: number[];
}

/** `GET /stats`. */
export interface StatsAnswer {
  /** `bytes`: payload bytes queued; `max_bytes`: the core-mode byte bound (null in JetStream mode). */
  queue: { size: number; capacity: number; fill_ratio: number; bytes: number; max_bytes: number | null };
  /** The HTTP side: connections and stream clients against their limits, requests waiting, refusals by reason. */
  http?: {
    connections: number;
    max_connections: number;
    requests_waiting: number;
    stream_clients: number;
    max_stream_clients: number;
    slow_readers_disconnected: number;
    rejected: Record<string, number>;
  };
  events_in_total: number;
  events_processed_total: number;
  events_dropped_total: number;
  /** Drops per reason (`parse_error`, `invalid`, `duplicate`, `late`, `symbol_limit`, `backpressure`, `overflow`). */
  dropped_by_reason: Record<string, number>;
  /** Arrival rate over the last 10 s. */
  events_per_sec: number;
  features_published_total: number;
  signals_emitted_total: number;
  /** Count of tracked symbols. */
  symbols: number;
  uptime_s: number;
}

/** The last trade of a symbol in `/state/latest`; timestamps in epoch ms, null when absent. */
export interface LatestTrade {
  price: number;
  size: number;
  side: TradeSide | null;
  /** Exact digits as written upstream. */
  trade_id: string | null;
  provider: string;
  ts_exchange: number | null;
  /** Live: the local receive time. */
  ts_recv: number | null;
}

/** The newest quote (by event time) of a symbol in `/state/latest`. */
export interface LatestQuote {
  bid: number;
  ask: number;
  bid_size: number | null;
  ask_size: number | null;
  provider: string;
  ts_exchange: number | null;
  ts_recv: number | null;
}

/** The newest book (by event time) of a symbol in `/state/latest`. */
export interface LatestBook {
  /** `[price, size]`, price descending. */
  bids: readonly BookLevel[];
  /** `[price, size]`, price ascending. */
  asks: readonly BookLevel[];
  provider: string;
  ts_exchange: number | null;
  ts_recv: number | null;
}

/** `GET /state/latest?symbol=S`. */
export interface StateLatestAnswer {
  symbol: string;
  trade: LatestTrade | null;
  quote: LatestQuote | null;
  book: LatestBook | null;
}

/** `GET /features/latest?symbol=S`: the features object, computed at request time. */
export type FeaturesLatestAnswer = FeatureSnapshot;

/**
 * Every 4xx/5xx JSON body; `owner` and `http_url` only on a 421 (symbol owned by another cluster member);
 * `reasons` and `engine_error` only on a 503 of a state read whose engine thread died (ENGINE_THREAD=worker).
 */
export interface ErrorAnswer {
  error: string;
  owner?: string;
  http_url?: string;
  reasons?: 'engine'[];
  engine_error?: string;
}

/**
 * A member of the cluster in `GET /cluster`: the record each member keeps of
 * itself in the lease bucket, without the bucket's session token.
 */
export interface ClusterMember {
  id: string;
  /** Where it answers HTTP (`CLUSTER_ADVERTISE_URL`, or `http://{HTTP_HOST}:{the port bound}`, the machine's name for 0.0.0.0 or ::). */
  http_url: string;
  /** Partitions it held at its last registration. */
  partitions: number[];
  /** Wall-clock epoch ms of its last registration. */
  last_seen_ms: number;
}

/** Who owns one partition in `GET /cluster`. */
export interface PartitionOwner {
  partition: number;
  /** null while unowned. */
  owner: string | null;
  since_ms: number | null;
}

/** `GET /cluster` in cluster mode (SPEC §12). */
export interface ClusterAnswer {
  /** This member's id. */
  member: string;
  members: ClusterMember[];
  partitions: PartitionOwner[];
}
