/**
 * Cost growth: ns per event through decode → ingest → computeFeatures (compute
 * mode) for 10, 1000 and 10,000 symbols × windows of 10 s, 60 s and 300 s, at
 * one event-time rate, every window full before timing. The three windows of a
 * symbol count run side by side on the same chunks, in rotating order.
 *
 *   node --expose-gc bench/growth.mjs [--rate 4000] [--symbols 10,1000,10000] [--windows 10,60,300] [--quick]
 */
import { MarketEngine } from '../dist/engine/market-engine.js';
import { normalize } from '../dist/decode/decode.js';
import { isRejection } from '../dist/domain/events.js';
import { runEngine } from './engine.mjs';
import { emitResult, engineConfig, fullGc, median, parseArgs, progress } from './lib/common.mjs';
import { SimulatedStream } from './lib/stream.mjs';

/**
 * @param {number} symbols
 * @param {number[]} windowsS
 * @param {number} rate
 * @param {number} reps
 * @param {number} chunkEvents
 */
function measure(symbols, windowsS, rate, reps, chunkEvents) {
  const stream = new SimulatedStream({ symbols, rate, seed: 21 });
  const start = stream.lastMs;
  const longest = Math.max(...windowsS) * 1000;
  const engines = windowsS.map((w) => ({ windowS: w, engine: new MarketEngine(engineConfig(w * 1000), 'live'), runs: /** @type {number[]} */ ([]) }));
  // fill: each engine takes the events of the last W + 5 s before timing starts (decoded, no JSON round trip)
  const fillUntil = start + longest + 5_000;
  while (stream.lastMs < fillUntil) {
    const c = stream.decodedChunk(50_000, normalize);
    for (const e of engines) {
      const from = fillUntil - e.windowS * 1000 - 5_000;
      for (let i = 0; i < c.count; i++) {
        const ev = c.events[i];
        if (isRejection(ev)) throw new Error(`simulator event rejected: ${ev.detail}`);
        if (c.recvMs[i] >= from) e.engine.ingest(ev, c.recvMs[i]);
      }
    }
  }
  // JIT warm-up of the whole path, untimed
  const warm = stream.chunk(Math.min(chunkEvents, 50_000));
  for (const e of engines) runEngine(e.engine, warm, 0, warm.count, 'compute', null);
  for (let r = 0; r < reps; r++) {
    const c = stream.chunk(chunkEvents);
    for (let k = 0; k < engines.length; k++) {
      const e = engines[(k + r) % engines.length];
      fullGc();
      const res = runEngine(e.engine, c, 0, c.count, 'compute', null);
      e.runs.push(res.ns / res.events);
    }
  }
  return engines.map((e) => {
    let trades = 0;
    for (const s of e.engine.symbols.values()) trades += s.trades.size;
    return { symbols, windowS: e.windowS, nsPerEvent: median(e.runs), runs: e.runs, tradesInWindow: trades, symbolsSeen: e.engine.symbols.size };
  });
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const quick = args.quick === true;
  const rate = Number(args.rate ?? (quick ? 2_000 : 4_000));
  const symbolCounts = String(args.symbols ?? '10,1000,10000').split(',').map(Number);
  const windows = String(args.windows ?? '10,60,300').split(',').map(Number);
  const reps = Number(args.reps ?? 3);
  const chunkEvents = Number(args.chunk ?? (quick ? 50_000 : 80_000));
  const cells = [];
  for (const s of symbolCounts) {
    progress(`growth: ${s} symbols, windows ${windows.join('/')} s, ${rate} events/s of event time`);
    cells.push(...measure(s, windows, rate, reps, chunkEvents));
  }
  emitResult(args, { rate, reps, chunkEvents, cells });
}

await main();
