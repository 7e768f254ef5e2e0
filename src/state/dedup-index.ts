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
 */
export class DedupIndex {
  /** String keys of the trades inside the window. */
  readonly strings = new Set<string>();
  /** Linear-probing table of `slot + 1` (0: empty) of the trades with integer keys; at most half full. */
  private table = new Int32Array(32);
  private tableMask = 31;
  private integerKeys = 0;
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

  /** Forgets the trade at `slot` (still holding it) as it leaves the window. */
  remove(slot: number): void {
    if (this.records.tag[slot]! !== NO_INTEGER_KEY) {
      this.tableDelete(slot);
    } else {
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

  /** The slot of the trade with this integer key, or -1. */
  private findSlot(provider: number, id: number): number {
    if (this.integerKeys === 0) return -1;
    const table = this.table;
    const mask = this.tableMask;
    const ids = this.records.id;
    const tags = this.records.tag;
    for (let i = keyHash(provider, id) & mask; ; i = (i + 1) & mask) {
      const e = table[i]!;
      if (e === 0) return -1;
      const s = e - 1;
      if (ids[s] === id && tags[s] === provider) return s;
    }
  }

  private tableInsert(slot: number): void {
    const table = this.table;
    const mask = this.tableMask;
    let i = keyHash(this.records.tag[slot]!, this.records.id[slot]!) & mask;
    while (table[i] !== 0) i = (i + 1) & mask;
    table[i] = slot + 1;
    this.integerKeys++;
  }

  /** Removes `slot` (still holding its trade) with backward-shift deletion: no tombstones. */
  private tableDelete(slot: number): void {
    const table = this.table;
    const mask = this.tableMask;
    const ids = this.records.id;
    const tags = this.records.tag;
    let hole = keyHash(tags[slot]!, ids[slot]!) & mask;
    while (table[hole] !== slot + 1) hole = (hole + 1) & mask;
    for (let j = (hole + 1) & mask; ; j = (j + 1) & mask) {
      const e = table[j]!;
      if (e === 0) break;
      const home = keyHash(tags[e - 1]!, ids[e - 1]!) & mask;
      // the entry at j may fill the hole unless its home lies cyclically in (hole, j]
      const stays = hole <= j ? hole < home && home <= j : hole < home || home <= j;
      if (stays) continue;
      table[hole] = e;
      hole = j;
    }
    table[hole] = 0;
    this.integerKeys--;
  }

  /** Re-indexes every integer key, after the records grew (and their slots moved). */
  private rebuild(): void {
    const records = this.records;
    const size = records.capacity * 2;
    if (this.table.length !== size) {
      this.table = new Int32Array(size);
      this.tableMask = size - 1;
    } else {
      this.table.fill(0);
    }
    this.integerKeys = 0;
    const tags = records.tag;
    for (let p = records.start; p < records.end; p++) {
      const s = records.slot(p);
      if (tags[s]! !== NO_INTEGER_KEY) this.tableInsert(s);
    }
  }
}
