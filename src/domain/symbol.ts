/** Symbol rules of SPEC §2: trim, upper-case, drop `/` and `:`, then a strict pattern. */

const SYMBOL_PATTERN = /^[A-Z0-9][A-Z0-9_-]{0,31}$/;
const SEPARATORS = /[/:]/g;

/** Normalises a raw symbol; returns null when the result is not a valid symbol. */
export function normalizeSymbol(raw: string): string | null {
  if (SYMBOL_PATTERN.test(raw)) return raw; // already canonical: the common case
  const s = raw.trim().toUpperCase().replace(SEPARATORS, '');
  return SYMBOL_PATTERN.test(s) ? s : null;
}
