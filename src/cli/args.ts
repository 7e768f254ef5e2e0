import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { UsageError } from '../domain/errors.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** `node:util.parseArgs` that turns every complaint into a {@link UsageError}. */
export function parseCommandArgs<O extends Options>(argv: string[], options: O, usage: string, positionals: [min: number, max: number]) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (err) {
    // node's complaints run over several lines ("… is ambiguous.\nDid you forget …"): one line here
    throw new UsageError((err as Error).message.replace(/\s*\n\s*/g, ' '), usage);
  }
  const [min, max] = positionals;
  if ((parsed.values as { help?: boolean }).help !== true) {
    if (parsed.positionals.length < min) throw new UsageError('missing argument', usage);
    if (parsed.positionals.length > max) throw new UsageError(`unexpected argument ${JSON.stringify(parsed.positionals[max])}`, usage);
  }
  return parsed;
}

const DECIMAL = /^-?[0-9]+(\.[0-9]+)?$/;

/** Reads a numeric flag (a plain decimal: no `1e2`, `0x10`, `.5`); undefined when absent. */
export function numberFlag(
  value: string | boolean | undefined | (string | boolean)[],
  flag: string,
  usage: string,
  check: (n: number) => boolean,
  expected: string,
): number | undefined {
  if (value === undefined) return undefined;
  // the decimal grammar of the environment's numbers (SPEC §9), so a flag and its variable take the same spellings
  const n = typeof value === 'string' && DECIMAL.test(value.trim()) ? Number(value) : NaN;
  if (Number.isNaN(n)) throw new UsageError(`invalid ${flag} ${JSON.stringify(value)}: expected a plain decimal number, ${expected}`, usage);
  if (!Number.isFinite(n) || !check(n)) {
    throw new UsageError(`invalid ${flag} ${JSON.stringify(value)}: expected ${expected}`, usage);
  }
  return n;
}
