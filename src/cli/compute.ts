import type { Readable, Writable } from 'node:stream';
import type { RejectReason } from '../domain/events.js';
import { isRejection } from '../domain/events.js';
import type { EngineConfig } from '../engine/market-engine.js';
import { MarketEngine } from '../engine/market-engine.js';
import { computeFeatures } from '../features/feature-engine.js';
import { decode } from '../decode/decode.js';
import { MAX_PAYLOAD_BYTES } from '../decode/payload.js';
import { forEachLine, isBlank } from './jsonl.js';
import { BufferedWriter } from './output.js';

/** What `compute` counted: accepted events and rejections by reason. */
export interface ComputeSummary {
  accepted: number;
  rejected: Partial<Record<RejectReason, number>>;
}

export interface ComputeOptions {
  readonly engine: EngineConfig;
  /** Called for each rejected line, e.g. for `--verbose`. */
  readonly onReject?: (line: number, reason: RejectReason, detail: string) => void;
}

/**
 * Runs the live engine offline over JSONL (SPEC §10 `compute`): one features
 * record per accepted non-heartbeat event, then the signal it raised.
 */
export async function runCompute(input: Readable, output: Writable, opts: ComputeOptions): Promise<ComputeSummary> {
  const engine = new MarketEngine(opts.engine, 'offline');
  const out = new BufferedWriter(output);
  const summary: ComputeSummary = { accepted: 0, rejected: {} };
  await forEachLine(input, (line, bytes) => {
    if (isBlank(bytes)) return undefined;
    const decoded = decode('', bytes);
    const outcome = isRejection(decoded) ? decoded : engine.ingest(decoded, 0);
    if (isRejection(outcome)) {
      summary.rejected[outcome.reason] = (summary.rejected[outcome.reason] ?? 0) + 1;
      opts.onReject?.(line, outcome.reason, outcome.detail);
      return undefined;
    }
    summary.accepted++;
    if (outcome.state === null) return undefined;
    const pending = out.writeLine(`{"kind":"features","line":${line},` + JSON.stringify(computeFeatures(outcome.state)).slice(1));
    if (outcome.signal === null) return pending;
    const more = out.writeLine(`{"kind":"signal","line":${line},` + JSON.stringify(outcome.signal).slice(1));
    return more ?? pending; // the writer shares one wait for 'drain': the later promise covers both
  }, {
    // what decode would refuse unread (SPEC §2), refused here without keeping the line
    maxBytes: MAX_PAYLOAD_BYTES,
    onOversize: (line, bytes) => {
      summary.rejected.invalid = (summary.rejected.invalid ?? 0) + 1;
      opts.onReject?.(line, 'invalid', `line of ${bytes} bytes exceeds 1 MiB`);
      return undefined;
    },
  });
  await out.end();
  return summary;
}
