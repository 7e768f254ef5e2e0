/**
 * Engine throughput, in process on one core: decode → engine.ingest (rules
 * included) → computeFeatures, over pre-encoded simulator chunks, against the
 * brute force on the same events: the naive reference model the property test
 * trusts (test/helpers/reference-model.mjs, via lib/brute-force.mjs), which
 * recomputes every feature from its window arrays on every event.
 *
 *   node --expose-gc bench/engine.mjs [--symbols 8,1000] [--rate 20000] [--brute-rates 2000,200] [--quick]
 *
 * The brute force is compared on 8-symbol streams at moderate rates: at 20,000
 * events/s its windows hold so much that it manages a few events per second.
 *
 * compute mode: features computed after every accepted event (what `compute` does).
 * live mode:    features only when the real ThrottledFeaturePublisher lets them out
 *               (≤ 10 Hz per symbol, trailing edges flushed inside the timed section),
 *               its clock driven by the events' receive times.
 */
import { MarketEngine } from '../dist/engine/market-engine.js';
import { computeFeatures } from '../dist/features/feature-engine.js';
import { decode, normalize } from '../dist/decode/decode.js';
import { isRejection } from '../dist/domain/events.js';
import { ThrottledFeaturePublisher } from '../dist/publish/feature-publisher.js';
import { BruteForce } from './lib/brute-force.mjs';
import { emitResult, engineConfig, fullGc, median, parseArgs, progress } from './lib/common.mjs';
import { SimulatedStream } from './lib/stream.mjs';

/** @typedef {import('./lib/stream.mjs').Chunk} Chunk */
/** @typedef {import('../dist/domain/features.js').FeatureSnapshot} FeatureSnapshot */
/** @typedef {'compute' | 'live'} Mode */

const WINDOW_MS = 60_000;

/** Sinks that keep results alive so nothing is optimised away. */
let sink = 0;
let liveClock = 0;

/**
 * Runs events [from, to) of a chunk through the engine.
 * @param {MarketEngine} engine
 * @param {Chunk} chunk
 * @param {number} from
 * @param {number} to
 * @param {Mode} mode
 * @param {CountingPublisher | null} publisher live mode's publisher (unused in compute mode)
 * @returns {{ns: number, events: number, accepted: number, rejected: number, features: number}}
 */
export function runEngine(engine, chunk, from, to, mode, publisher) {
  const { subjects, payloads, recvMs } = chunk;
  let accepted = 0;
  let rejected = 0;
  let features = 0;
  const t0 = performance.now();
  if (mode === 'compute') {
    for (let i = from; i < to; i++) {
      const d = decode(subjects[i], payloads[i]);
      if (isRejection(d)) {
        rejected++;
        continue;
      }
      const o = engine.ingest(d, recvMs[i]);
      if (o.kind !== 'accepted') {
        rejected++;
        continue;
      }
      accepted++;
      if (o.state !== null) {
        const f = computeFeatures(o.state);
        sink += f.trade_count_10s;
        features++;
      }
    }
  } else {
    if (publisher === null) throw new Error('live mode needs a publisher');
    const before = publisher.count;
    for (let i = from; i < to; i++) {
      const d = decode(subjects[i], payloads[i]);
      if (isRejection(d)) {
        rejected++;
        continue;
      }
      liveClock = recvMs[i];
      const o = engine.ingest(d, liveClock);
      if (o.kind !== 'accepted') {
        rejected++;
        continue;
      }
      accepted++;
      if (o.state !== null) publisher.throttle.touch(o.state);
    }
    publisher.throttle.flush();
    features = publisher.count - before;
  }
  const ns = (performance.now() - t0) * 1e6;
  return { ns, events: to - from, accepted, rejected, features };
}

/**
 * Brute force over [from, to): timed with features until `budgetMs` is spent, the rest state-only (untimed).
 * @param {BruteForce} brute
 * @param {Chunk} chunk
 * @param {number} from
 * @param {number} to
 * @param {number} budgetMs
 */
