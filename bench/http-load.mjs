/**
 * HTTP under load (SPEC §7: HTTP never slows the feed). The service (core NATS,
 * default queue, dashboard attached) processes `--rate` events/s from the
 * paced bench publisher for `--seconds`, twice, side by side:
 *
 *   unloaded  nothing on HTTP but a Prometheus-like probe: GET /metrics once a second;
 *   loaded    the same probe, plus `--streams` dashboard streams (half read everything and
 *             reconnect like the page, half send their request and never read a byte), plus
 *             two closed-loop load generators of `--connections` connections each, one on
 *             /metrics and one on /features/latest (wrk -t1 from Debian; installed with
 *             apt-get when missing and allowed, else a Node generator).
 *
 * Everything listens on and connects to 127.0.0.1. Per run: drops, processing
 * latency (exact, every message after the warm-up, as bench/latency.mjs), the
 * service's CPU and RSS, the probe's /metrics latency, the load generators'
 * throughput and latency, and the HTTP layer's own counters (/stats `http`).
 * Target: no drop the unloaded run did not have, and a p99 within
 * max(2 × the unloaded p99, 2 ms).
 *
 *   node bench/http-load.mjs [--rate 20000] [--seconds 20] [--symbols 8] [--streams 300] [--connections 50] [--reps 2] [--quick] [--no-wrk]
 *                            [--service-node-args="--cpu-prof --cpu-prof-dir=DIR"]   (the loaded run's service)
 */
/* global fetch, AbortSignal */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Child } from './lib/child.mjs';
import { emitResult, median, parseArgs, percentile, progress } from './lib/common.mjs';
import { BenchNatsServer } from './lib/nats-server.mjs';
import { simulatorSymbols } from '../dist/sim/market-simulator.js';

const CONSUMER = new URL('./nats-consumer.mjs', import.meta.url).pathname;
const PUBLISHER = new URL('./nats-publisher.mjs', import.meta.url).pathname;
const CLIENTS = new URL('./http-clients.mjs', import.meta.url).pathname;
const WARMUP_SECONDS = 2;

/** wrk on PATH or in /usr/bin; when missing and we are root with apt-get, installs Debian's package once. */
function findWrk() {
  const which = () => {
    const r = spawnSync('sh', ['-c', 'command -v wrk'], { encoding: 'utf8' });
    return r.status === 0 ? r.stdout.trim() : existsSync('/usr/bin/wrk') ? '/usr/bin/wrk' : null;
  };
  let wrk = which();
  if (wrk !== null) return wrk;
  if (typeof process.getuid === 'function' && process.getuid() === 0 && existsSync('/usr/bin/apt-get')) {
    progress('http: wrk is missing; apt-get install -y wrk');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    if (spawnSync('apt-get', ['install', '-y', '-qq', 'wrk'], { stdio: 'ignore', env }).status !== 0) {
      spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env });
      spawnSync('apt-get', ['install', '-y', '-qq', 'wrk'], { stdio: 'ignore', env });
    }
    wrk = which();
  }
  return wrk;
}

/** wrk's "1.23ms" / "456.78us" / "1.02s" / "1.50m" in ms. */
function wrkMs(text) {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text);
  if (m === null) return NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 'ms' ? v : m[2] === 's' ? v * 1000 : v * 60_000;
}

function parseWrk(out) {
  const num = (re) => {
    const m = re.exec(out);
    return m === null ? 0 : Number(m[1]);
  };
  const pct = (p) => {
    const m = new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(out);
    return m === null ? NaN : wrkMs(m[1]);
  };
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    requests: num(/(\d+) requests in /),
    rate: num(/Requests\/sec:\s+([\d.]+)/),
    p50: pct(50),
    p99: pct(99),
    non2xx: num(/Non-2xx or 3xx responses: (\d+)/),
    errors: errors === null ? 0 : errors.slice(1).reduce((a, x) => a + Number(x), 0),
    timeouts: errors === null ? 0 : Number(errors[4]),
  };
}

