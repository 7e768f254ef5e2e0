import type { SignalDirection } from '../domain/features.js';

/**
 * When each symbol last emitted a signal per direction, in event time (the
 * symbol clock), for the cooldown of SPEC §4. Read only once a rule passes,
 * so its lookup is off the common path.
 */
export class CooldownBook {
  private readonly last = new Map<string, { long: number; short: number }>();

  /** Whether `symbol` may emit `direction` at clock `t`; if so, records it. */
  tryEmit(symbol: string, direction: SignalDirection, t: number, cooldownMs: number): boolean {
    let marks = this.last.get(symbol);
    if (marks === undefined) {
      marks = { long: Number.NEGATIVE_INFINITY, short: Number.NEGATIVE_INFINITY };
      this.last.set(symbol, marks);
    }
    if (t - marks[direction] < cooldownMs) return false;
    marks[direction] = t;
    return true;
  }

  /** Forgets a symbol (idle eviction). */
  forget(symbol: string): void {
    this.last.delete(symbol);
  }
}
