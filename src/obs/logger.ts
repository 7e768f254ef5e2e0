import { createRequire } from 'node:module';
import { pino } from 'pino';
import type { Logger } from 'pino';

export type { Logger };

/**
 * Where `pino-pretty` is installed, or null. It is an optional dependency: an
 * install with `--omit=optional` (the container image) has no pretty printer,
 * and pino would otherwise fail at start with "unable to determine transport
 * target". Resolved from this module, so a global or `npx` install finds the
 * copy next to this package, wherever the working directory is.
 */
export function prettyPrinterPath(resolve: (id: string) => string = createRequire(import.meta.url).resolve): string | null {
  try {
    return resolve('pino-pretty');
  } catch {
    return null;
  }
}

/**
 * Structured JSON logs on stdout; pretty-printed when stdout is a terminal and
 * `pino-pretty` is installed, JSON otherwise.
 */
export function createLogger(level: string, opts: { pretty?: boolean; name?: string } = {}): Logger {
  const target = (opts.pretty ?? process.stdout.isTTY === true) ? prettyPrinterPath() : null;
  return pino({
    name: opts.name ?? 'senpai-md',
    level,
    ...(target !== null ? { transport: { target, options: { colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } } } : {}),
  });
}
