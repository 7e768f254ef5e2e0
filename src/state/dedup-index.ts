import type { TradeRecords } from './trade-records.js';
import { NO_INTEGER_KEY } from './trade-records.js';

/**
 * The table slot hash of an interned provider and an integer trade id
 * (< 2^53). Ids are mixed in blocks of 16 and keep their low 4 bits, so
 * consecutive ids, the usual case, share a cache line of the table.
 */
function keyHash(provider: number, id: number): number {
  const block = id / 16;
  const lo = block >>> 0;
  const hi = (block / 4294967296) | 0;
  let h = Math.imul(lo ^ Math.imul(hi, 0x9e3779b1) ^ Math.imul(provider + 1, 0x85ebca6b), 0x9e3779b1);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 13;
  return (h << 4) | (id & 15);
}

/**
 * The `(provider, trade_id)` keys of the trades in one window, for duplicate
 * detection (SPEC §2). Keys come in two forms. The common one, an interned
 * provider and an integer id, lives in the records' columns (tag, id) and in
 * an open-addressing table of their slots: a few bytes per trade and no
 * allocation. Any other key (ids that are not plain integers, providers past
 * the intern limit) is a string in a set.
 *
 * Table entries are forgotten lazily: an entry whose slot's trade has left
 * (its `ts` is NaN) is dead; lookups skip it and inserts reuse it, and the
 * table is rebuilt from the live trades when live and dead entries together
 * fill three quarters of it. A trade leaving the window then costs nothing
 * here, where a backward-shift deletion rehashed the rest of its cluster
 * (ids come in runs, so clusters are long). An entry whose slot was reused by
 * a newer trade compares that trade's key, so it can only answer for it.
 */
export class DedupIndex {
  /** String keys of the trades inside the window. */
  readonly strings = new Set<string>();
  /** Linear-probing table of `slot + 1` (0: empty) of the trades with integer keys, live or dead. */
  private table = new Int32Array(32);
  private tableMask = 31;
  /** Entries in use (live and dead); the table is rebuilt when they pass {@link tableLimit}. */
  private used = 0;
  private tableLimit = 24;
  /**
   * Per interned provider, the largest integer id ever added: a larger id
   * cannot be in the window, which answers the usual lookup (ids rise) without
   * touching the table.
   */
  private maxIds = new Float64Array(0);

  constructor(private readonly records: TradeRecords) {}

  /** Whether a trade with this key is indexed: `provider` (interned, ≥ 0) with `id`, else the string `key`. */
  contains(provider: number, id: number, key: string | null): boolean {
    if (provider >= 0) return provider < this.maxIds.length && id <= this.maxIds[provider]! && this.findSlot(provider, id) >= 0;
    return key !== null && this.strings.has(key);
  }

  /** Indexes the trade just stored at `slot`; `recordsGrew`: every slot moved, so re-index all. */
  add(slot: number, key: string | null, recordsGrew: boolean): void {
    const provider = this.records.tag[slot]!;
    if (recordsGrew) this.rebuild();
    else if (provider !== NO_INTEGER_KEY) this.tableInsert(slot);
    if (provider !== NO_INTEGER_KEY) this.noteMaxId(provider, this.records.id[slot]!);
    else if (key !== null) this.strings.add(key);
  }

  /** Forgets the trade at `slot` (still holding it) as it leaves the window; table entries die with their trade. */
  remove(slot: number): void {
    if (this.records.tag[slot]! === NO_INTEGER_KEY) {
      const key = this.records.keyAt(slot);
      if (key !== null) this.strings.delete(key);
    }
  }

  private noteMaxId(provider: number, id: number): void {
    let maxIds = this.maxIds;
    if (provider >= maxIds.length) {
      const grown = new Float64Array(Math.max(4, provider + 1)).fill(-1);
      grown.set(maxIds);
      this.maxIds = maxIds = grown;
    }
    if (id > maxIds[provider]!) maxIds[provider] = id;
  }

  /** The slot of the trade in the window with this integer key, or -1. */
  private findSlot(provider: number, id: number): number {
    if (this.used === 0) return -1;
    const table = this.table;
    const mask = this.tableMask;
    const { id: ids, tag: tags, ts } = this.records;
    for (let i = keyHash(provider, id) & mask; ; i = (i + 1) & mask) {
      const e = table[i]!;
      if (e === 0) return -1;
      const s = e - 1;
      if (ids[s] === id && tags[s] === provider && !Number.isNaN(ts[s]!)) return s;
    }
  }

  /** Enters `slot` at the first empty or dead entry from its key's home. */
  private tableInsert(slot: number): void {
    const table = this.table;
    const mask = this.tableMask;
    const ts = this.records.ts;
    let i = keyHash(this.records.tag[slot]!, this.records.id[slot]!) & mask;
    for (;;) {
      const e = table[i]!;
      if (e === 0) {
        this.used++;
        break;
      }
      if (Number.isNaN(ts[e - 1]!)) break; // dead: its trade left
      i = (i + 1) & mask;
    }
    table[i] = slot + 1;
    if (this.used > this.tableLimit) this.rebuild();
  }

  /** Re-indexes the live integer keys: after the records grew (their slots moved), or to clear dead entries. */
  private rebuild(): void {
    const records = this.records;
    const size = records.capacity * 2; // at most half full of live entries
    if (this.table.length !== size) {
      this.table = new Int32Array(size);
      this.tableMask = size - 1;
      this.tableLimit = size - (size >>> 2);
    } else {
      this.table.fill(0);
    }
    this.used = 0;
    const tags = records.tag;
    for (let p = records.start; p < records.end; p++) {
      const s = records.slot(p);
      if (tags[s]! !== NO_INTEGER_KEY) this.tableInsert(s);
    }
  }
}
