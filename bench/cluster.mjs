/* global fetch, TextEncoder */
/**
 * Cluster mode (SPEC §12) on a three-node nats-server cluster of the bench's
 * own (free loopback ports, temp stores, the partition mapping with P = 12,
 * the stream replicated 3×; stopped and removed afterwards):
 *
 *   throughput  one stream of N simulated events (200 symbols) filled once, then
 *               drained by the single-process JetStream mode and by 1, 2 and 3
 *               members, each run on durables of its own created before it
 *               starts (deliver all; default lease), in the same run: events fully processed
 *               (acknowledged) per second, and the service processes' CPU per
 *               100k events. On two cores the point is the overhead of cluster
 *               mode, not a speed-up: the three nats-servers and the members
 *               share them.
 *   takeover    with the 3 members drained, `kill -9` of one of them: the time
 *               until its partitions are owned again (`GET /cluster`) and warm
 *               (every survivor's `/health` 200 with the twelve partitions
 *               between them), at a short lease (3 s, a run of its own) and,
 *               without --quick, at the default lease (15 s, the 3-member
 *               throughput run); the warm-up replays the moved
 *               partitions' stored messages, so it also gives the warm-up time
 *               per 100k stored messages.
 *
 *   node bench/cluster.mjs [--events 200000] [--quick]
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { LocalNatsCluster, freePort } from '../dist/cli/local-nats-cluster.js';
import { sleep, terminate } from '../dist/cli/lifecycle.js';
import { DEFAULT_LEASE_MS } from '../dist/cluster/lease-options.js';
import { partitionedSubjectFilter } from '../dist/cluster/partition.js';
import { emitResult, parseArgs, progress } from './lib/common.mjs';
import { natsServerBin } from './lib/nats-server.mjs';
import { SimulatedStream } from './lib/stream.mjs';

const ROOT = new URL('..', import.meta.url).pathname;
const args = parseArgs(process.argv.slice(2));
const quick = args.quick === true;
const events = Number(args.events ?? (quick ? 60_000 : 200_000));
const P = 12;
const SYMBOLS = 200;
const STREAM = 'MD_EVENTS';
const SHORT_LEASE_MS = 3000;
const NANOS = 1_000_000;
/** Clock ticks per second of /proc/PID/stat's utime and stime. */
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/**
 * CPU time (user + system) a process has used, in ms; 0 once it is gone.
 * @param {number} pid
 */
function cpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) / CLK_TCK) * 1000;
  } catch {
    return 0;
  }
}

/**
 * @param {string} url
 * @returns {Promise<{ status: number, body: any }>}
 */
async function getJson(url) {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() };
}

/**
 * A metric's value summed over its series, from a service's /metrics.
 * @param {string} base
 * @param {string} name
 */
async function metric(base, name) {
  const text = await (await fetch(`${base}/metrics`)).text();
  let sum = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) sum += Number(m[1]);
  return sum;
}

/** @typedef {{ id: string, proc: import('node:child_process').ChildProcess, base: string }} ServiceProcess */

/**
 * `senpai-md run` in a child process against the bench's cluster.
 * @param {LocalNatsCluster} cluster
 * @param {string} id
 * @param {Record<string, string>} env
 * @returns {Promise<ServiceProcess>}
 */
