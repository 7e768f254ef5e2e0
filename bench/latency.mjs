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
 *   node bench/latency.mjs [--rate 20000] [--seconds 12] [--symbols 8] [--quick] [--no-worker] [--service-node-args="--trace-gc"]
 *
 * Three services in turn: as it runs (inline processing), always queued (the
 * reference), and ENGINE_THREAD=worker (its latencies are observed on the
 * engine thread, so its percentiles come from the histogram's buckets; the
 * report compares it with the single-thread service's bucket figures).
 */
import { Child } from './lib/child.mjs';
import { emitResult, parseArgs, percentile, progress } from './lib/common.mjs';
import { BenchNatsServer } from './lib/nats-server.mjs';

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
 * @param {{ rate: number, seconds: number, symbols: number, warmupSeconds: number, execArgv: string[], label: string }} o
 */
async function measure(server, pub, serviceArgs, o) {
  const { rate, seconds, symbols, warmupSeconds } = o;
  const svc = new Child(CONSUMER, ['--mode', 'service', '--url', server.url, '--queue', '10000', ...serviceArgs], { execArgv: o.execArgv });
  try {
    await svc.next('ready');
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
    const s = done.service;
    const droppedTrades = Object.entries(s.dropped)
      .filter(([k]) => k.endsWith(':trade'))
      .reduce((a, [, v]) => a + v, 0);
    return {
      sent: paced.sent,
      achievedRate: paced.rate,
      publisherLagMs: paced.publisherLagMs,
      processing: {
        exact: worker ? null : stats(measured),
        // what the service's own buckets give over the same messages (as a rate() window after warm-up would)
        histogram: { p50: histogramQuantile(0.5, h.bounds, after), p99: histogramQuantile(0.99, h.bounds, after), p999: histogramQuantile(0.999, h.bounds, after), count: after.reduce((a, b) => a + b, 0) },
        histogramWholeRun: { p50: histogramQuantile(0.5, h.bounds, h.counts), p99: histogramQuantile(0.99, h.bounds, h.counts), p999: histogramQuantile(0.999, h.bounds, h.counts), count: h.count },
      },
      featureAge: stats(paced.featureAges),
      featuresReceived: paced.featureAges.length,
      service: {
        cpuPercent: done.cpuPercent,
        rss: done.rss,
        processed: s.processed,
        processedInline: s.processedInline,
        tradesPublished: paced.byType.trade,
        tradesProcessed: (s.inByType.trade ?? 0) - droppedTrades,
        dropped: s.dropped,
        queueMax: s.queueMax,
        complete: done.complete,
        gcWhileMeasuring: done.gc,
      },
    };
  } finally {
    await svc.stop();
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const quick = args.quick === true;
  const rate = Number(args.rate ?? 20_000);
  const seconds = Number(args.seconds ?? (quick ? 6 : 12));
  const symbols = Number(args.symbols ?? 8);
  const warmupSeconds = 2;
  const execArgv = typeof args['service-node-args'] === 'string' ? args['service-node-args'].split(' ') : [];

  const server = await BenchNatsServer.start();
  const pub = new Child(PUBLISHER);
  try {
    pub.send({ type: 'connect', url: server.url });
    await pub.next('connected');
    const o = { rate, seconds, symbols, warmupSeconds, execArgv };
    // the service as it runs (inline processing when nothing is queued), then the reference in the same
    // run: every message waiting for a drain turn (setImmediate), as before inline processing
    const service = await measure(server, pub, [], { ...o, label: 'service' });
    const queued = await measure(server, pub, ['--queued'], { ...o, label: 'always queued' });
    // and the engine on its own thread (ENGINE_THREAD=worker), same publisher, same run
    const worker = args['no-worker'] === true ? null : await measure(server, pub, ['--engine-thread', 'worker'], { ...o, label: 'ENGINE_THREAD=worker' });
    emitResult(args, { rate, seconds, symbols, warmupSeconds, ...service, queued, worker });
  } finally {
    pub.send({ type: 'close' });
    await pub.next('closed', 10_000).catch(() => undefined);
    await pub.stop();
    await server.stop();
  }
}

await main();
