/**
 * The package's public entry (`import … from 'senpai-md-consumer'`): the output
 * contract (docs/CONTRACT.md) as TypeScript types — what is published on NATS
 * and answered over HTTP — and the few constants that go with it. The JSON
 * Schemas ship beside it: `senpai-md-consumer/schema/*.schema.json`.
 * Importing this module starts nothing and reads no environment.
 */
export type { FeatureSnapshot, Signal, SignalDirection, SignalThresholds, Alert, AlertKind, AlertLevel } from './domain/features.js';
export { RECORD_VERSION, ALERT_KINDS } from './domain/features.js';
export type { EventType, RejectReason, TradeSide, BookLevel } from './domain/events.js';
export { EVENT_TYPES, REJECT_REASONS } from './domain/events.js';
export { normalizeSymbol } from './domain/symbol.js';
export type {
  HealthAnswer,
  HealthReason,
  StatsAnswer,
  StateLatestAnswer,
  LatestTrade,
  LatestQuote,
  LatestBook,
  FeaturesLatestAnswer,
  ErrorAnswer,
  ClusterAnswer,
  ClusterMember,
  PartitionOwner,
} from './domain/http-answers.js';
