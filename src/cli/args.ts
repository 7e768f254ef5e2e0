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
    throw new UsageError((err as Error).message, usage);
  }
  const [min, max] = positionals;
  if ((parsed.values as { help?: boolean }).help !== true) {
    if (parsed.positionals.length < min) throw new UsageError('missing argument', usage);
    if (parsed.positionals.length > max) throw new UsageError(`unexpected argument ${JSON.stringify(parsed.positionals[max])}`, usage);
  }
  return parsed;
}

/** Reads a numeric flag; undefined when absent. */
export function numberFlag(
  value: string | boolean | undefined | (string | boolean)[],
  flag: string,
  usage: string,
  check: (n: number) => boolean,
  expected: string,
): number | undefined {
  if (value === undefined) return undefined;
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  if (!Number.isFinite(n) || !check(n)) {
    throw new UsageError(`invalid ${flag} ${JSON.stringify(value)}: expected ${expected}`, usage);
  }
  return n;
}
