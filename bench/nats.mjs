/**
 * End-to-end throughput over NATS, each figure beside its ceiling in the same run:
 *
 *   core NATS:  a publisher child sends N pre-encoded events as fast as nats.js
 *               allows; the real service (queue large enough to hold the burst)
 *               against a bare nats.js callback subscriber that only counts.
 *   JetStream:  the publisher fills a stream with N events; the service's
 *               JetStream consumer against a bare consume({callback}) that
 *               acks each message, both draining the same stored messages.
 *   backpressure: one core run with the default QUEUE_MAX_SIZE (10000), to
 *               show what is dropped (never a trade).
 *   engine thread: the service with ENGINE_THREAD=worker (decode and engine on a
 *               worker thread behind a shared ring) in the same runs, beside the
 *               single-thread service, core and JetStream, and once under backpressure;
 *               --no-worker leaves it out.
 *
 *   node bench/nats.mjs [--events 300000] [--symbols 8] [--reps 3] [--quick] [--no-jetstream] [--no-worker] [--profile DIR]
 *
 * Rates are measured inside the consumer from the 10 % mark to the last
 * message. Bare and service runs alternate, so drift on a shared machine hits
 * both.
 */
import { Child } from './lib/child.mjs';
import { emitResult, median, parseArgs, progress } from './lib/common.mjs';
import { BenchNatsServer } from './lib/nats-server.mjs';

const CONSUMER = new URL('./nats-consumer.mjs', import.meta.url).pathname;
const PUBLISHER = new URL('./nats-publisher.mjs', import.meta.url).pathname;
const BIG_QUEUE = 10_000_000;
const DEFAULT_QUEUE = 10_000;

/** `--profile DIR`: the service children write CPU profiles there (`node --cpu-prof`). */
let profileDir = null;

/** A measured variant: `service-worker` is the service with ENGINE_THREAD=worker. */
function modeArgs(mode) {
  return mode === 'service-worker' ? ['--mode', 'service', '--engine-thread', 'worker'] : ['--mode', mode];
}

const isService = (mode) => mode === 'service' || mode === 'service-worker';

async function consumer(mode, url, extra = []) {
  const execArgv = profileDir !== null && isService(mode) ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
  const c = new Child(CONSUMER, [...modeArgs(mode), '--url', url, ...extra], { execArgv });
  await c.next('ready');
  return c;
}

async function finish(c) {
  c.send({ type: 'stop' });
  await c.next('stopped').catch(() => undefined);
  await c.stop();
}

/** One core-NATS run: consumer subscribed, publisher bursts N events. */
async function coreRun(server, pub, mode, n, queue) {
  const before = (await server.varz()).slow_consumers ?? 0;
  const c = await consumer(mode, server.url, isService(mode) ? ['--queue', String(queue)] : []);
  c.send({ type: 'expect', n });
  await c.next('expecting');
  pub.send({ type: 'publish' });
  const published = await pub.next('published');
  const done = await c.next('done', 300_000);
  await finish(c);
  const slow = ((await server.varz()).slow_consumers ?? 0) - before;
  return { mode, published, done, slowConsumers: slow };
}

/** One JetStream run over an already filled stream and a durable of its own. */
async function jsRun(server, mode, n, durable, stream, queue) {
  const extra = ['--stream', stream, '--durable', durable, '--queue', String(queue)];
  const c = await consumer(mode, server.url, isService(mode) ? [...extra, '--jetstream'] : extra);
  c.send({ type: 'expect', n });
  await c.next('expecting');
  const done = await c.next('done', 300_000);
  await finish(c);
  return { mode, done };
}

