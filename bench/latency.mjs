/**
 * Latency at a steady rate: a publisher child sends `--rate` events/s (paced by
 * a 1 ms timer) for `--seconds` to a local nats-server; the real service (core
 * NATS, default queue) processes them in a child of its own.
 *
 *   processing latency: senpai_processing_latency_ms, the time from the NATS
 *     callback to the end of processing, queue wait included. Exact
 *     percentiles from every observed value (the service child records what
 *     it observes into the histogram), and what the histogram's buckets give
 *     by linear interpolation (as Prometheus' histogram_quantile would).
 *   features age on arrival: each event's ts_exchange is its scheduled send
 *     time, and a features object's `ts` is the newest event time it reflects,
 *     so (arrival at a subscriber − ts) is end-to-end: publisher timer lag,
 *     NATS both ways, queue, processing, the throttle's hold for trailing-edge
 *     publishes (up to 100 ms by design), and the features publish.
 *
 *   node bench/latency.mjs [--rate 20000] [--seconds 12] [--reps 3] [--symbols 8] [--quick] [--no-worker] [--service-node-args="--trace-gc"]
 *
 * Services in turn, each rep: as it runs (inline processing), always queued
 * (the reference), ENGINE_THREAD=worker (its latencies are observed on the
 * engine thread, so its percentiles come from the histogram's buckets; the
 * report compares it with the single-thread service's bucket figures), and,
 * where this process may raise a child's priority (root or CAP_SYS_NICE), the
 * service with every thread at nice −10: a diagnostic of how much of the tail is the publisher
 * and nats-server taking the service's core on a small host. The percentiles
 * pool every rep's messages; each rep's own p99 and p99.9 are kept beside them.
 */
import { readdirSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { Child } from './lib/child.mjs';
import { emitResult, median, parseArgs, percentile, progress } from './lib/common.mjs';
import { BenchNatsServer } from './lib/nats-server.mjs';

/** The diagnostic variant's scheduling priority (a lower nice value runs first). */
const PRIORITIZED_NICE = -10;

/** Whether this process may set a nice value of {@link PRIORITIZED_NICE} (root, or CAP_SYS_NICE within RLIMIT_NICE). */
function raisePriorityAllowed() {
  const own = getPriority();
  try {
    setPriority(PRIORITIZED_NICE);
    setPriority(own); // raising one's nice value back is always allowed
    return true;
  } catch {
    return false;
  }
}

/**
 * Sets every thread of process `pid` to `nice` (Linux's setpriority names one
 * thread: the main thread alone would leave V8's GC helpers and libuv's pool
 * behind). Threads started later inherit it from the one that starts them.
 * @param {number} pid
 * @param {number} nice
 */
function prioritize(pid, nice) {
  let tids = [pid];
  try {
    tids = readdirSync(`/proc/${pid}/task`).map(Number);
  } catch {
    // no /proc: the process as the OS names it
  }
  for (const tid of tids) setPriority(tid, nice);
}

const CONSUMER = new URL('./nats-consumer.mjs', import.meta.url).pathname;
const PUBLISHER = new URL('./nats-publisher.mjs', import.meta.url).pathname;

/**
 * histogram_quantile: linear interpolation inside the bucket holding rank q·count.
 * @param {number} q
 * @param {readonly number[]} bounds
 * @param {readonly number[]} counts
 * @returns {number}
 */
function histogramQuantile(q, bounds, counts) {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return NaN;
  const rank = q * total;
  let acc = 0;
  for (let i = 0; i < counts.length; i++) {
    const prev = acc;
    acc += counts[i];
    if (acc >= rank) {
      if (i >= bounds.length) return bounds[bounds.length - 1]; // +Inf bucket: the highest bound
      const lo = i === 0 ? 0 : bounds[i - 1];
      return lo + (bounds[i] - lo) * ((rank - prev) / counts[i]);
    }
  }
  return bounds[bounds.length - 1];
}

/**
 * Observations per bucket (the last one above every bound), as the service's histogram counts them.
 * @param {Iterable<number>} values
 * @param {readonly number[]} bounds
 * @returns {number[]}
 */
function bucketCounts(values, bounds) {
  /** @type {number[]} */
  const counts = new Array(bounds.length + 1).fill(0);
  for (const v of values) {
    let i = 0;
    while (i < bounds.length && v > bounds[i]) i++;
    counts[i]++;
  }
  return counts;
}

/** @param {ArrayLike<number> & Iterable<number>} values */
function stats(values) {
  let max = -Infinity;
  for (const v of values) max = Math.max(max, v);
  return { p50: percentile(values, 0.5), p99: percentile(values, 0.99), p999: percentile(values, 0.999), max, n: values.length };
}

/**
 * One measured run of the service (`serviceArgs` choose its variant) at a steady rate.
 * @param {{ url: string }} server
 * @param {Child} pub
 * @param {string[]} serviceArgs
 * @param {{ rate: number, seconds: number, symbols: number, warmupSeconds: number, execArgv: string[], label: string, nice?: number }} o
 */
async function measure(server, pub, serviceArgs, o) {
  const { rate, seconds, symbols, warmupSeconds } = o;
  const svc = new Child(CONSUMER, ['--mode', 'service', '--url', server.url, '--queue', '10000', ...serviceArgs], { execArgv: o.execArgv });
  try {
    await svc.next('ready');
    // the diagnostic variant: the service scheduled ahead of the publisher and nats-server on this host's cores
    if (o.nice !== undefined && svc.proc.pid !== undefined) prioritize(svc.proc.pid, o.nice);
    const n = Math.round(rate * seconds);
    svc.send({ type: 'expect', n, recordLatencies: true, markFraction: warmupSeconds / seconds });
    await svc.next('expecting');
    progress(`latency (${o.label}): ${rate} events/s for ${seconds} s over ${symbols} symbols (first ${warmupSeconds} s are warm-up)`);
    pub.send({ type: 'paced', rate, seconds, symbols, warmupSeconds });
    const paced = await pub.next('paced-done', (seconds + 60) * 1000);
    const done = await svc.next('done', 120_000);
    svc.send({ type: 'stop' });
    await svc.next('stopped').catch((err) => progress(`service stop: ${err.message}`));

    const measured = done.latencies.slice(Math.floor(n * (warmupSeconds / seconds)));
    const h = done.service.histogram;
    // ENGINE_THREAD=worker: the values are observed on the engine thread; its buckets from the mark on stand for them
    const worker = done.service.engineThread === 'worker';
    const after = worker ? done.service.histogramAfterMark : bucketCounts(measured, h.bounds);
    return { paced, done, measured: worker ? null : measured, after, h };
  } finally {
    await svc.stop();
  }
}

/** @typedef {Awaited<ReturnType<typeof measure>>} Run */

/**
 * One variant's runs as one result: exact percentiles over every measured
 * message of every run (pooled), each run's own p99 and p99.9 beside them
 * (their spread is the host's), bucket counts and counters summed.
 * @param {Run[]} runs
 */
function combine(runs) {
  const sum = (/** @type {(r: Run) => number} */ f) => runs.reduce((a, r) => a + f(r), 0);
  const { bounds } = runs[0].h;
  const after = bounds.map((_, i) => sum((r) => r.after[i])).concat([sum((r) => r.after[bounds.length])]);
  const whole = runs[0].h.counts.map((/** @type {number} */ _, /** @type {number} */ i) => sum((r) => r.h.counts[i]));
  const exact = runs.every((r) => r.measured !== null) ? stats(runs.flatMap((r) => /** @type {number[]} */ (r.measured))) : null;
  const perRun = runs.map((r) => (r.measured === null ? null : { p99: percentile(r.measured, 0.99), p999: percentile(r.measured, 0.999) }));
  const lags = runs.map((r) => r.paced.publisherLagMs);
  const dropped = /** @type {Record<string, number>} */ ({});
  for (const r of runs) for (const [k, v] of Object.entries(r.done.service.dropped)) dropped[k] = (dropped[k] ?? 0) + v;
  const droppedTrades = Object.entries(dropped)
    .filter(([k]) => k.endsWith(':trade'))
    .reduce((a, [, v]) => a + v, 0);
  const gc = /** @type {Record<string, { count: number, totalMs: number, maxMs: number }>} */ ({});
  for (const r of runs) {
    for (const [k, v] of Object.entries(r.done.gc ?? {})) {
      const g = (gc[k] ??= { count: 0, totalMs: 0, maxMs: 0 });
      g.count += v.count;
      g.totalMs += v.totalMs;
      g.maxMs = Math.max(g.maxMs, v.maxMs);
    }
  }
  const featureAges = runs.flatMap((r) => r.paced.featureAges);
  return {
    reps: runs.length,
    sent: sum((r) => r.paced.sent),
    achievedRate: median(runs.map((r) => r.paced.rate)),
    publisherLagMs: { p50: median(lags.map((l) => l.p50)), p99: median(lags.map((l) => l.p99)), max: Math.max(...lags.map((l) => l.max)) },
    processing: {
      exact,
      perRun,
      // what the service's own buckets give over the same messages (as a rate() window after warm-up would)
      histogram: { p50: histogramQuantile(0.5, bounds, after), p99: histogramQuantile(0.99, bounds, after), p999: histogramQuantile(0.999, bounds, after), count: after.reduce((a, b) => a + b, 0) },
      histogramWholeRun: { p50: histogramQuantile(0.5, bounds, whole), p99: histogramQuantile(0.99, bounds, whole), p999: histogramQuantile(0.999, bounds, whole), count: sum((r) => r.h.count) },
    },
    featureAge: stats(featureAges),
    featuresReceived: featureAges.length,
    service: {
      cpuPercent: sum((r) => r.done.cpuPercent) / runs.length,
      rss: Math.max(...runs.map((r) => r.done.rss)),
      processed: sum((r) => r.done.service.processed),
      processedInline: sum((r) => r.done.service.processedInline ?? 0),
      tradesPublished: sum((r) => r.paced.byType.trade),
      tradesProcessed: sum((r) => r.done.service.inByType.trade ?? 0) - droppedTrades,
      dropped,
      queueMax: Math.max(...runs.map((r) => r.done.service.queueMax)),
      complete: runs.every((r) => r.done.complete),
      gcWhileMeasuring: gc,
    },
  };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const quick = args.quick === true;
  const rate = Number(args.rate ?? 20_000);
  const seconds = Number(args.seconds ?? (quick ? 6 : 12));
  const symbols = Number(args.symbols ?? 8);
  const warmupSeconds = 2;
  const reps = Number(args.reps ?? (quick ? 1 : 3));
  const execArgv = typeof args['service-node-args'] === 'string' ? args['service-node-args'].split(' ') : [];

  const server = await BenchNatsServer.start();
  const pub = new Child(PUBLISHER);
  try {
    pub.send({ type: 'connect', url: server.url });
    await pub.next('connected');
    const o = { rate, seconds, symbols, warmupSeconds, execArgv };
    // the service as it runs (inline processing when nothing is queued); the reference, every message
    // waiting for a drain turn (setImmediate) as before inline processing; the engine on its own thread
    // (ENGINE_THREAD=worker); and, as a diagnostic, the service scheduled ahead of the publisher and
    // nats-server that share this host's cores. Each rep runs every variant in turn, so a drift of the
    // host's speed reaches them alike.
    const canRaise = raisePriorityAllowed();
    /** @type {Record<string, { args: string[], label: string, nice?: number, runs: Run[] }>} */
    const variants = {
      service: { args: [], label: 'service', runs: [] },
      queued: { args: ['--queued'], label: 'always queued', runs: [] },
      ...(canRaise ? { prioritized: { args: [], label: `service at nice ${PRIORITIZED_NICE}`, nice: PRIORITIZED_NICE, runs: [] } } : {}),
      ...(args['no-worker'] === true ? {} : { worker: { args: ['--engine-thread', 'worker'], label: 'ENGINE_THREAD=worker', runs: [] } }),
    };
    for (let rep = 0; rep < reps; rep++) {
      for (const v of Object.values(variants)) {
        v.runs.push(await measure(server, pub, v.args, { ...o, label: `${v.label}, rep ${rep + 1}/${reps}`, nice: v.nice }));
      }
    }
    const result = Object.fromEntries(Object.entries(variants).map(([k, v]) => [k, combine(v.runs)]));
    emitResult(args, {
      rate,
      seconds,
      symbols,
      warmupSeconds,
      ...result.service,
      queued: result.queued,
      prioritized: result.prioritized ?? null,
      prioritizedNice: canRaise ? PRIORITIZED_NICE : null,
      worker: result.worker ?? null,
    });
  } finally {
    pub.send({ type: 'close' });
    await pub.next('closed', 10_000).catch(() => undefined);
    await pub.stop();
    await server.stop();
  }
}

await main();
