/** A typed array or plain array whose elements can be moved with `copyWithin`. */
export interface CopyWithin {
  copyWithin(target: number, start: number, end: number): unknown;
  [slot: number]: unknown;
}

/**
 * Moves the ring slots `from, from+1, …, end−1` (slot numbers, taken
 * circularly in a buffer of `capacity`, a power of two) up by one slot, so
 * slot `from` is free and slot `end` is overwritten; `end` must be free.
 * Uses `copyWithin` (a memmove) instead of an element loop.
 */
export function shiftUpOne(a: CopyWithin, from: number, end: number, capacity: number): void {
  if (from === end) return;
  if (from < end) {
    a.copyWithin(from + 1, from, end);
    return;
  }
  // wrapped: [from, capacity) then [0, end)
  if (end > 0) a.copyWithin(1, 0, end);
  a[0] = a[capacity - 1];
  if (capacity - 1 > from) a.copyWithin(from + 1, from, capacity - 1);
}