/** A closed-loop load on one path for `seconds`: wrk when there is one, else the Node generator. */
function startLoad(wrk, port, path, connections, seconds) {
  const url = `http://127.0.0.1:${port}${path}`;
  if (wrk !== null) {
    const p = spawn(wrk, ['-t1', `-c${connections}`, `-d${Math.ceil(seconds)}s`, '--timeout', '10s', '--latency', url], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    return new Promise((resolve) => p.once('exit', () => resolve({ tool: 'wrk', path, connections, ...parseWrk(out) })));
  }
  const c = new Child(CLIENTS);
  return c
    .next('ready')
    .then(() => {
      c.send({ type: 'load', port, path, connections, seconds });
      return c.next('load-done', (seconds + 60) * 1000);
    })
    .then(async (r) => {
      c.send({ type: 'stop' });
      await c.next('stopped').catch(() => undefined);
      await c.stop();
      /** @type {Record<string, unknown>} */
      const rest = { ...r };
      delete rest.type;
      return { tool: 'node', path, connections, ...rest };
    });
}

/** GET /metrics once a second, as Prometheus would, timing each answer. */
function startProbe(port) {
  const latencies = [];
  let failures = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const t0 = performance.now();
      try {
        const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(10_000) });
        await res.text();
        if (res.status === 200) latencies.push(performance.now() - t0);
        else failures++;
      } catch {
        failures++;
      }
      const wait = 1000 - (performance.now() - t0);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  })();
  return async () => {
    stopped = true;
    await loop;
    return { scrapes: latencies.length, failures, p50: percentile(latencies, 0.5), max: latencies.reduce((a, b) => Math.max(a, b), 0) };
  };
}

