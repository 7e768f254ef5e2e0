/**
 * One measured consumer, a child process of bench/nats.mjs or bench/latency.mjs:
 *
 *   --mode bare-core   a nats.js callback subscription that only counts (the ceiling)
 *   --mode bare-js     a JetStream consume({callback}) that counts and acks each message
 *   --mode service     the real Service (dist/app/service.js), core or JetStream per env;
 *                      --dashboard also serves the dashboard and its /stream (bench/http-load.mjs);
 *                      --engine-thread worker runs it with ENGINE_THREAD=worker (the engine on its own
 *                      thread: latencies are then observed there, so only the histogram's buckets
 *                      are reported, from the 10 % mark on, not each value)
 *
 * It reports when `expect` messages have been consumed: the time from the 10 %
 * mark to the last one (the first 10 % warm the JIT), per-type counts and, for
 * the service, what it processed, dropped, and each message's processing
 * latency (the value observed into senpai_processing_latency_ms).
 */
/* global setImmediate */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { PerformanceObserver, monitorEventLoopDelay } from 'node:perf_hooks';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { pino } from 'pino';
import { loadConfig } from '../dist/config/config.js';
import { attachDashboard } from '../dist/http/dashboard.js';
import { Service } from '../dist/app/service.js';
import { scavengeOnOneThread } from '../dist/app/scavenge.js';
import { serveParent, toParent } from './lib/child.mjs';
import { parseArgs } from './lib/common.mjs';

const args = parseArgs(process.argv.slice(2));
const mode = String(args.mode);
const url = String(args.url);

let expected = Infinity;
let mark = Infinity;
let count = 0;
let tMark = 0;
let tFirst = 0;
let tEnd = 0;
let done = false;
let latencies = null;
let nLat = 0;
let cpuAtMark = null;
let cpuAtEnd = null;
let service = null;
let nc = null;
let messages = null;
let lastProgress = 0;
let lastCount = 0;
let queueMax = 0;
let httpPort = null;
/** GC pauses while measuring (kind → count, total ms, longest ms). */
const gcPauses = {};
let gcObserver = null;
/** Event-loop delay while measuring (set with recordLatencies). */
let loopDelay = null;
const engineThread = args['engine-thread'] === 'worker' ? 'worker' : 'main';
/** The latency histogram's bucket counts at the mark (the buckets after it are what was measured). */
let histogramAtMark = null;

/**
 * BENCH_ALLOC_PROFILE=FILE: V8's sampling heap profiler from the mark to the
 * end, counting objects the young and old collections freed too (what the
 * service allocates per message, not what it keeps); summarise with
 * `node bench/tools/heapprofile-top.mjs FILE`. The single-thread service
 * only (a worker's heap is not sampled); every such child of one bench run
 * writes FILE, the last one's stays. Sampling slows the run: its figures
 * are not the benchmark's.
 */
const allocProfile = mode === 'service' && engineThread === 'main' ? (process.env.BENCH_ALLOC_PROFILE ?? null) : null;
let allocSession = null;