async function startService(cluster, id, env) {
  const port = await freePort();
  const proc = spawn(process.execPath, [`${ROOT}bin/senpai-md`, 'run'], {
    env: {
      PATH: process.env.PATH ?? '',
      NATS_URL: cluster.urls.join(','),
      USE_JETSTREAM: 'true',
      JETSTREAM_STREAM: STREAM,
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(port),
      LOG_LEVEL: 'error',
      // every stored message is inside the warm-up range of a takeover
      WARMUP_MARGIN_S: '3600',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return { id, proc, base: `http://127.0.0.1:${port}` };
}

/**
 * Members of one run: their own durables (`{durable}-p{K}`, deliver all, so
 * they drain what is stored) and their own lease bucket.
 * @param {LocalNatsCluster} cluster
 * @param {import('@nats-io/jetstream').JetStreamManager} jsm
 * @param {string} run
 * @param {number} count 0 = the single-process JetStream mode
 * @param {number} leaseMs
 */
async function startRun(cluster, jsm, run, count, leaseMs) {
  const durable = `bench-${run}`;
  const durables = count === 0 ? [durable] : Array.from({ length: P }, (_, k) => `${durable}-p${k}`);
  for (const [k, name] of durables.entries()) {
    await jsm.consumers.add(STREAM, {
      durable_name: name,
      ack_policy: AckPolicy.Explicit,
      ack_wait: 10_000 * NANOS,
      max_ack_pending: 10_000,
      deliver_policy: DeliverPolicy.All,
      ...(count === 0 ? {} : { filter_subject: partitionedSubjectFilter(k) }),
    });
  }
  /** @type {(id: string) => Record<string, string>} */
  const env = (id) => (count === 0 ? { JETSTREAM_DURABLE: durable } : { JETSTREAM_DURABLE: durable, CLUSTER_PARTITIONS: String(P), CLUSTER_LEASE_MS: String(leaseMs), CLUSTER_BUCKET: `bench_${run}`, CLUSTER_MEMBER_ID: id });
  const services = await Promise.all(Array.from({ length: Math.max(1, count) }, (_, i) => startService(cluster, `${run}-m${i + 1}`, env(`${run}-m${i + 1}`))));
  return { run, durables, services, bucket: count === 0 ? null : `bench_${run}` };
}

/**
 * Stops a run's services and removes its durables and bucket.
 * @param {import('@nats-io/jetstream').JetStreamManager} jsm
 * @param {{ durables: string[], services: ServiceProcess[], bucket: string | null }} r
 */
async function endRun(jsm, r) {
  await Promise.all(r.services.map((s) => terminate(s.proc, 10_000))); // SIGKILL after 10 s
  for (const d of r.durables) await jsm.consumers.delete(STREAM, d).catch(() => undefined);
  if (r.bucket !== null) await jsm.streams.delete(`KV_${r.bucket}`).catch(() => undefined);
}

/**
 * Whether the members hold every partition, evenly (⌊P/N⌋ or ⌈P/N⌉ each):
 * hand-overs while members start together are not what is measured.
 * @param {ServiceProcess[]} services
 */
async function balanced(services) {
  const held = await Promise.all(services.map(async (s) => ((await getJson(`${s.base}/health`)).body.partitions ?? []).length));
  return held.reduce((a, n) => a + n, 0) === P && held.every((n) => n >= Math.floor(P / services.length));
}

/**
 * Polls the run's durables until every stored message is acknowledged; the
 * rate and CPU are taken from the 10 % mark, or later once the members hold their
 * shares of the partitions, to the end.
 * @param {import('@nats-io/jetstream').JetStreamManager} jsm
 * @param {{ durables: string[], services: ServiceProcess[] }} r
 * @param {number} total
 */
async function drain(jsm, r, total) {
  const t0 = performance.now();
  const cluster = r.durables.length > 1;
  /** @type {{ t: number, done: number, cpu: number } | null} */
  let mark = null;
  const cpu = () => r.services.reduce((a, s) => a + cpuMs(s.proc.pid ?? 0), 0);
  for (;;) {
    const infos = await Promise.all(r.durables.map((d) => jsm.consumers.info(STREAM, d)));
    const done = total - infos.reduce((a, ci) => a + ci.num_pending + ci.num_ack_pending, 0);
    const now = performance.now();
    if (mark === null && done >= total * 0.1 && (!cluster || (await balanced(r.services)))) mark = { t: now, done, cpu: cpu() };
    if (done >= total && mark === null) throw new Error(`${r.durables[0]}: drained before the members held their shares of the partitions; use more --events`);
    if (done >= total && mark !== null && now > mark.t) {
      const processed = done - mark.done;
      return { rate: processed / ((now - mark.t) / 1000), cpuMsPer100k: ((cpu() - mark.cpu) / processed) * 1e5, seconds: (now - t0) / 1000 };
    }
    if (now - t0 > 300_000) throw new Error(`${r.durables[0]}: ${done} of ${total} acknowledged after 300 s`);
    await sleep(250);
  }
}

/**
 * `kill -9` of the last member of a drained 3-member run; measures until its
 * partitions are owned again and every survivor is warm.
 * @param {import('@nats-io/jetstream').JetStreamManager} jsm
 * @param {{ services: ServiceProcess[] }} r
 * @param {number} leaseMs
 */
async function takeover(jsm, r, leaseMs) {
  const victim = r.services[r.services.length - 1];
  const survivors = r.services.slice(0, -1);
  const moved = /** @type {number[]} */ ((await getJson(`${victim.base}/health`)).body.partitions);
  let stored = 0;
  for (const k of moved) {
    const info = await jsm.streams.info(STREAM, { subjects_filter: partitionedSubjectFilter(k) });
    stored += Object.values(info.state.subjects ?? {}).reduce((a, n) => a + n, 0);
  }
  const replayedBefore = (await Promise.all(survivors.map((s) => metric(s.base, 'senpai_warmup_messages_total')))).reduce((a, n) => a + n, 0);
  const ids = new Set(survivors.map((s) => s.id));
  const killedAt = performance.now();
  victim.proc.kill('SIGKILL');
  let ownedAt = 0;
  for (;;) {
    const now = performance.now();
    if (now - killedAt > leaseMs * 3 + 60_000) throw new Error(`takeover not complete after ${Math.round(now - killedAt)} ms`);
    if (ownedAt === 0) {
      const view = (await getJson(`${survivors[0].base}/cluster`)).body;
      if (view.partitions.every((/** @type {{ owner: string | null }} */ p) => p.owner !== null && ids.has(p.owner))) ownedAt = performance.now();
    }
    if (ownedAt !== 0) {
      const health = await Promise.all(survivors.map((s) => getJson(`${s.base}/health`)));
      const held = health.flatMap((h) => h.body.partitions ?? []);
      if (health.every((h) => h.status === 200) && held.length === P) {
        const warmAt = performance.now();
        const replayed = (await Promise.all(survivors.map((s) => metric(s.base, 'senpai_warmup_messages_total')))).reduce((a, n) => a + n, 0) - replayedBefore;
        const warmupSecondsMetric = Math.max(...(await Promise.all(survivors.map((s) => metric(s.base, 'senpai_warmup_seconds')))));
        return { leaseMs, partitionsMoved: moved.length, storedInMoved: stored, replayed, ownedAfterMs: ownedAt - killedAt, warmAfterMs: warmAt - killedAt, warmupMs: warmAt - ownedAt, warmupSecondsMetric };
      }
    }
    await sleep(25);
  }
}

/**
 * Fills the replicated stream with `n` simulated events (JetStream publishes, 2000 acks in flight).
 * @param {import('@nats-io/transport-node').NatsConnection} nc
 * @param {number} n
 */
async function fill(nc, n) {
  const stream = new SimulatedStream({ symbols: SYMBOLS, rate: 20_000, seed: 12, startMs: Date.now() - (n / 20_000) * 1000 });
  const js = jetstream(nc);
  const enc = new TextEncoder();
  /** @type {Promise<unknown>[]} */
  let inFlight = [];
  for (let i = 0; i < n; i++) {
    const m = stream.next();
    inFlight.push(js.publish(m.subject, enc.encode(JSON.stringify(m.payload))));
    if (inFlight.length >= 2000) {
      await Promise.all(inFlight);
      inFlight = [];
    }
  }
  await Promise.all(inFlight);
}

async function main() {
  const t0 = performance.now();
  const cluster = await LocalNatsCluster.start({ bin: natsServerBin(), partitions: P });
  const nc = await cluster.connect({ name: 'senpai-bench-cluster' });
  try {
    await cluster.waitForJetStream();
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: STREAM, subjects: ['md.events.>'], num_replicas: 3, max_age: 24 * 3600 * 1000 * NANOS });
    const fillStart = performance.now();
    await fill(nc, events);
    const fillSeconds = (performance.now() - fillStart) / 1000;
    const stored = (await jsm.streams.info(STREAM)).state.messages;
    progress(`cluster: ${stored.toLocaleString('en-US')} events of ${SYMBOLS} symbols stored in a 3-replica stream in ${fillSeconds.toFixed(1)} s`);

    const throughput = [];
    /** @type {Record<string, unknown>[]} */
    const takeovers = [];
    // the default lease: members started together register within its settle time (a third), so none hands a
    // partition over at start (a hand-over leaves the messages in flight to the old owner to ack_wait)
    for (const members of [0, 1, 2, 3]) {
      const r = await startRun(cluster, jsm, members === 0 ? 'single' : `c${members}`, members, DEFAULT_LEASE_MS);
      try {
        const d = await drain(jsm, r, stored);
        throughput.push({ members, ...d });
        progress(`cluster: ${members === 0 ? 'single process (JetStream mode)' : `${members} member${members > 1 ? 's' : ''}`}: ${Math.round(d.rate).toLocaleString('en-US')} events/s, ${Math.round(d.cpuMsPer100k)} ms CPU per 100k events`);
        if (members === 3 && !quick) takeovers.push(await takeover(jsm, r, DEFAULT_LEASE_MS));
      } finally {
        await endRun(jsm, r);
      }
    }
    const r = await startRun(cluster, jsm, 'lease3', 3, SHORT_LEASE_MS);
    try {
      await drain(jsm, r, stored);
      takeovers.unshift(await takeover(jsm, r, SHORT_LEASE_MS));
    } finally {
      await endRun(jsm, r);
    }
    for (const t of takeovers) {
      progress(`cluster: kill -9 at lease ${Number(t.leaseMs) / 1000} s: owned again after ${(Number(t.ownedAfterMs) / 1000).toFixed(2)} s, warm after ${(Number(t.warmAfterMs) / 1000).toFixed(2)} s (${Number(t.replayed).toLocaleString('en-US')} messages replayed)`);
    }
    emitResult(args, { events, stored, symbols: SYMBOLS, partitions: P, fillSeconds, throughput, takeovers, seconds: (performance.now() - t0) / 1000 });
  } finally {
    await nc.close().catch(() => undefined);
    await cluster.stop();
  }
}

await main();
