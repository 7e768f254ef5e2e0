/**
 * The engine benchmark's brute-force baseline: the naive reference model the
 * property test checks the engine against (test/helpers/reference-model.mjs),
 * in live mode, so the maths outside `src/` has one definition. This file only
 * adapts it to the bench's engine config and calling convention; it computes
 * nothing itself.
 */
import { ReferenceModel } from '../../test/helpers/reference-model.mjs';

/** @typedef {import('../../dist/domain/events.js').MarketEvent} MarketEvent */
/** @typedef {import('../../dist/domain/features.js').FeatureSnapshot} FeatureSnapshot */
/** @typedef {import('../../dist/engine/market-engine.js').EngineConfig} EngineConfig */

export class BruteForce {
  /** @param {EngineConfig} config the engine's configuration */
  constructor(config) {
    this.model = new ReferenceModel(
      {
        windowMs: config.windowMs,
        maxSymbols: config.maxSymbols,
        maxFutureSkewMs: config.maxFutureSkewMs,
        ...config.rules,
      },
      'live',
    );
  }

  /**
   * Applies one decoded event (`nowMs` is the receive time) and, when
   * `withFeatures`, recomputes the features and runs the rules. Returns the
   * features, `true` (accepted: a heartbeat, or no features asked) or the
   * rejection reason.
   * @param {MarketEvent} ev
   * @param {number} nowMs
   * @param {boolean} [withFeatures]
   * @returns {FeatureSnapshot | true | string}
   */
  ingest(ev, nowMs, withFeatures = true) {
    if (ev.type === 'heartbeat' || !withFeatures) {
      const r = this.model.ingestState(ev, nowMs);
      return r.accepted ? true : r.reason;
    }
    const r = this.model.ingest(ev, nowMs);
    return r.accepted ? r.features : r.reason;
  }
}
