/**
 * The sorted symbol list `/health` shows, rebuilt only when the set of symbols
 * changed (the engine's `symbolChanges` moved: a symbol forgotten while another
 * was added leaves the count as it was), so a health check every second does
 * not sort thousands of symbols each time. Shared by the HTTP app and the engine thread.
 */
export class SymbolList {
  private list: readonly string[] = [];
  private changes = Number.NaN;

  constructor(
    private readonly symbols: { keys(): IterableIterator<string> },
    private readonly symbolChanges: () => number,
  ) {}

  get(): readonly string[] {
    const changes = this.symbolChanges();
    if (changes !== this.changes) {
      this.list = [...this.symbols.keys()].sort();
      this.changes = changes;
    }
    return this.list;
  }
}