function runBrute(brute, chunk, from, to, budgetMs) {
  const { subjects, payloads, recvMs } = chunk;
  let timed = 0;
  let ns = 0;
  let i = from;
  if (budgetMs > 0) {
    const t0 = performance.now();
    const deadline = t0 + budgetMs;
    for (; i < to; i++) {
      const d = decode(subjects[i], payloads[i]);
      if (!isRejection(d)) {
        const f = brute.ingest(d, recvMs[i], true);
        if (typeof f === 'object') sink += f.trade_count_10s;
      }
      timed++;
      if ((timed & 7) === 0 && performance.now() > deadline) {
        i++;
        break;
      }
    }
    ns = (performance.now() - t0) * 1e6;
  }
  for (; i < to; i++) {
    const d = decode(subjects[i], payloads[i]);
    if (!isRejection(d)) brute.ingest(d, recvMs[i], false);
  }
  return { ns, events: timed };
}

/** @typedef {{ count: number, throttle: ThrottledFeaturePublisher }} CountingPublisher */

/** @returns {CountingPublisher} */
function newPublisher() {
  const counter = { count: 0 };
  const throttle = new ThrottledFeaturePublisher(
    10,
    (f) => {
      sink += f.trade_count_10s;
      counter.count++;
    },
    () => liveClock,
  );
  return Object.assign(counter, { throttle });
}

/** @type {readonly ('mid' | 'spread_abs' | 'spread_bps' | 'trade_vwap_10s' | 'trade_vwap_60s' | 'trade_volume_10s' | 'return_10s')[]} */
const CLOSE_KEYS = ['mid', 'spread_abs', 'spread_bps', 'trade_vwap_10s', 'trade_vwap_60s', 'trade_volume_10s', 'return_10s'];
/** @type {readonly ('symbol' | 'ts' | 'trade_count_10s' | 'latency_ms_p50' | 'latency_ms_p95')[]} */
const EXACT_KEYS = ['symbol', 'ts', 'trade_count_10s', 'latency_ms_p50', 'latency_ms_p95'];

/**
 * @param {number | null} a
 * @param {number | null} b
 * @param {number} rel
 * @param {number} abs
 */
function close(a, b, rel, abs) {
  if (a === null || b === null) return a === b;
  const d = Math.abs(a - b);
  return d <= rel * Math.max(Math.abs(a), Math.abs(b)) || d <= abs;
}

/**
 * The brute force must agree with the engine, or the comparison is void.
 * @param {number} symbols
 * @param {number} n
 */
function crossCheck(symbols, n) {
  const stream = new SimulatedStream({ symbols, rate: 2000, seed: 7 });
  const chunk = stream.chunk(n);
  const engine = new MarketEngine(engineConfig(WINDOW_MS), 'live');
  const brute = new BruteForce(engineConfig(WINDOW_MS));
  let compared = 0;
  for (let i = 0; i < n; i++) {
    const d = decode(chunk.subjects[i], chunk.payloads[i]);
    if (isRejection(d)) continue;
    const o = engine.ingest(d, chunk.recvMs[i]);
    const b = brute.ingest(d, chunk.recvMs[i], true);
    if (o.kind !== 'accepted' || o.state === null) {
      if (typeof b === 'object') throw new Error(`cross-check: event ${i} rejected by the engine, accepted by brute force`);
      continue;
    }
    if (typeof b !== 'object') throw new Error(`cross-check: event ${i} accepted by the engine, brute force says ${b}`);
    const f = computeFeatures(o.state);
    for (const k of EXACT_KEYS) if (f[k] !== b[k]) throw new Error(`cross-check: event ${i} ${k}: engine ${f[k]}, brute force ${b[k]}`);
    for (const k of CLOSE_KEYS) if (!close(f[k], b[k], 1e-9, 0)) throw new Error(`cross-check: event ${i} ${k}: engine ${f[k]}, brute force ${b[k]}`);
    if (!close(f.realized_vol_60s, b.realized_vol_60s, 1e-6, 1e-12)) throw new Error(`cross-check: event ${i} realized_vol_60s differs`);
    compared++;
  }
  return compared;
}

/**
 * One stream: warm the windows (event time past the window) and the JIT, then
 * `reps` chunks, each timed in compute mode (first half), live mode (second
 * half) and brute force (from the start of the chunk, time-bounded).
 * @param {{ symbols: number, rate: number, reps: number, chunkEvents: number, bruteBudgetMs: number, seed?: number }} o
 */
