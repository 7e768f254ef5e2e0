#!/usr/bin/env node
/**
 * Paired A/B of two builds of the engine path, for machines whose speed drifts
 * while a benchmark runs (shared hosts: run-to-run spreads of 2× were seen
 * here). Instead of timing A for seconds and then B, it runs both on the same
 * short slices of one pre-encoded stream, alternating which goes first, and
 * reports the median of the per-slice ratios B/A: a drift slower than a slice
 * (a few ms) hits both sides of a pair alike.
 *
 *   node bench/tools/ab-engine.mjs A_ROOT B_ROOT [--what engine|decode] [--symbols 8] [--rate 20000] [--slices 300] [--slice 4000]
 *
 * A_ROOT and B_ROOT are checkouts with a built `dist/` (e.g. `git worktree add
 * /tmp/base HEAD~1 && (cd /tmp/base && npm ci && npm run build)` and `.`).
 * `engine`: decode → MarketEngine.ingest (rules included) → computeFeatures,
 * each build with its own engine warmed over the same events; `decode`: decode alone.
 * Running A against itself shows the tool's own spread (median ≈ 1.00).
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { abArgs, engineConfig } from '../lib/common.mjs';
import { SimulatedStream } from '../lib/stream.mjs';

const argv = process.argv.slice(2);
const { roots, args } = abArgs(argv, 'node bench/tools/ab-engine.mjs A_ROOT B_ROOT [--what engine|decode] [--symbols 8] [--rate 20000] [--slices 300] [--slice 4000]');
const what = args.what === 'decode' ? 'decode' : 'engine';
const symbols = Number(args.symbols ?? 8);
const rate = Number(args.rate ?? 20_000);
const slices = Number(args.slices ?? 300);
const slice = Number(args.slice ?? 4000);
const WINDOW_MS = 60_000;

/** @param {string} root */
async function load(root) {
  const dist = (/** @type {string} */ file) => pathToFileURL(resolve(root, 'dist', file)).href;
  const { MarketEngine } = await import(dist('engine/market-engine.js'));
  const { computeFeatures } = await import(dist('features/feature-engine.js'));
  const { decode, normalize } = await import(dist('decode/decode.js'));
  const { isRejection } = await import(dist('domain/events.js'));
  return { engine: new MarketEngine(engineConfig(WINDOW_MS), 'live'), computeFeatures, decode, normalize, isRejection };
}

const a = await load(roots[0]);
const b = await load(roots[1]);
const stream = new SimulatedStream({ symbols, rate, seed: 1 });
// fill both engines' windows with the same events, computing features as the service does (the
// structures behind them, such as the latency bands, grow with the windows from empty)
const warmUntil = stream.lastMs + WINDOW_MS + 5_000;
while (stream.lastMs < warmUntil) {
  const c = stream.decodedChunk(50_000, a.normalize);
  for (let i = 0; i < c.count; i++) {
    for (const v of [a, b]) {
      const o = v.engine.ingest(c.events[i], c.recvMs[i]);
      if (o.kind === 'accepted' && o.state !== null) v.computeFeatures(o.state);
    }
  }
}

let sink = 0;
/**
 * @param {Awaited<ReturnType<typeof load>>} v
 * @param {import('../lib/stream.mjs').Chunk} c
 * @param {number} from
 * @param {number} to
 */
function run(v, c, from, to) {
  const t0 = performance.now();
  if (what === 'decode') {
    for (let i = from; i < to; i++) {
      const d = v.decode(c.subjects[i], c.payloads[i]);
      if (!v.isRejection(d)) sink += d.tsRecv ?? 0;
    }
  } else {
    for (let i = from; i < to; i++) {
      const d = v.decode(c.subjects[i], c.payloads[i]);
      if (v.isRejection(d)) continue;
      const o = v.engine.ingest(d, c.recvMs[i]);
      if (o.kind === 'accepted' && o.state !== null) sink += v.computeFeatures(o.state).trade_count_10s;
    }
  }
  return performance.now() - t0;
}

const ratios = [];
const nsA = [];
const nsB = [];
const warmSlices = 40;
let k = 0;
while (ratios.length < slices) {
  const c = stream.chunk(Math.max(slice, 50_000));
  for (let from = 0; from + slice <= c.count && ratios.length < slices; from += slice, k++) {
    const to = from + slice;
    let ta;
    let tb;
    if ((k & 1) === 0) {
      ta = run(a, c, from, to);
      tb = run(b, c, from, to);
    } else {
      tb = run(b, c, from, to);
      ta = run(a, c, from, to);
    }
    if (k < warmSlices) continue; // both JITs settle first
    ratios.push(tb / ta);
    nsA.push((ta * 1e6) / slice);
    nsB.push((tb * 1e6) / slice);
  }
}

/** @param {number[]} x @param {number} q */
function quantile(x, q) {
  const s = [...x].sort((p, r) => p - r);
  return s[Math.floor((s.length - 1) * q)];
}
/** @param {number[]} x */
const sum = (x) => x.reduce((p, r) => p + r, 0);
const f3 = (/** @type {number} */ x) => x.toFixed(3);
const f0 = (/** @type {number} */ x) => Math.round(x).toLocaleString('en-US');
process.stdout.write(
  `${what}, ${symbols} symbols at ${rate}/s, ${slices} pairs of ${slice} events\n` +
    `B/A time per slice: median ${f3(quantile(ratios, 0.5))} (quartiles ${f3(quantile(ratios, 0.25))}–${f3(quantile(ratios, 0.75))}); ` +
    `B/A of the summed time ${f3(sum(nsB) / sum(nsA))} (counts the rare costly slices a median skips)\n` +
    `A: median ${f0(quantile(nsA, 0.5))} ns/event (fastest slice ${f0(quantile(nsA, 0))}); ` +
    `B: median ${f0(quantile(nsB, 0.5))} ns/event (fastest slice ${f0(quantile(nsB, 0))})\n`,
);
if (sink === 0) process.stdout.write('(no output: check the builds)\n');
