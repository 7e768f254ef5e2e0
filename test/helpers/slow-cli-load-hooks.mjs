// Module loading hooks of slow-cli-load.mjs (they run on the loader thread).
import { writeSync } from 'node:fs';

/**
 * Holds dist/cli/main.js for 10 s, after saying so on stderr (fd 2, written at once).
 * @param {string} url
 * @param {unknown} context
 * @param {(url: string, context: unknown) => Promise<unknown>} nextLoad
 */
export async function load(url, context, nextLoad) {
  if (url.endsWith('/dist/cli/main.js')) {
    writeSync(2, 'loading dist/cli/main.js\n');
    await new Promise((resolve) => setTimeout(resolve, 10_000));
  }
  return nextLoad(url, context);
}
