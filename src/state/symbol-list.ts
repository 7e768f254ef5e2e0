/** The list is rebuilt at most this often (or when the count changes): it is sorted. */
const MAX_AGE_MS = 1000;

/**
 * The sorted symbol list `/health` shows, rebuilt when the count changes or
 * it is a second old, so a health check every second does not sort
 * thousands of symbols each time. Shared by the HTTP app and the engine thread.
 */
export class SymbolList {
  private list: readonly string[] = [];
  private builtAt = Number.NEGATIVE_INFINITY;
  private size = -1;

  constructor(private readonly symbols: { readonly size: number; keys(): IterableIterator<string> }) {}

  get(nowMs: number): readonly string[] {
    const symbols = this.symbols;
    if (symbols.size !== this.size || nowMs - this.builtAt >= MAX_AGE_MS) {
      this.list = [...symbols.keys()].sort();
      this.size = symbols.size;
      this.builtAt = nowMs;
    }
    return this.list;
  }
}
