/** Without a change counter, the list is rebuilt at most this often (or when the count changes): it is sorted. */
const MAX_AGE_MS = 1000;

/**
 * The sorted symbol list `/health` shows, rebuilt only when the set of symbols
 * changed (the engine's `symbolChanges` moved: a symbol forgotten while another
 * was added leaves the count as it was), so a health check every second does
 * not sort thousands of symbols each time. Without a counter: when the count
 * changes or the list is a second old. Shared by the HTTP app and the engine thread.
 */
export class SymbolList {
  private list: readonly string[] = [];
  private builtAt = Number.NEGATIVE_INFINITY;
  private size = -1;
  private changes = Number.NaN;

  constructor(
    private readonly symbols: { readonly size: number; keys(): IterableIterator<string> },
    private readonly symbolChanges: (() => number) | null = null,
  ) {}

  get(nowMs: number): readonly string[] {
    const symbols = this.symbols;
    const changes = this.symbolChanges?.() ?? Number.NaN;
    const stale = this.symbolChanges !== null ? changes !== this.changes : symbols.size !== this.size || nowMs - this.builtAt >= MAX_AGE_MS;
    if (stale) {
      this.list = [...symbols.keys()].sort();
      this.size = symbols.size;
      this.builtAt = nowMs;
      this.changes = changes;
    }
    return this.list;
  }
}
