/**
 * Highest numeric trade id accepted per provider, to tell a gap in a feed
 * (SPEC §5 `gap`). Ids are compared exactly, as BigInt when longer than 15 digits.
 */
const DIGITS = /^\d{1,40}$/;

/** Providers gap-tracked per symbol; a later one's ids are not tracked (DECISIONS 71). */
export const MAX_GAP_PROVIDERS_PER_SYMBOL = 64;

export class TradeIdGapTracker {
  /** Per provider, a box with the highest id: one lookup per trade, no re-insert. */
  private readonly highest = new Map<string, { id: number | bigint }>();

  /** Records an accepted trade id; returns how many ids were skipped (0 when none, or the provider is past the bound). */
  observe(provider: string, tradeId: string | null): number {
    if (tradeId === null || !DIGITS.test(tradeId)) return 0;
    const id: number | bigint = tradeId.length <= 15 ? Number(tradeId) : BigInt(tradeId);
    return this.record(provider, id);
  }

  /** {@link observe} for an id already read as an integer of at most 15 digits. */
  observeInteger(provider: string, id: number): number {
    return this.record(provider, id);
  }

  private record(provider: string, id: number | bigint): number {
    const box = this.highest.get(provider);
    if (box === undefined) {
      if (this.highest.size < MAX_GAP_PROVIDERS_PER_SYMBOL) this.highest.set(provider, { id });
      return 0;
    }
    const prev = box.id;
    if (id <= prev) return 0;
    box.id = id;
    if (typeof id === 'number' && typeof prev === 'number') return id - prev - 1;
    return Number(BigInt(id) - BigInt(prev) - 1n);
  }
}
