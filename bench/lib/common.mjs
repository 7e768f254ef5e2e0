/**
 * Small helpers shared by the benchmark sections: arguments, statistics,
 * formatting, and the result protocol between a section child and run.mjs.
 */
/* global gc */
import { writeFileSync } from 'node:fs';

/**
 * The two checkouts an A/B tool compares (the first two arguments that are not flags or numbers) and
 * its flags; exits 2 with `usage` when there are not two.
 * @param {string[]} argv
 * @param {string} usage
 * @returns {{ roots: [string, string], args: Record<string, string | boolean> }}
 */
export function abArgs(argv, usage) {
  const roots = argv.filter((a) => !a.startsWith('--') && !/^\d+$/.test(a)).slice(0, 2);
  if (roots.length !== 2) {
    process.stderr.write(`usage: ${usage}\n`);
    process.exit(2);
  }
  return { roots: [roots[0], roots[1]], args: parseArgs(argv.filter((a) => !roots.includes(a))) };
}

/**
 * Parses `--flag value`, `--flag=value` (for values that start with --) and `--flag` arguments into an object.
 * @param {readonly string[]} argv
 * @returns {Record<string, string | boolean>}
 */
export function parseArgs(argv) {
  /** @type {Record<string, string | boolean>} */
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) continue;
    const eq = a.indexOf('=');
    if (eq > 0) {
      out[a.slice(2, eq)] = a.slice(eq + 1);
      continue;
    }
    const key = a.slice(2);
    const next = argv[i + 1];
    if (next !== undefined && !next.startsWith('--')) {
      out[key] = next;
      i++;
    } else {
      out[key] = true;
    }
  }
  return out;
}

/**
 * @param {readonly number[]} xs
 * @returns {number}
 */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return NaN;
  return n % 2 === 1 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/**
 * Nearest-rank percentile of an unsorted array (p in 0..1).
 * @param {ArrayLike<number>} xs
 * @param {number} p
 * @returns {number}
 */
export function percentile(xs, p) {
  if (xs.length === 0) return NaN;
  const s = Float64Array.from(xs).sort();
  return s[Math.max(1, Math.ceil(p * s.length)) - 1];
}

/** Full collection when node runs with --expose-gc (twice: weak and finalised objects). */
export function fullGc() {
  if (typeof gc === 'function') {
    gc();
    gc();
  }
}

export const fmt = {
  int: (/** @type {number} */ n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a'),
  num: (/** @type {number} */ n, d = 1) => (Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }) : 'n/a'),
  ratio: (/** @type {number} */ n) => (Number.isFinite(n) ? `${n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(n >= 10 ? 1 : 2)}×` : 'n/a'),
  pct: (/** @type {number} */ n) => (Number.isFinite(n) ? `${(n * 100).toFixed(0)} %` : 'n/a'),
  mb: (/** @type {number} */ b) => (Number.isFinite(b) ? `${(b / 1048576).toFixed(0)} MB` : 'n/a'),
};

/** Default engine settings (SPEC §9 defaults) with a window of `windowMs`. */
export function engineConfig(windowMs = 60_000, maxSymbols = 100_000) {
  return {
    windowMs,
    maxSymbols,
    maxFutureSkewMs: 60_000,
    rules: { returnThreshold: 0.003, volumeThreshold: 1.0, spreadMaxBps: 20, cooldownMs: 10_000 },
  };
}

/**
 * A section's result: written to `--out FILE` when run by run.mjs, else printed.
 * @param {Record<string, string | boolean>} args
 * @param {unknown} result
 */
export function emitResult(args, result) {
  const text = JSON.stringify(result, null, 2);
  if (typeof args.out === 'string') writeFileSync(args.out, text);
  else process.stdout.write(text + '\n');
}

/**
 * Progress to stderr (run.mjs passes it through).
 * @param {string} msg
 */
export function progress(msg) {
  process.stderr.write(`  · ${msg}\n`);
}
