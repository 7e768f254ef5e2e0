/**
 * Ingestion first: HTTP requests wait here and are handled in measured slices
 * between the pipeline's own turns, so no HTTP client can hold the event loop
 * that NATS messages are waiting for (SPEC §7, docs/DECISIONS.md).
 *
 * Every request that passed the cheap checks enters the gate. A pump, run
 * with `setImmediate` (so NATS reads and the pipeline's drain interleave with
 * it), hands requests their turn while two budgets allow:
 * - per event-loop turn, at most `sliceMs` of handling, so a message read in
 *   the meantime waits for at most one slice;
 * - over time, a token bucket refilled at `share` of wall-clock time (at most
 *   `burstMs` banked), so HTTP cannot take the CPU the feed needs even when the
 *   loop is otherwise idle — closed-loop clients (a load generator, a
 *   dashboard reconnecting) are slowed down instead of served at any cost.
 * Handling a request is synchronous up to its response (the routes are), so
 * each turn's cost is measured, not guessed. Requests whose client went away
 * while waiting are skipped. Priority requests (`/health`) go first.
 */
import { Fifo } from '../queue/fifo.js';

/** The gate's budgets. */
export interface RequestGateOptions {
  /** Most milliseconds of request handling per event-loop turn. */
  readonly sliceMs: number;
  /** Share of wall-clock time request handling may use on average (0–1]. */
  readonly share: number;
  /** Most milliseconds of handling banked while idle, spent in a burst. */
  readonly burstMs: number;
  /** Requests that may wait; `enter` refuses more. */
  readonly maxWaiting: number;
  /**
   * Milliseconds charged per request on top of its measured handling: the work
   * it causes outside the handler (parsing, socket I/O, and the collection of
   * its ~10 KB of request and response objects).
   */
  readonly overheadMs: number;
}

/** The budgets used by the service: measured in bench/http-load.mjs, reasons in docs/DECISIONS.md. */
export const DEFAULT_GATE_OPTIONS: Omit<RequestGateOptions, 'maxWaiting'> = { sliceMs: 0.5, share: 0.1, burstMs: 2, overheadMs: 0.2 };

interface Waiting {
  readonly run: () => void;
  readonly abandoned: () => boolean;
}


export class RequestGate {
  private readonly priority = new Fifo<Waiting>();
  private readonly normal = new Fifo<Waiting>();
  private tokens: number;
  private refilledAt: number;
  private scheduled = false;
  private closed = false;
  /** Milliseconds spent handling requests (the share test reads it). */
  handledMs = 0;

  constructor(
    private readonly opts: RequestGateOptions,
    private readonly onError: (err: unknown) => void,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = opts.burstMs;
    this.refilledAt = now();
  }

  /** Requests waiting for their turn. */
  get waiting(): number {
    return this.priority.length + this.normal.length;
  }

  /**
   * Queues `run` for its turn; false (nothing queued) when the waiting room is
   * full. `abandoned` is asked when the turn comes: true skips the request.
   */
  enter(run: () => void, abandoned: () => boolean, priority = false): boolean {
    if (this.closed) {
      run();
      return true;
    }
    if (!priority && this.waiting >= this.opts.maxWaiting) return false;
    (priority ? this.priority : this.normal).push({ run, abandoned });
    this.schedule();
    return true;
  }

  /** Hands every waiting request its turn now; later ones run at once (the server is closing). */
  close(): void {
    this.closed = true;
    for (let w = this.next(); w !== undefined; w = this.next()) this.runOne(w);
  }

  private next(): Waiting | undefined {
    return this.priority.shift() ?? this.normal.shift();
  }

  private readonly pump = (): void => {
    this.scheduled = false;
    const start = this.now();
    this.tokens = Math.min(this.opts.burstMs, this.tokens + (start - this.refilledAt) * this.opts.share);
    this.refilledAt = start;
    let t = start;
    while (this.tokens > 0 && t - start < this.opts.sliceMs) {
      const w = this.next();
      if (w === undefined) break;
      if (w.abandoned()) continue;
      this.runOne(w);
      const after = this.now();
      this.tokens -= after - t + this.opts.overheadMs;
      this.handledMs += after - t;
      t = after;
    }
    this.schedule();
  };

  private runOne(w: Waiting): void {
    try {
      w.run();
    } catch (err) {
      this.onError(err);
    }
  }

  private schedule(): void {
    if (this.scheduled || this.waiting === 0 || this.closed) return;
    this.scheduled = true;
    if (this.tokens > 0) {
      setImmediate(this.pump);
    } else {
      // in debt: wait until the bucket is positive again; the loop is free for the feed meanwhile
      setTimeout(this.pump, Math.max(1, Math.ceil(-this.tokens / this.opts.share)));
    }
  }
}
