import type { Logger } from 'pino';
import type { JetStreamSource } from './jetstream-source.js';

/** What the warm-up feeds: the engine's coverage and the replay path of the live pipeline. */
export interface WarmupTarget {
  /** Sets `coverage_start` (SPEC §11). */
  setCoverageStart(ms: number): void;
  /** Applies one stored message; returns the symbol it touched, or null (also when another thread applies it). */
  replay(subject: string, data: Uint8Array, streamTsMs: number, publishSignal: boolean): string | null;
  /**
   * Publishes the features of these symbols once (throttled); returns how many,
   * or null when the engine thread keeps the symbols itself (`symbols` is then empty).
   */
  republish(symbols: ReadonlySet<string>): number | null;
}

/** Progress of a warm-up in flight, for `/health`. */
export interface WarmupProgress {
  readonly startedMs: number;
  messages: number;
}

export interface WarmupSettings {
  readonly stream: string;
  readonly windowMs: number;
  readonly marginS: number;
}

/**
 * Rebuilds the windows and latest state from the stream (SPEC §11): from
 * `now − (W + margin)` (or the oldest stored message, when later) up to the
 * durable's last delivered message, stream timestamps as receive times;
 * nothing is published but the signals — and, once, the features — of
 * messages above the durable's ack floor (the failed process may not have
 * sent them). Returns the count replayed.
 */
export async function warmStart(
  js: JetStreamSource,
  maxAgeMs: number,
  settings: WarmupSettings,
  target: WarmupTarget,
  progress: WarmupProgress,
  log: Logger,
): Promise<number> {
  const historyMs = settings.windowMs + settings.marginS * 1000;
  if (maxAgeMs > 0 && maxAgeMs < historyMs) {
    log.warn(
      { stream: settings.stream, max_age_s: maxAgeMs / 1000, needed_s: historyMs / 1000 },
      'the stream keeps less history than the window plus WARMUP_MARGIN_S: features stay cold for longer after a restart',
    );
  }
  const plan = await js.plan();
  const fromMs = progress.startedMs - historyMs;
  // a stream that holds less history cannot vouch for more; an empty one for nothing before now
  target.setCoverageStart(Number.isNaN(plan.firstTsMs) ? progress.startedMs : Math.max(fromMs, plan.firstTsMs));
  const unfinished = new Set<string>();
  let lastSeq = 0;
  const { messages: count, complete, resumed } = await js.replay(plan, fromMs, (subject, data, tsMs, seq) => {
    progress.messages++;
    lastSeq = seq;
    const above = seq > plan.ackFloor;
    const symbol = target.replay(subject, data, tsMs, above);
    if (symbol !== null && above) unfinished.add(symbol);
  });
  if (!complete) {
    // what was not read is missing from the windows for good (what the durable already acknowledged is
    // never delivered again): they vouch only from now on, so features stay cold for one window
    target.setCoverageStart(Date.now());
    log.warn(
      { messages: count, read_up_to_seq: lastSeq, up_to_seq: plan.lastSeq },
      'warm-up cut short: the stream delivered nothing for a while before the end of the range; the windows miss the rest, so features stay cold (warm: false) for one window',
    );
  }
  const republished = target.republish(unfinished);
  log.info(
    {
      messages: count,
      seconds: (Date.now() - progress.startedMs) / 1000,
      up_to_seq: plan.lastSeq,
      ack_floor: plan.ackFloor,
      ...(republished !== null ? { republished } : {}),
      // taken up again after a stall or a NATS outage, from the last message read
      ...(resumed > 0 ? { resumed } : {}),
    },
    'warm-up done: windows rebuilt from the stream',
  );
  return count;
}
