/** A typed array or plain array whose elements can be moved with `copyWithin`. */
export interface CopyWithin {
  copyWithin(target: number, start: number, end: number): unknown;
  [slot: number]: unknown;
}

/** Moves of at most this many slots are done element by element. */
const SHORT_MOVE = 16;

/**
 * Moves the ring slots `from, from+1, …, end−1` (slot numbers, taken
 * circularly in a buffer of `capacity`, a power of two) up by one slot, so
 * slot `from` is free and slot `end` is overwritten; `end` must be free.
 * Long moves use `copyWithin` (a memmove), short ones an element loop.
 */
export function shiftUpOne(a: CopyWithin, from: number, end: number, capacity: number): void {
  if (from === end) return;
  if (from < end) {
    if (end - from <= SHORT_MOVE) {
      // late arrivals land near the newest: a few slots move, cheaper by hand than a copyWithin call
      for (let i = end; i > from; i--) a[i] = a[i - 1];
    } else {
      a.copyWithin(from + 1, from, end);
    }
    return;
  }
  // wrapped: [from, capacity) then [0, end)
  if (end > 0) a.copyWithin(1, 0, end);
  a[0] = a[capacity - 1];
  if (capacity - 1 > from) a.copyWithin(from + 1, from, capacity - 1);
}