function summary(r) {
  const d = r.done;
  const s = d.service;
  const out = { rate: d.rate, complete: d.complete, count: d.count, cpuPercent: d.cpuPercent, rss: d.rss };
  if (r.published !== undefined) out.publisherRate = r.published.rate;
  if (r.slowConsumers !== undefined) out.slowConsumers = r.slowConsumers;
  if (s !== undefined) {
    const droppedTrades = Object.entries(s.dropped)
      .filter(([k]) => k.endsWith(':trade'))
      .reduce((a, [, v]) => a + v, 0);
    out.tradesIn = s.inByType.trade ?? 0;
    out.tradesProcessed = (s.inByType.trade ?? 0) - droppedTrades;
    out.droppedByReason = s.dropped;
    out.queueMax = s.queueMax;
    out.featuresPublished = s.featuresPublished;
  }
  return out;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const quick = args.quick === true;
  const n = Number(args.events ?? (quick ? 150_000 : 300_000));
  const symbols = Number(args.symbols ?? 8);
  const reps = Number(args.reps ?? (quick ? 1 : 3));
  const skipJs = args['no-jetstream'] === true;
  const withWorker = args['no-worker'] !== true;
  /** Rotated per repetition, so drift on a shared machine hits every variant. */
  const rotate = (modes, r) => modes.map((_, i) => modes[(i + r) % modes.length]);
  if (typeof args.profile === 'string') profileDir = args.profile;

  const server = await BenchNatsServer.start();
  const pub = new Child(PUBLISHER);
  try {
    pub.send({ type: 'connect', url: server.url });
    await pub.next('connected');
    pub.send({ type: 'generate', symbols, rate: 20_000, events: n });
    const gen = await pub.next('generated', 300_000);
    progress(`nats: ${gen.events} events pre-encoded (${gen.byType.trade} trades, ${(gen.bytes / gen.events).toFixed(0)} B each) in ${(gen.ms / 1000).toFixed(1)} s`);

    /** @type {{ bare: Record<string, unknown>[], service: Record<string, unknown>[], worker: Record<string, unknown>[] }} */
    const core = { bare: [], service: [], worker: [] };
    const coreModes = withWorker ? ['bare-core', 'service', 'service-worker'] : ['bare-core', 'service'];
    for (let r = 0; r < reps; r++) {
      const order = withWorker ? rotate(coreModes, r) : r % 2 === 0 ? ['bare-core', 'service'] : ['service', 'bare-core'];
      for (const mode of order) {
        const res = await coreRun(server, pub, mode, n, BIG_QUEUE);
        const s = summary(res);
        (mode === 'service' ? core.service : mode === 'service-worker' ? core.worker : core.bare).push({ ...s, tradesPublished: res.published.byType.trade });
        progress(`nats core ${mode}: ${Math.round(s.rate).toLocaleString('en-US')} events/s (publisher ${Math.round(s.publisherRate).toLocaleString('en-US')}/s)${s.complete ? '' : ' INCOMPLETE'}`);
      }
    }
    progress('nats core service with the default queue (10000): backpressure');
    const bp = await coreRun(server, pub, 'service', n, DEFAULT_QUEUE);
    const backpressure = { ...summary(bp), tradesPublished: bp.published.byType.trade, published: bp.published.sent };
    let backpressureWorker = null;
    if (withWorker) {
      progress('nats core service, ENGINE_THREAD=worker, with the default queue (10000): backpressure');
      const bpw = await coreRun(server, pub, 'service-worker', n, DEFAULT_QUEUE);
      backpressureWorker = { ...summary(bpw), tradesPublished: bpw.published.byType.trade, published: bpw.published.sent };
    }

    /** @type {{ bare: Record<string, unknown>[], service: Record<string, unknown>[], worker: Record<string, unknown>[] }} */
    const js = { bare: [], service: [], worker: [] };
    if (!skipJs) {
      const jsModes = withWorker ? ['bare-js', 'service', 'service-worker'] : ['bare-js', 'service'];
      for (let r = 0; r < reps; r++) {
        const stream = 'MD_EVENTS';
        pub.send({ type: 'setup-js', stream, durables: ['bench-bare', 'bench-service', 'bench-worker'], maxAckPending: DEFAULT_QUEUE });
        await pub.next('js-ready');
        pub.send({ type: 'publish', stream });
        const filled = await pub.next('published', 300_000);
        progress(`nats jetstream: stream filled with ${filled.stored} messages (${Math.round(filled.rate).toLocaleString('en-US')}/s)`);
        const order = withWorker ? rotate(jsModes, r) : r % 2 === 0 ? ['bare-js', 'service'] : ['service', 'bare-js'];
        for (const mode of order) {
          const durable = mode === 'service' ? 'bench-service' : mode === 'service-worker' ? 'bench-worker' : 'bench-bare';
          const res = await jsRun(server, mode, n, durable, stream, DEFAULT_QUEUE);
          const s = summary(res);
          (mode === 'service' ? js.service : mode === 'service-worker' ? js.worker : js.bare).push({ ...s, tradesPublished: filled.byType.trade, stored: filled.stored });
          progress(`nats jetstream ${mode}: ${Math.round(s.rate).toLocaleString('en-US')} events/s${s.complete ? '' : ' INCOMPLETE'}`);
        }
      }
    }
    const med = (xs) => (xs.length === 0 ? NaN : median(xs.map((x) => x.rate)));
    emitResult(args, {
      events: n,
      symbols,
      reps,
      generated: gen,
      core: { ...core, bareMedian: med(core.bare), serviceMedian: med(core.service), ratio: med(core.service) / med(core.bare), workerMedian: med(core.worker), workerRatio: med(core.worker) / med(core.bare) },
      backpressure,
      backpressureWorker,
      jetstream: skipJs
        ? null
        : { ...js, bareMedian: med(js.bare), serviceMedian: med(js.service), ratio: med(js.service) / med(js.bare), workerMedian: med(js.worker), workerRatio: med(js.worker) / med(js.bare) },
    });
  } finally {
    pub.send({ type: 'close' });
    await pub.next('closed', 10_000).catch(() => undefined);
    await pub.stop();
    await server.stop();
  }
}

await main();
