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
 *
 *   node bench/nats.mjs [--events 300000] [--symbols 8] [--reps 3] [--quick] [--no-jetstream] [--profile DIR]
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

async function consumer(mode, url, extra = []) {
  const execArgv = profileDir !== null && mode === 'service' ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
  const c = new Child(CONSUMER, ['--mode', mode, '--url', url, ...extra], { execArgv });
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
  const c = await consumer(mode, server.url, mode === 'service' ? ['--queue', String(queue)] : []);
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
  const c = await consumer(mode, server.url, mode === 'service' ? [...extra, '--jetstream'] : extra);
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
  if (typeof args.profile === 'string') profileDir = args.profile;

  const server = await BenchNatsServer.start();
  const pub = new Child(PUBLISHER);
  try {
    pub.send({ type: 'connect', url: server.url });
    await pub.next('connected');
    pub.send({ type: 'generate', symbols, rate: 20_000, events: n });
    const gen = await pub.next('generated', 300_000);
    progress(`nats: ${gen.events} events pre-encoded (${gen.byType.trade} trades, ${(gen.bytes / gen.events).toFixed(0)} B each) in ${(gen.ms / 1000).toFixed(1)} s`);

    /** @type {{ bare: Record<string, unknown>[], service: Record<string, unknown>[] }} */
    const core = { bare: [], service: [] };
    for (let r = 0; r < reps; r++) {
      const order = r % 2 === 0 ? ['bare-core', 'service'] : ['service', 'bare-core'];
      for (const mode of order) {
        const res = await coreRun(server, pub, mode, n, BIG_QUEUE);
        const s = summary(res);
        (mode === 'service' ? core.service : core.bare).push({ ...s, tradesPublished: res.published.byType.trade });
        progress(`nats core ${mode}: ${Math.round(s.rate).toLocaleString('en-US')} events/s (publisher ${Math.round(s.publisherRate).toLocaleString('en-US')}/s)${s.complete ? '' : ' INCOMPLETE'}`);
      }
    }
    progress('nats core service with the default queue (10000): backpressure');
    const bp = await coreRun(server, pub, 'service', n, DEFAULT_QUEUE);
    const backpressure = { ...summary(bp), tradesPublished: bp.published.byType.trade, published: bp.published.sent };

    /** @type {{ bare: Record<string, unknown>[], service: Record<string, unknown>[] }} */
    const js = { bare: [], service: [] };
    if (!skipJs) {
      for (let r = 0; r < reps; r++) {
        const stream = 'MD_EVENTS';
        pub.send({ type: 'setup-js', stream, durables: ['bench-bare', 'bench-service'], maxAckPending: DEFAULT_QUEUE });
        await pub.next('js-ready');
        pub.send({ type: 'publish', stream });
        const filled = await pub.next('published', 300_000);
        progress(`nats jetstream: stream filled with ${filled.stored} messages (${Math.round(filled.rate).toLocaleString('en-US')}/s)`);
        const order = r % 2 === 0 ? ['bare-js', 'service'] : ['service', 'bare-js'];
        for (const mode of order) {
          const res = await jsRun(server, mode, n, mode === 'service' ? 'bench-service' : 'bench-bare', stream, DEFAULT_QUEUE);
          const s = summary(res);
          (mode === 'service' ? js.service : js.bare).push({ ...s, tradesPublished: filled.byType.trade, stored: filled.stored });
          progress(`nats jetstream ${mode}: ${Math.round(s.rate).toLocaleString('en-US')} events/s${s.complete ? '' : ' INCOMPLETE'}`);
        }
      }
    }
    const med = (xs) => median(xs.map((x) => x.rate));
    emitResult(args, {
      events: n,
      symbols,
      reps,
      generated: gen,
      core: { ...core, bareMedian: med(core.bare), serviceMedian: med(core.service), ratio: med(core.service) / med(core.bare) },
      backpressure,
      jetstream: skipJs ? null : { ...js, bareMedian: med(js.bare), serviceMedian: med(js.service), ratio: med(js.service) / med(js.bare) },
    });
  } finally {
    pub.send({ type: 'close' });
    await pub.next('closed', 10_000).catch(() => undefined);
    await pub.stop();
    await server.stop();
  }
}

await main();
