/**
 * The benchmark publisher, a child process of bench/nats.mjs and
 * bench/latency.mjs: generates a simulator stream once, pre-encoded, then on
 * command publishes it as fast as nats.js allows or paced at a fixed rate.
 * In paced runs it also subscribes to senpai.features.> and records how old
 * the newest event in each features message is when it arrives.
 */
/* global setImmediate */
import { AckPolicy, DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { serveParent, toParent } from './lib/child.mjs';
import { SimulatedStream, TYPE_NAMES, encodeMessages } from './lib/stream.mjs';

const NANOS = 1_000_000;
let nc = null;
let chunk = null;

/** Wall clock with sub-millisecond resolution, epoch ms (the same clock in every process). */
function wallNow() {
  return performance.timeOrigin + performance.now();
}

function counts(c) {
  const byType = { trade: 0, quote: 0, book_l2: 0, heartbeat: 0 };
  for (let i = 0; i < c.count; i++) byType[TYPE_NAMES[c.types[i]]]++;
  return byType;
}

/**
 * Publishes everything as fast as nats.js takes it. A flush (PING/PONG) after
 * every batch bounds what sits in the socket buffer; two are kept in flight so
 * the publisher never waits for an idle round trip.
 */
async function publishAll(c) {
  const batch = 4096;
  const t0 = performance.now();
  let inflight = null;
  for (let i = 0; i < c.count; i += batch) {
    const end = Math.min(c.count, i + batch);
    for (let k = i; k < end; k++) nc.publish(c.subjects[k], c.payloads[k]);
    const f = nc.flush();
    if (inflight !== null) await inflight;
    inflight = f;
  }
  if (inflight !== null) await inflight;
  await nc.flush();
  return performance.now() - t0;
}

serveParent(async (m) => {
  switch (m.type) {
    case 'connect': {
      nc = await connect({ servers: m.url, name: 'senpai-bench-publisher' });
      toParent({ type: 'connected' });
      break;
    }
    case 'generate': {
      // a stream entirely in the past, so no event is ever ahead of the receive clock
      const t0 = performance.now();
      const spanMs = (m.events / m.rate) * 1000;
      const stream = new SimulatedStream({ symbols: m.symbols, rate: m.rate, seed: m.seed ?? 3, startMs: Date.now() - spanMs - 5_000 });
      chunk = stream.chunk(m.events);
      toParent({ type: 'generated', events: chunk.count, byType: counts(chunk), bytes: chunk.bytes, ms: performance.now() - t0 });
      break;
    }
    case 'setup-js': {
      // a fresh stream with one durable per consumer to be measured, created before publishing
      const jsm = await jetstreamManager(nc);
      await jsm.streams.delete(m.stream).catch(() => undefined);
      await jsm.streams.add({
        name: m.stream,
        subjects: ['md.events.>'],
        retention: RetentionPolicy.Limits,
        storage: StorageType.File,
        discard: DiscardPolicy.Old,
        max_age: 24 * 60 * 60 * 1000 * NANOS,
      });
      for (const durable of m.durables) {
        await jsm.consumers.add(m.stream, {
          durable_name: durable,
          ack_policy: AckPolicy.Explicit,
          ack_wait: 10_000 * NANOS,
          max_ack_pending: m.maxAckPending,
          deliver_policy: DeliverPolicy.New,
        });
      }
      toParent({ type: 'js-ready' });
      break;
    }
    case 'publish': {
      const ms = await publishAll(chunk);
      let stored = null;
      if (m.stream !== undefined) {
        // JetStream: wait until the server has stored every message
        const jsm = await jetstreamManager(nc);
        const deadline = Date.now() + 120_000;
        for (;;) {
          const info = await jsm.streams.info(m.stream);
          stored = info.state.messages;
          if (stored >= chunk.count || Date.now() > deadline) break;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      toParent({ type: 'published', sent: chunk.count, byType: counts(chunk), ms, rate: chunk.count / (ms / 1000), stored });
      break;
    }
    case 'paced': {
      await paced(m);
      break;
    }
    case 'close': {
      if (nc !== null) await nc.drain().catch(() => undefined);
      toParent({ type: 'closed' });
      setImmediate(() => process.exit(0));
      break;
    }
    default:
      throw new Error(`unknown command ${m.type}`);
  }
});

/**
 * Publishes `rate` events/s for `seconds`, each event's ts_exchange and
 * ts_recv set to its scheduled send time; a 1 ms timer sends what is due.
 */
async function paced(m) {
  const n = Math.round(m.rate * m.seconds);
  const stream = new SimulatedStream({ symbols: m.symbols, rate: m.rate, seed: m.seed ?? 5 });
  const msgs = stream.messages(n);
  const stepMs = 1000 / m.rate;
  const startAt = wallNow() + 1500 + n * 0.004; // after encoding
  for (let i = 0; i < n; i++) {
    const at = Math.round((startAt + i * stepMs) * 1000) / 1000;
    msgs[i].payload.ts_exchange = at;
    msgs[i].payload.ts_recv = at;
  }
  const c = encodeMessages(msgs);
  const schedule = new Float64Array(n);
  for (let i = 0; i < n; i++) schedule[i] = startAt + i * stepMs;

  // features ages, by arrival
  const ages = new Float64Array(Math.ceil(m.seconds * 10 * m.symbols * 1.5) + 1000);
  let nAges = 0;
  let warmUntil = startAt + (m.warmupSeconds ?? 2) * 1000;
  let stopAt = Infinity;
  const sub = nc.subscribe('senpai.features.>', {
    callback: (err, msg) => {
      if (err !== null) return;
      const arrived = wallNow();
      if (arrived < warmUntil || arrived > stopAt || nAges >= ages.length) return;
      const f = msg.json();
      ages[nAges++] = arrived - f.ts;
    },
  });
  await nc.flush();

  while (wallNow() < startAt) await new Promise((r) => setTimeout(r, 1));
  let i = 0;
  const lateness = new Float64Array(n);
  const t0 = performance.now();
  while (i < n) {
    const now = wallNow();
    while (i < n && schedule[i] <= now) {
      nc.publish(c.subjects[i], c.payloads[i]);
      lateness[i] = now - schedule[i];
      i++;
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  const ms = performance.now() - t0;
  await nc.flush();
  stopAt = wallNow() + 300; // the last trailing edges
  await new Promise((r) => setTimeout(r, 400));
  sub.unsubscribe();
  const sortedLate = lateness.slice(Math.round(n * 0.1)).sort();
  const pct = (a, p) => a[Math.max(1, Math.ceil(p * a.length)) - 1];
  toParent({
    type: 'paced-done',
    sent: n,
    byType: counts(c),
    ms,
    rate: n / (ms / 1000),
    publisherLagMs: { p50: pct(sortedLate, 0.5), p99: pct(sortedLate, 0.99), max: sortedLate[sortedLate.length - 1] },
    featureAges: Array.from(ages.subarray(0, nAges)),
  });
  warmUntil = Infinity;
}
