/**
 * An integer literal too long to survive `JSON.parse` (more than 15 digits): the
 * digits exactly as written, plus the nearest double for numeric use. Trade ids
 * above 2^53 stay distinct through this; nanosecond timestamps use `.value`.
 */
export class ExactInteger {
  constructor(
    /** The literal as written, sign included. */
    readonly literal: string,
    /** `Number(literal)`: what `JSON.parse` would have produced. */
    readonly value: number,
  ) {}
}

/** Integer literals with more digits than this may lose digits as doubles. */
export const MAX_SAFE_LITERAL_DIGITS = 15;