function allocProfileStart() {
  allocSession = new Session();
  allocSession.connect();
  allocSession.post('HeapProfiler.startSampling', { samplingInterval: 512, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
}

/** @param {string} file */
function allocProfileStop(file) {
  const session = allocSession;
  allocSession = null;
  return /** @type {Promise<void>} */ (
    new Promise((resolve) =>
      session.post('HeapProfiler.stopSampling', (err, r) => {
        if (err === null) writeFileSync(file, JSON.stringify({ ...r.profile, messages: count - mark }));
        session.disconnect();
        resolve();
      }),
    )
  );
}

function reached() {
  const now = performance.now();
  if (count >= mark && tMark === 0) {
    tMark = now;
    cpuAtMark = process.cpuUsage();
    if (allocProfile !== null) allocProfileStart();
    loopDelay?.enable();
    if (service !== null) histogramAtMark = Array.from(service.telemetry.processingLatency.counts);
  }
  if (count >= expected && !done) {
    done = true;
    tEnd = now;
    cpuAtEnd = process.cpuUsage(cpuAtMark ?? undefined);
    setImmediate(report);
  }
}

async function metricValues(name) {
  const metric = service.telemetry.registry.getSingleMetric(name);
  const data = await metric.get();
  return data.values;
}

async function report() {
  if (allocSession !== null && allocProfile !== null) await allocProfileStop(allocProfile);
  const out = { type: 'done', mode, count, expected, complete: count >= expected, ms: tEnd - tMark, marked: expected - mark, rss: process.memoryUsage().rss };
  out.rate = tEnd > tMark && tMark > 0 ? (expected - mark) / ((tEnd - tMark) / 1000) : NaN;
  out.cpuPercent = cpuAtEnd === null ? NaN : ((cpuAtEnd.user + cpuAtEnd.system) / 1000 / (tEnd - tMark)) * 100;
  if (service !== null) {
    const t = service.telemetry;
    const byType = {};
    for (const v of await metricValues('senpai_events_in_total')) byType[v.labels.type] = (byType[v.labels.type] ?? 0) + v.value;
    const dropped = {};
    for (const v of await metricValues('senpai_events_dropped_total')) dropped[`${v.labels.reason}:${v.labels.type}`] = v.value;
    out.service = {
      eventsIn: t.eventsInTotal,
      processed: t.eventsProcessedTotal,
      processedInline: service.pipeline.processedInline,
      droppedTotal: t.eventsDroppedTotal,
      inByType: byType,
      dropped,
      featuresPublished: t.featuresPublishedTotal,
      signals: t.signalsEmittedTotal,
      queueMax: queueMax,
      histogram: { bounds: [...t.processingLatency.upperBounds], counts: Array.from(t.processingLatency.counts), count: t.processingLatency.count, sum: t.processingLatency.sum },
      histogramAfterMark: histogramAtMark === null ? null : Array.from(t.processingLatency.counts, (c, i) => c - histogramAtMark[i]),
      engineThread,
    };
    if (latencies !== null) out.latencies = Array.from(latencies.subarray(0, nLat));
    out.gc = gcPauses;
    if (loopDelay !== null) {
      loopDelay.disable();
      out.loopDelayMs = { p50: loopDelay.percentile(50) / 1e6, p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 };
    }
  }
  toParent(out);
}

async function startService() {
  const env = {
    NATS_URL: url,
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: '0',
    LOG_LEVEL: 'silent',
    QUEUE_MAX_SIZE: String(args.queue ?? 10_000),
    USE_JETSTREAM: args.jetstream === true ? 'true' : 'false',
    JETSTREAM_STREAM: String(args.stream ?? 'MD_EVENTS'),
    JETSTREAM_DURABLE: String(args.durable ?? 'senpai-md-consumer'),
    ENGINE_THREAD: engineThread,
  };
  scavengeOnOneThread(); // as `senpai-md run` does
  service = new Service(loadConfig(env), pino({ level: 'silent' }), {
    defaultMetrics: true,
    ...(args.dashboard === true ? { extendHttp: attachDashboard } : {}),
    // --queued: the reference without inline processing (every message waits for a drain turn)
    ...(args.queued === true ? { inline: null } : {}),
  });
  httpPort = await service.listen();
  // the admitting side: the pipeline, or with ENGINE_THREAD=worker the I/O side of the ring
  const pipeline = service.engineThread ?? service.pipeline;
  const queueSize = service.engineThread !== null ? () => service.engineThread.size : () => service.pipeline.queue.size;
  // count what the pipeline has taken in (processed or dropped): every message observed into the
  // latency histogram, plus backpressure drops, which never reach it
  const histogram = service.telemetry.processingLatency;
  const observe = histogram.observe.bind(histogram);
  histogram.observe = (v) => {
    observe(v);
    if (latencies !== null && nLat < latencies.length) latencies[nLat++] = v;
    count = service.telemetry.eventsInTotal;
    if (count >= mark || count >= expected) reached();
  };
  const offer = pipeline.offer.bind(pipeline);
  pipeline.offer = (subject, data, ack) => {
    if (tFirst === 0) tFirst = performance.now();
    offer(subject, data, ack);
    const size = queueSize();
    if (size > queueMax) queueMax = size;
  };
  if (service.engineThread !== null) {
    // the engine thread observes latencies and reports counts in deltas: look after each
    const addDelta = service.telemetry.addDelta.bind(service.telemetry);
    service.telemetry.addDelta = (d) => {
      addDelta(d);
      count = service.telemetry.eventsInTotal;
      if (count >= mark || count >= expected) reached();
    };
  }
  // drops at the tail never reach observe: look now and then
  setInterval(() => {
    if (done) return;
    const c = service.telemetry.eventsInTotal;
    if (c >= expected && queueSize() === 0) {
      count = c;
      reached();
    }
  }, 5).unref();
}

async function startBareCore() {
  nc.subscribe('md.events.>', {
    callback: (err) => {
      if (err !== null) return;
      count++;
      if (count >= mark) reached();
    },
  });
  await nc.flush();
}

async function startBareJetStream() {
  const js = jetstream(nc);
  const consumer = await js.consumers.get(String(args.stream), String(args.durable));
  const batch = Math.max(1, Math.min(Number(args.queue ?? 10_000), 1024)); // as JetStreamSource
  messages = await consumer.consume({
    max_messages: batch,
    callback: (m) => {
      count++;
      m.ack();
      if (count >= mark) reached();
    },
  });
}

// a stalled run (messages lost) reports what arrived instead of waiting forever
setInterval(() => {
  if (done || expected === Infinity) return;
  const c = service !== null ? service.telemetry.eventsInTotal : count;
  if (c !== lastCount) {
    lastCount = c;
    lastProgress = performance.now();
  } else if (lastProgress > 0 && performance.now() - lastProgress > (c === 0 ? 60_000 : Number(args.stallMs ?? 5000))) {
    // (before the first message: the publisher may still be encoding on a busy machine)
    done = true;
    count = c;
    tEnd = lastProgress;
    cpuAtEnd = process.cpuUsage(cpuAtMark ?? undefined);
    report();
  }
}, 100).unref();

serveParent(async (m) => {
  switch (m.type) {
    case 'expect':
      // set the goal, then start consuming (JetStream delivers what is stored at once)
      expected = m.n;
      mark = Math.max(1, Math.floor(m.n * (m.markFraction ?? 0.1)));
      if (m.recordLatencies === true) {
        latencies = new Float64Array(m.n);
        const kinds = { 1: 'minor', 2: 'major', 4: 'incremental', 8: 'weakcb' };
        gcObserver = new PerformanceObserver((list) => {
          if (tMark === 0 || done) return;
          for (const e of list.getEntries()) {
            const kind = /** @type {{ detail?: { kind?: number } }} */ (/** @type {unknown} */ (e)).detail?.kind;
            const k = kinds[kind] ?? String(kind);
            const g = (gcPauses[k] ??= { count: 0, totalMs: 0, maxMs: 0 });
            g.count++;
            g.totalMs += e.duration;
            g.maxMs = Math.max(g.maxMs, e.duration);
          }
        });
        gcObserver.observe({ entryTypes: ['gc'] });
        loopDelay = monitorEventLoopDelay({ resolution: 1 });
      }
      if (mode === 'service') await service.start();
      else if (mode === 'bare-core') await startBareCore();
      else await startBareJetStream();
      lastProgress = performance.now();
      toParent({ type: 'expecting' });
      break;
    case 'stop':
      if (service !== null) await service.stop();
      if (messages !== null) await messages.close().catch(() => undefined);
      if (nc !== null) await nc.drain().catch(() => undefined);
      toParent({ type: 'stopped' });
      setImmediate(() => process.exit(0));
      break;
    default:
      throw new Error(`unknown command ${m.type}`);
  }
});

if (mode === 'service') await startService();
else if (mode === 'bare-core' || mode === 'bare-js') nc = await connect({ servers: url, name: `senpai-bench-${mode}` });
else throw new Error(`unknown --mode ${mode}`);
toParent({ type: 'ready', port: httpPort });