function measureStream({ symbols, rate, reps, chunkEvents, bruteBudgetMs, seed = 1 }) {
  const stream = new SimulatedStream({ symbols, rate, seed });
  const engine = new MarketEngine(engineConfig(WINDOW_MS), 'live');
  const brute = bruteBudgetMs > 0 ? new BruteForce(engineConfig(WINDOW_MS)) : null;
  const publisher = newPublisher();
  // fill the windows (decoded events, no JSON round trip), then warm the JIT on the whole path
  const warmUntil = stream.lastMs + WINDOW_MS + 5_000;
  let warm = 0;
  while (stream.lastMs < warmUntil) {
    const c = stream.decodedChunk(Math.min(50_000, Math.ceil(rate * 5)), normalize);
    for (let i = 0; i < c.count; i++) {
      const ev = c.events[i];
      if (isRejection(ev)) throw new Error(`simulator event rejected while warming: ${ev.detail}`);
      engine.ingest(ev, c.recvMs[i]);
      brute?.ingest(ev, c.recvMs[i], false);
    }
    warm += c.count;
  }
  for (const mode of /** @type {Mode[]} */ (['compute', 'live'])) {
    const c = stream.chunk(50_000);
    runEngine(engine, c, 0, c.count, mode, publisher);
    if (brute !== null) runBrute(brute, c, 0, c.count, 0);
    warm += c.count;
  }
  const compute = [];
  const live = [];
  const bruteRates = [];
  const ratios = [];
  let tradesInWindow = 0;
  let liveFeatures = 0;
  let liveEvents = 0;
  let trades = 0;
  let events = 0;
  for (let r = 0; r < reps; r++) {
    const c = stream.chunk(chunkEvents * 2);
    trades += c.trades;
    events += c.count;
    // one full collection per chunk, before the engine's timed parts (each one walks the brute
    // force's millions of objects, which is slow, and its own garbage is part of its cost)
    fullGc();
    const a = runEngine(engine, c, 0, chunkEvents, 'compute', publisher);
    const b = runEngine(engine, c, chunkEvents, c.count, 'live', publisher);
    // the brute force replays the compute half's events from its own state
    const computeRate = a.events / (a.ns / 1e9);
    compute.push(computeRate);
    live.push(b.events / (b.ns / 1e9));
    if (brute !== null) {
      const x = runBrute(brute, c, 0, c.count, bruteBudgetMs);
      const bruteRate = x.events / (x.ns / 1e9);
      bruteRates.push(bruteRate);
      ratios.push(computeRate / bruteRate);
    }
    liveFeatures += b.features;
    liveEvents += b.events;
    if (a.rejected + b.rejected > 0) progress(`${a.rejected + b.rejected} events rejected in rep ${r + 1}`);
  }
  for (const s of engine.symbols.values()) tradesInWindow += s.trades.size;
  return {
    symbols,
    rate,
    windowMs: WINDOW_MS,
    warmEvents: warm,
    reps,
    chunkEvents,
    tradeShare: trades / events,
    tradesInWindow,
    liveFeaturesPerEvent: liveFeatures / liveEvents,
    compute: { median: median(compute), runs: compute },
    live: { median: median(live), runs: live },
    brute: brute === null ? null : { median: median(bruteRates), runs: bruteRates },
    ratio: brute === null ? null : { median: median(ratios), runs: ratios },
  };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const quick = args.quick === true;
  const symbolCounts = String(args.symbols ?? '8,1000').split(',').map(Number);
  const rate = Number(args.rate ?? 20_000);
  const bruteRates = String(args['brute-rates'] ?? '2000,200').split(',').filter((x) => x !== '' && x !== '0').map(Number);
  const reps = Number(args.reps ?? (quick ? 3 : 5));
  // events per timed chunk and mode (a chunk is split: compute mode, then live mode)
  const chunkEvents = Number(args.chunk ?? (quick ? 60_000 : 120_000));
  const budget = quick ? 200 : 400;

  progress('cross-checking the brute-force engine against the engine');
  const checked = crossCheck(8, quick ? 3_000 : 10_000);
  const streams = [];
  for (const symbols of symbolCounts) {
    progress(`engine: ${symbols} symbols at ${rate} events/s of event time`);
    streams.push(measureStream({ symbols, rate, reps, chunkEvents, bruteBudgetMs: 0 }));
  }
  const brute = [];
  for (const r of bruteRates) {
    progress(`engine vs brute force: 8 symbols at ${r} events/s of event time`);
    brute.push(measureStream({ symbols: 8, rate: r, reps, chunkEvents: Math.min(chunkEvents, 60_000), bruteBudgetMs: budget }));
  }
  emitResult(args, { crossChecked: checked, streams, brute, node: process.version, checksum: sink });
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