/** /stats `http` (empty for a build that has none, when comparing with an older one). */
async function httpStats(port) {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/stats`, { signal: AbortSignal.timeout(10_000) });
    return (/** @type {{ http?: Record<string, number> }} */ (await res.json())).http ?? {};
  } catch {
    return {};
  }
}

function latencyStats(values) {
  return { p50: percentile(values, 0.5), p99: percentile(values, 0.99), p999: percentile(values, 0.999), max: values.reduce((a, b) => Math.max(a, b), -Infinity), n: values.length };
}

async function run(loaded, o, server, pub) {
  const execArgv = loaded && o.serviceNodeArgs !== null ? o.serviceNodeArgs.split(' ') : [];
  const svc = new Child(CONSUMER, ['--mode', 'service', '--url', server.url, '--queue', '10000', '--dashboard'], { execArgv });
  let streams = null;
  try {
    const { port } = await svc.next('ready');
    if (loaded) {
      streams = new Child(CLIENTS);
      await streams.next('ready');
      streams.send({ type: 'streams', port, readers: Math.ceil(o.streams / 2), stalled: Math.floor(o.streams / 2) });
      await streams.next('streams-started');
      // the stream slots fill before the feed starts, as when dashboards are already open
      const deadline = Date.now() + 10_000;
      while (!((await httpStats(port)).stream_clients > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    }
    const n = Math.round(o.rate * o.seconds);
    svc.send({ type: 'expect', n, recordLatencies: true, markFraction: WARMUP_SECONDS / o.seconds });
    await svc.next('expecting');
    pub.send({ type: 'paced', rate: o.rate, seconds: o.seconds, symbols: o.symbols, warmupSeconds: WARMUP_SECONDS });
    // the publisher starts ~1.5 s + encoding after the command; the loads cover the whole sending span
    const loadSeconds = o.seconds + 2 + (n * 0.004) / 1000 + 1;
    const loads = loaded
      ? [
          startLoad(o.wrk, port, '/metrics', o.connections, loadSeconds),
          startLoad(o.wrk, port, `/features/latest?symbol=${o.symbol}`, o.connections, loadSeconds),
        ]
      : [];
    const stopProbe = startProbe(port);
    const paced = await pub.next('paced-done', (o.seconds + 90) * 1000);
    const done = await svc.next('done', 120_000);
    const probe = await stopProbe();
    const http = await httpStats(port);
    const generators = await Promise.all(loads);
    let streamClients = null;
    if (streams !== null) {
      streams.send({ type: 'stop' });
      streamClients = (await streams.next('stopped')).streams;
      await streams.stop();
      streams = null;
    }
    svc.send({ type: 'stop' });
    await svc.next('stopped').catch((err) => progress(`service stop: ${err.message}`));

    const s = done.service;
    const measured = done.latencies.slice(Math.floor(n * (WARMUP_SECONDS / o.seconds)));
    const droppedTrades = Object.entries(s.dropped)
      .filter(([k]) => k.endsWith(':trade'))
      .reduce((a, [, v]) => a + v, 0);
    const dropped = Object.fromEntries(Object.entries(s.dropped).filter(([, v]) => v > 0));
    return {
      loaded,
      sent: paced.sent,
      achievedRate: paced.rate,
      publisherLagMs: paced.publisherLagMs,
      processing: latencyStats(measured),
      dropped,
      droppedTotal: s.droppedTotal,
      tradesPublished: paced.byType.trade,
      tradesProcessed: (s.inByType.trade ?? 0) - droppedTrades,
      queueMax: s.queueMax,
      complete: done.complete,
      cpuPercent: done.cpuPercent,
      rss: done.rss,
      gc: done.gc,
      loopDelayMs: done.loopDelayMs,
      metricsProbe: probe,
      http,
      generators,
      streamClients,
    };
  } finally {
    if (streams !== null) {
      streams.send({ type: 'stop' });
      await streams.stop(2000);
    }
    await svc.stop();
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const quick = args.quick === true;
  const o = {
    rate: Number(args.rate ?? 20_000),
    seconds: Number(args.seconds ?? (quick ? 8 : 20)),
    symbols: Number(args.symbols ?? 8),
    streams: Number(args.streams ?? 300),
    connections: Number(args.connections ?? 50),
    reps: Number(args.reps ?? (quick ? 1 : 2)),
    wrk: args['no-wrk'] === true ? null : findWrk(),
    /** Node options for the loaded run's service, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof". */
    serviceNodeArgs: typeof args['service-node-args'] === 'string' ? args['service-node-args'] : null,
  };
  o.symbol = simulatorSymbols(String(o.symbols))[0];
  progress(`http: ${o.rate} events/s for ${o.seconds} s; loaded = ${o.streams} streams (half never reading) + 2 × ${o.connections} connections (${o.wrk ?? 'node generator'}) on /metrics and /features/latest?symbol=${o.symbol}`);

  const server = await BenchNatsServer.start();
  const pub = new Child(PUBLISHER);
  const unloaded = [];
  const loaded = [];
  try {
    pub.send({ type: 'connect', url: server.url });
    await pub.next('connected');
    for (let r = 0; r < o.reps; r++) {
      progress(`http: run ${r + 1}/${o.reps}, unloaded`);
      unloaded.push(await run(false, o, server, pub));
      progress(`http: run ${r + 1}/${o.reps}, loaded`);
      loaded.push(await run(true, o, server, pub));
    }
  } finally {
    pub.send({ type: 'close' });
    await pub.next('closed', 10_000).catch(() => undefined);
    await pub.stop();
    await server.stop();
  }
  const p99 = (runs) => median(runs.map((x) => x.processing.p99));
  const base = p99(unloaded);
  const target = Math.max(2 * base, 2);
  const extraDrops = median(loaded.map((x) => x.droppedTotal)) - median(unloaded.map((x) => x.droppedTotal));
  emitResult(args, {
    rate: o.rate,
    seconds: o.seconds,
    symbols: o.symbols,
    streams: o.streams,
    connections: o.connections,
    tool: o.wrk !== null ? 'wrk' : 'node',
    warmupSeconds: WARMUP_SECONDS,
    unloaded,
    loaded,
    verdict: { unloadedP99: base, loadedP99: p99(loaded), p99Target: target, extraDrops, ok: extraDrops <= 0 && p99(loaded) <= target },
  });
}

await main();
