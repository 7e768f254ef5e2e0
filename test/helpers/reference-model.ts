/**
 * The tests' entry to the one naive reference model, `reference-model.mjs`
 * (shared with the engine benchmark, which runs it under plain node as its
 * brute-force baseline): this file only re-exports it.
 */
export { ReferenceModel } from './reference-model.mjs';
export type {
  ReferenceConfig,
  ReferenceEvent,
  ReferenceMode,
  ReferenceRejectReason,
  ReferenceResult,
  ReferenceSignal,
  ReferenceStateResult,
} from './reference-model.mjs';
