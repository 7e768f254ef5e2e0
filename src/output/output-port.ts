import type { Alert, FeatureSnapshot, Signal } from '../domain/features.js';

/**
 * The one output port (SPEC §5): where features, signals and alerts go once
 * the engine and the rules produced them. NATS publishing, the dashboard
 * stream and test collectors implement it; a new sink is one class and one
 * line in the composition root.
 */
export interface OutputPort {
  features(f: FeatureSnapshot): void;
  signal(s: Signal): void;
  alert(a: Alert): void;
}

/**
 * Told the symbols the engine just forgot (idle eviction, a partition moved
 * away), after it forgot them: what shows them (the dashboard) drops them.
 * Never called with an empty list.
 */
export type ForgetListener = (symbols: readonly string[]) => void;

/**
 * Hands forgotten symbols to every listener, as {@link FanOut} does outputs:
 * a listener that throws is reported and the others still hear, so nothing
 * a listener does can reach the eviction that told it.
 */
export class ForgetFanOut {
  private readonly listeners: ForgetListener[] = [];

  constructor(private readonly onListenerError: (err: unknown) => void = () => undefined) {}

  add(listener: ForgetListener): this {
    this.listeners.push(listener);
    return this;
  }

  /** What the pipeline or the engine thread calls (bound: it is handed over as a function). */
  readonly tell = (symbols: readonly string[]): void => {
    if (symbols.length === 0) return;
    for (const listener of this.listeners) {
      try {
        listener(symbols);
      } catch (err) {
        this.onListenerError(err);
      }
    }
  };
}

/**
 * Hands each output to every sink in order. A sink that throws is reported
 * and skipped for that output; the others still get it.
 */
export class FanOut implements OutputPort {
  private readonly sinks: OutputPort[] = [];

  constructor(private readonly onSinkError: (err: unknown, sink: OutputPort) => void = () => undefined) {}

  add(sink: OutputPort): this {
    this.sinks.push(sink);
    return this;
  }

  features(f: FeatureSnapshot): void {
    for (const s of this.sinks) this.guard(s, () => s.features(f));
  }

  signal(x: Signal): void {
    for (const s of this.sinks) this.guard(s, () => s.signal(x));
  }

  alert(a: Alert): void {
    for (const s of this.sinks) this.guard(s, () => s.alert(a));
  }

  private guard(sink: OutputPort, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.onSinkError(err, sink);
    }
  }
}
