/**
 * Memory, two ways:
 *
 *   heap per windowed trade: 1000 symbols × 60 s of trades at a high rate
 *     through decode → engine (in this process; run it with --expose-gc).
 *     heapUsed after a full GC, before and after filling, over the trades the
 *     windows hold (Σ state.trades.size). Reported as V8 heap alone and with
 *     the typed-array backing stores (process.memoryUsage().arrayBuffers),
 *     which V8 keeps outside its heap: the windows' columns live there.
 *     Every trade also brings a latency sample; both are counted.
 *   flatness: `senpai-md compute` over a multi-million-line JSONL file (a
 *     simulator stream, 1000 symbols, several windows long), its VmRSS
 *     sampled from /proc while it runs.
 *
 *   node --expose-gc bench/memory.mjs [--trades-per-s 20000] [--lines 1500000] [--compute-rate 5000] [--quick]
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MarketEngine } from '../dist/engine/market-engine.js';
import { decode } from '../dist/decode/decode.js';
import { isRejection } from '../dist/domain/events.js';
import { emitResult, engineConfig, fullGc, parseArgs, progress } from './lib/common.mjs';
import { SimulatedStream } from './lib/stream.mjs';

const ROOT = new URL('..', import.meta.url).pathname;

function heapPerTrade({ symbols, tradesPerSecond, seconds }) {
  const stream = new SimulatedStream({ symbols, rate: tradesPerSecond, tradeShare: 1, seed: 9 });
  const engine = new MarketEngine(engineConfig(60_000), 'live');
  fullGc();
  const before = process.memoryUsage();
  const until = stream.lastMs + seconds * 1000;
  let events = 0;
  while (stream.lastMs < until) {
    const c = stream.chunk(100_000);
    for (let i = 0; i < c.count; i++) {
      const d = decode(c.subjects[i], c.payloads[i]);
      if (!isRejection(d)) engine.ingest(d, c.recvMs[i]);
    }
    events += c.count;
  }
  fullGc();
  const after = process.memoryUsage();
  let trades = 0;
  let latencySamples = 0;
  for (const s of engine.symbols.values()) {
    trades += s.trades.size;
    latencySamples += s.latency.size;
  }
  const heap = after.heapUsed - before.heapUsed;
  const buffers = after.arrayBuffers - before.arrayBuffers;
  return {
    symbols: engine.symbols.size,
    events,
    trades,
    latencySamples,
    heapBytes: heap,
    arrayBufferBytes: buffers,
    heapPerTrade: heap / trades,
    totalPerTrade: (heap + buffers) / trades,
    rss: after.rss,
    rssBefore: before.rss,
  };
}

function vmRss(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? NaN : Number(m[1]) * 1024;
  } catch {
    return NaN;
  }
}

/** Writes `lines` simulator events as JSONL (bare events, as the upstream publishes them). */
function writeJsonl(path, lines, symbols, rate) {
  const stream = new SimulatedStream({ symbols, rate, seed: 13 });
  const fd = openSync(path, 'w');
  let written = 0;
  let bytes = 0;
  while (written < lines) {
    const n = Math.min(100_000, lines - written);
    const msgs = stream.messages(n);
    let text = '';
    for (const m of msgs) text += JSON.stringify(m.payload) + '\n';
    bytes += writeSync(fd, text);
    written += n;
  }
  closeSync(fd);
  return { lines: written, bytes, spanSeconds: (stream.lastMs - 1_760_000_000_000) / 1000 };
}

async function computeFlatness({ lines, symbols, rate }) {
  const dir = mkdtempSync(join(tmpdir(), 'senpai-bench-mem-'));
  try {
    const file = join(dir, 'events.jsonl');
    const t0 = performance.now();
    const written = writeJsonl(file, lines, symbols, rate);
    progress(`memory: ${written.lines} lines (${(written.bytes / 1e6).toFixed(0)} MB, ${written.spanSeconds.toFixed(0)} s of events) written in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const child = spawn(process.execPath, [join(ROOT, 'dist/cli/main.js'), 'compute', file, '--output', '/dev/null'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env.PATH ?? '' } });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d.toString()));
    const samples = [];
    const start = performance.now();
    const timer = setInterval(() => {
      const rss = vmRss(child.pid);
      if (Number.isFinite(rss)) samples.push({ s: (performance.now() - start) / 1000, rss });
    }, 200);
    const code = await new Promise((resolve) => child.once('exit', resolve));
    clearInterval(timer);
    const seconds = (performance.now() - start) / 1000;
    const at = (f) => {
      const target = f * seconds;
      let best = samples[0];
      for (const x of samples) if (Math.abs(x.s - target) < Math.abs(best.s - target)) best = x;
      return best?.rss ?? NaN;
    };
    const lastLine = stderr.trim().split('\n').pop() ?? '';
    let summary = null;
    try {
      summary = JSON.parse(lastLine);
    } catch {
      summary = { error: lastLine };
    }
    return {
      lines: written.lines,
      bytes: written.bytes,
      spanSeconds: written.spanSeconds,
      windowFullAt: Math.min(1, 60 / written.spanSeconds),
      exitCode: code,
      seconds,
      linesPerSecond: written.lines / seconds,
      rss: { at10: at(0.1), at25: at(0.25), at50: at(0.5), at75: at(0.75), at95: at(0.95), max: Math.max(...samples.map((x) => x.rss)) },
      samples: samples.length,
      summary,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const quick = args.quick === true;
  if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');
  const tradesPerSecond = Number(args['trades-per-s'] ?? 20_000);
  const seconds = Number(args.seconds ?? 70);
  progress(`memory: 1000 symbols, ${tradesPerSecond} trades/s for ${seconds} s of event time through decode → engine`);
  const heap = heapPerTrade({ symbols: 1000, tradesPerSecond, seconds });
  const lines = Number(args.lines ?? (quick ? 1_000_000 : 1_500_000));
  const flat = args['no-compute'] === true ? null : await computeFlatness({ lines, symbols: 1000, rate: Number(args['compute-rate'] ?? 5_000) });
  emitResult(args, { heap, compute: flat });
}

await main();
