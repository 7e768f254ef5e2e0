import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** An executable from an environment variable, then the given paths, then PATH; null when absent. */
export function findTool(name: string, opts: { env?: string; paths?: string[] } = {}): string | null {
  const fromEnv = opts.env !== undefined ? process.env[opts.env] : undefined;
  for (const c of [fromEnv, ...(opts.paths ?? [])]) if (c !== undefined && c !== '' && existsSync(c)) return c;
  const which = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  return which.status === 0 && which.stdout.trim() !== '' ? which.stdout.trim() : null;
}

/** promtool from PROMTOOL, .ci/bin (extracted by .ci/run) or PATH; null when absent. */
export function promtool(): string | null {
  return findTool('promtool', { env: 'PROMTOOL', paths: [join(import.meta.dirname, '..', '..', '.ci', 'bin', 'promtool')] });
}
