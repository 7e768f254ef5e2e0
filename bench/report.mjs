/**
 * Renders benchmark results (the object run.mjs collects) as a terminal table
 * and as docs/BENCHMARKS.md.
 */
import { loadConfig } from '../dist/config/config.js';
import { fmt, median } from './lib/common.mjs';

const ms = (v, d = 3) => (Number.isFinite(v) ? `${v.toFixed(d)} ms` : 'n/a');
const perS = (v) => `${fmt.int(v)}/s`;
const yes = (ok) => (ok === null ? '—' : ok ? 'met' : 'MISSED');
/**
 * The status column. A setting that must beat the default or stay off (ENGINE_THREAD=worker) has
 * done what its row asks either way: `offByDefault` says which, rather than MISSED.
 * @param {{ok: boolean | null, offByDefault?: boolean}} x
 */
const status = (x) => (x.offByDefault === true && x.ok === false ? 'not better: off by default' : yes(x.ok));
/** Whether the engine thread is off unless asked for (the default of ENGINE_THREAD). */
const workerOffByDefault = loadConfig({}).engineThread === 'main';

/** GC pauses in the service while measuring, e.g. "; GC paused it 28 times, 67 ms in all, at most 9.1 ms". */
function gcNote(gc) {
  if (gc === undefined || gc === null) return '';
  const all = Object.values(gc);
  const count = all.reduce((a, g) => a + g.count, 0);
  if (count === 0) return '';
  const total = all.reduce((a, g) => a + g.totalMs, 0);
  const max = all.reduce((a, g) => Math.max(a, g.maxMs), 0);
  return `; GC paused the service ${count} times, ${fmt.num(total, 0)} ms in all, at most ${fmt.num(max, 1)} ms`;
}

/** A latency variant's runs, e.g. "3 runs pooled, p99 per run 0.21/0.25/0.30 ms, p99.9 0.6/0.8/1.1 ms; " ('' for one run). */
function perRunNote(v) {
  const runs = v.processing.perRun ?? [];
  if (runs.length < 2 || runs.some((r) => r === null)) return '';
  const list = (k, d) => runs.map((r) => r[k].toFixed(d)).join('/');
  return `${runs.length} runs pooled, p99 per run ${list('p99', 3)} ms, p99.9 ${list('p999', 2)} ms; `;
}

/** The rows of the summary table: figure, reference measured beside it, target, verdict, command. */
export function rows(results) {
  const out = [];
  const s = results.sections;
  const e = s.engine;
  if (e !== undefined) {
    for (const st of e.streams) {
      const cmd = `node --expose-gc bench/engine.mjs --symbols ${st.symbols} --brute-rates 0`;
      out.push({
        group: 'engine',
        what: `Engine, compute mode (features every event), ${st.symbols} symbols, ${fmt.int(st.rate)} events/s of event time`,
        value: perS(st.compute.median),
        reference: `${fmt.int(1e9 / st.compute.median)} ns/event; ${fmt.int(st.tradesInWindow)} trades in the 60 s windows`,
        target: st.symbols === 8 ? '≥ 700,000/s on one core (stretch 1,000,000)' : '—',
        ok: st.symbols === 8 ? st.compute.median >= 700_000 : null,
        cmd,
      });
      out.push({
        group: 'engine',
        what: `Engine, live mode (features ≤ 10 Hz per symbol), ${st.symbols} symbols`,
        value: perS(st.live.median),
        reference: `${fmt.int(1e9 / st.live.median)} ns/event; ${fmt.num(st.liveFeaturesPerEvent * 100, 2)} features per 100 events`,
        target: st.symbols === 8 ? '≥ 700,000/s on one core' : '—',
        ok: st.symbols === 8 ? st.live.median >= 700_000 : null,
        cmd,
      });
    }
    for (const b of e.brute ?? []) {
      out.push({
        group: 'engine',
        what: `vs brute-force engine, 60 s windows, 8 symbols at ${fmt.int(b.rate)} events/s of event time`,
        value: fmt.ratio(b.ratio.median),
        reference: `engine ${perS(b.compute.median)}, brute force ${perS(b.brute.median)} on the same events; ${fmt.int(b.tradesInWindow)} trades in the windows`,
        target: '≥ 20×',
        ok: b.ratio.median >= 20,
        cmd: `node --expose-gc bench/engine.mjs --symbols 8 --rate ${b.rate} --brute-rates ${b.rate}`,
      });
    }
  }
  const n = s.nats;
  if (n !== undefined) {
    const cmd = 'node bench/nats.mjs';
    const svc = n.core.service;
    out.push({
      group: 'nats',
      what: `End to end, core NATS: service vs bare nats.js subscriber (${n.symbols} symbols, ${fmt.int(n.events)} events burst)`,
      value: `${perS(n.core.serviceMedian)} (${fmt.pct(n.core.ratio)})`,
      reference: `bare subscriber ${perS(n.core.bareMedian)} in the same run; publisher ${perS(median(n.core.bare.map((r) => r.publisherRate)))} during the bare runs`,
      target: '≥ 50 % of the bare subscriber',
      ok: n.core.ratio >= 0.5,
      cmd: `${cmd} --no-jetstream`,
    });
    const pub = svc.reduce((a, r) => a + r.tradesPublished, 0);
    const proc = svc.reduce((a, r) => a + r.tradesProcessed, 0);
    out.push({
      group: 'nats',
      what: 'Core NATS: trades published → processed (all runs, queue large enough)',
      value: `${fmt.int(pub)} → ${fmt.int(proc)}`,
      reference: `${fmt.int(svc.reduce((a, r) => a + r.count, 0))} events taken in, slow-consumer disconnects: ${svc.reduce((a, r) => a + (r.slowConsumers ?? 0), 0)}`,
      target: 'no trade lost',
      ok: pub === proc && svc.every((r) => r.complete),
      cmd: `${cmd} --no-jetstream`,
    });
    if ((n.core.worker ?? []).length > 0) {
      const wk = n.core.worker;
      const wpub = wk.reduce((a, r) => a + r.tradesPublished, 0);
      const wproc = wk.reduce((a, r) => a + r.tradesProcessed, 0);
      out.push({
        group: 'nats',
        what: 'End to end, core NATS, ENGINE_THREAD=worker (engine on its own thread): vs bare subscriber',
        value: `${perS(n.core.workerMedian)} (${fmt.pct(n.core.workerRatio)})`,
        reference: `single-thread service ${perS(n.core.serviceMedian)} (${fmt.pct(n.core.ratio)}) in the same run; CPU ${fmt.num(median(wk.map((r) => r.cpuPercent)), 0)} % vs ${fmt.num(median(svc.map((r) => r.cpuPercent)), 0)} % of a core; trades ${fmt.int(wpub)} → ${fmt.int(wproc)}`,
        target: 'beat the single-thread service, else stay off by default',
        ok: n.core.workerMedian > n.core.serviceMedian && wpub === wproc,
        offByDefault: workerOffByDefault && wpub === wproc,
        cmd: `${cmd} --no-jetstream`,
      });
    }
    /**
     * The backpressure row of one run: trades in and out, the drops (every label set is exported from the start at 0: only those that happened).
     * @param {typeof n.backpressure} bp
     * @param {string} what
     */
    const backpressureRow = (bp, what) => {
      const drops = Object.entries(bp.droppedByReason).filter(([k, v]) => k.startsWith('backpressure:') && v > 0);
      return {
        group: 'nats',
        what,
        value: `trades ${fmt.int(bp.tradesPublished)} → ${fmt.int(bp.tradesProcessed)}`,
        reference: `dropped: ${drops.map(([k, v]) => `${k.split(':')[1]} ${fmt.int(v)}`).join(', ') || 'none'}; queue peak ${fmt.int(bp.queueMax)}; ${perS(bp.rate)}`,
        target: 'trades never dropped',
        ok: bp.tradesPublished === bp.tradesProcessed && !drops.some(([k]) => k.endsWith(':trade')),
        cmd: `${cmd} --no-jetstream`,
      };
    };
    out.push(backpressureRow(n.backpressure, 'Core NATS, default queue (10000), same burst: backpressure'));
    const bw = n.backpressureWorker;
    if (bw !== undefined && bw !== null) out.push(backpressureRow(bw, 'Core NATS, default queue, ENGINE_THREAD=worker: backpressure (queue = ring + waiting)'));
    if (n.jetstream !== null) {
      const j = n.jetstream;
      out.push({
        group: 'nats',
        what: 'End to end, JetStream: service vs bare consume({callback}) + ack',
        value: `${perS(j.serviceMedian)} (${fmt.pct(j.ratio)})`,
        reference: `bare consumer ${perS(j.bareMedian)} in the same run, same stored messages`,
        target: '≥ 64 % of the bare consumer',
        ok: j.ratio >= 0.64,
        cmd,
      });
      const jp = j.service.reduce((a, r) => a + r.tradesPublished, 0);
      const jq = j.service.reduce((a, r) => a + r.tradesProcessed, 0);
      out.push({
        group: 'nats',
        what: 'JetStream: trades published → processed (all runs)',
        value: `${fmt.int(jp)} → ${fmt.int(jq)}`,
        reference: `stored ${fmt.int(j.service.reduce((a, r) => a + r.stored, 0))} messages`,
        target: 'no trade lost',
        ok: jp === jq && j.service.every((r) => r.complete),
        cmd,
      });
      if ((j.worker ?? []).length > 0) {
        const wp = j.worker.reduce((a, r) => a + r.tradesPublished, 0);
        const wq = j.worker.reduce((a, r) => a + r.tradesProcessed, 0);
        out.push({
          group: 'nats',
          what: 'End to end, JetStream, ENGINE_THREAD=worker: vs bare consume({callback}) + ack',
          value: `${perS(j.workerMedian)} (${fmt.pct(j.workerRatio)})`,
          reference: `single-thread service ${perS(j.serviceMedian)} (${fmt.pct(j.ratio)}) in the same run; trades ${fmt.int(wp)} → ${fmt.int(wq)}`,
          target: 'beat the single-thread service, else stay off by default',
          ok: j.workerMedian > j.serviceMedian && wp === wq,
          offByDefault: workerOffByDefault && wp === wq,
          cmd,
        });
      }
    }
  }
  const l = s.latency;
  if (l !== undefined) {
    const cmd = `node bench/latency.mjs --rate ${l.rate} --seconds ${l.seconds}`;
    const x = l.processing.exact;
    const q = l.queued?.processing.exact;
    const inlineShare = l.service.processedInline !== undefined ? `; ${fmt.num((100 * l.service.processedInline) / l.service.processed, 1)} % processed inline` : '';
    out.push({
      group: 'latency',
      what: `senpai_processing_latency_ms at ${fmt.int(l.rate)} events/s (exact, every message after warm-up, from the socket read)`,
      value: `p50 ${ms(x.p50)}, p99 ${ms(x.p99)}, p99.9 ${ms(x.p999)}`,
      reference: `${perRunNote(l)}${q !== undefined ? `always queued (no inline processing), run in turn with it: p50 ${ms(q.p50)}, p99 ${ms(q.p99)}, p99.9 ${ms(q.p999)}; ` : ''}max ${ms(x.max)}; ${fmt.int(x.n)} messages${inlineShare}; publisher achieved ${perS(l.achievedRate)}, its 1 ms timer late by ${ms(l.publisherLagMs.p99, 1)} at p99 (sending bursts)${gcNote(l.service.gcWhileMeasuring)}`,
      target: 'p99 ≤ 0.2 ms, p99.9 ≤ 1 ms',
      ok: x.p99 <= 0.2 && x.p999 <= 1,
      cmd,
    });
    const pr = l.prioritized;
    if (pr !== undefined && pr !== null && pr.processing.exact !== null) {
      const px = pr.processing.exact;
      out.push({
        group: 'latency',
        what: `the same with every thread of the service at nice ${l.prioritizedNice}, ahead of the publisher and nats-server on this host's cores (diagnostic)`,
        value: `p50 ${ms(px.p50)}, p99 ${ms(px.p99)}, p99.9 ${ms(px.p999)}`,
        reference: `${perRunNote(pr)}what the tail owes to the load generator and the server sharing the service's cores; a production host gives the service its own core (docs/SCALING.md)`,
        target: '—',
        ok: null,
        cmd,
      });
    }
    const h = l.processing.histogram;
    out.push({
      group: 'latency',
      what: 'the same from the histogram buckets (linear interpolation)',
      value: `p50 ${ms(h.p50)}, p99 ${ms(h.p99)}, p99.9 ${ms(h.p999)}`,
      reference: 'buckets 5 µs … 5 s',
      target: '—',
      ok: null,
      cmd,
    });
    const wl = l.worker;
    if (wl !== undefined && wl !== null) {
      const wh = wl.processing.histogram;
      out.push({
        group: 'latency',
        what: `the same with ENGINE_THREAD=worker (engine on its own thread; histogram buckets, observed there)`,
        value: `p50 ${ms(wh.p50)}, p99 ${ms(wh.p99)}, p99.9 ${ms(wh.p999)}`,
        reference: `single-thread service's buckets, runs in turn with it: p50 ${ms(h.p50)}, p99 ${ms(h.p99)}, p99.9 ${ms(h.p999)}; CPU ${fmt.num(wl.service.cpuPercent, 0)} % vs ${fmt.num(l.service.cpuPercent, 0)} % of a core; trades ${fmt.int(wl.service.tradesPublished)} → ${fmt.int(wl.service.tradesProcessed)}`,
        target: 'not worse than the single-thread service, else stay off by default',
        ok: wh.p99 <= h.p99 && wh.p999 <= h.p999,
        offByDefault: workerOffByDefault && wl.service.tradesPublished === wl.service.tradesProcessed,
        cmd,
      });
    }
    const a = l.featureAge;
    out.push({
      group: 'latency',
      what: 'Features age on arrival (publisher send → features at a subscriber)',
      value: `p50 ${ms(a.p50, 2)}, p99 ${ms(a.p99, 2)}, p99.9 ${ms(a.p999, 2)}`,
      reference: `${fmt.int(l.featuresReceived)} features; includes the ≤ 100 ms throttle hold of trailing edges`,
      target: '—',
      ok: null,
      cmd,
    });
    out.push({
      group: 'latency',
      what: `Service at ${fmt.int(l.rate)} events/s: CPU and resident memory`,
      value: `${fmt.num(l.service.cpuPercent, 0)} % of a core, RSS ${fmt.mb(l.service.rss)}`,
      reference: `trades ${fmt.int(l.service.tradesPublished)} → ${fmt.int(l.service.tradesProcessed)} processed; queue peak ${fmt.int(l.service.queueMax)}`,
      target: '—',
      ok: null,
      cmd,
    });
  }
  const w = s.warmup;
  if (w !== undefined) {
    const cmd = `node bench/warmup.mjs --rate ${w.rate} --seconds ${w.seconds}`;
    out.push({
      group: 'warmup',
      what: `JetStream warm start: ${w.seconds} s of a ${fmt.int(w.rate)} events/s stream rebuilt into the windows (senpai_warmup_seconds)`,
      value: `${fmt.num(w.warmupSeconds, 2)} s for ${fmt.int(w.replayed)} messages (${perS(w.replayed / w.warmupSeconds)})`,
      reference: `a bare ordered consumer reads them in ${fmt.num(w.bareReadSeconds, 2)} s; /health 200 ${fmt.num(w.toHealthySeconds, 2)} s after start; RSS ${fmt.mb(w.rssAfter)}`,
      target: '—',
      ok: null,
      cmd,
    });
  }
  const h = s.http;
  if (h !== undefined) out.push(...httpRows(h));
  if (s.cluster !== undefined) out.push(...clusterRows(s.cluster));
  const m = s.memory;
  if (m !== undefined) {
    const cmd = 'node --expose-gc bench/memory.mjs';
    out.push({
      group: 'memory',
      what: `Heap per windowed trade, 1000 symbols × 60 s (${fmt.int(m.heap.trades)} trades held)`,
      value: `${fmt.num(m.heap.heapPerTrade, 1)} B (V8 heap)`,
      reference: `heapUsed after full GC, before/after filling; each trade's latency sample included`,
      target: '≤ 64 B',
      ok: m.heap.heapPerTrade <= 64,
      cmd: `${cmd} --no-compute`,
    });
    out.push({
      group: 'memory',
      what: '… including typed-array backing stores (outside the V8 heap)',
      value: `${fmt.num(m.heap.totalPerTrade, 1)} B`,
      reference: `heapUsed + arrayBuffers; RSS ${fmt.mb(m.heap.rss)} (from ${fmt.mb(m.heap.rssBefore)})`,
      target: '≤ 64 B (stricter reading)',
      ok: m.heap.totalPerTrade <= 64,
      cmd: `${cmd} --no-compute`,
    });
    if (m.compute !== null) {
      const c = m.compute;
      out.push({
        group: 'memory',
        what: `senpai-md compute over ${fmt.int(c.lines)} lines: RSS at 10 % / 50 % / 95 % of the run`,
        value: `${fmt.mb(c.rss.at10)} / ${fmt.mb(c.rss.at50)} / ${fmt.mb(c.rss.at95)}`,
        reference: `peak ${fmt.mb(c.rss.max)}; windows full after ${fmt.pct(c.windowFullAt)} of the stream; ${perS(c.linesPerSecond)} lines`,
        target: 'flat once the windows are full',
        ok: c.rss.at95 <= c.rss.at50 * 1.15 && c.exitCode === 0,
        cmd,
      });
    }
  }
  return out;
}

/** The median over a section's runs of one figure. */
const med = (runs, f) => median(runs.map(f));

/** HTTP under load (bench/http-load.mjs): each figure unloaded → loaded, from runs that alternate. */
function httpRows(h) {
  const cmd = `node bench/http-load.mjs --rate ${h.rate} --seconds ${h.seconds}${h.unloaded.length > 1 ? ` --reps ${h.unloaded.length}` : ''}`;
  const u = h.unloaded;
  const l = h.loaded;
  const load = `${fmt.int(h.streams)} /stream clients (half never reading) + ${h.tool} 2 × ${h.connections} connections on /metrics and /features/latest`;
  const drops = (runs) => runs.map((x) => fmt.int(x.droppedTotal)).join(', ');
  const out = [];
  out.push({
    group: 'http',
    what: `HTTP under load, ${fmt.int(h.rate)} events/s: events dropped, unloaded → loaded (${load})`,
    value: `${drops(u)} → ${drops(l)}`,
    reference: `trades ${l.map((x) => `${fmt.int(x.tradesPublished)} → ${fmt.int(x.tradesProcessed)}`).join(', ')} processed under load; queue peak ${fmt.int(med(u, (x) => x.queueMax))} → ${fmt.int(med(l, (x) => x.queueMax))}`,
    target: 'no drop the unloaded run has not',
    ok: h.verdict.extraDrops <= 0,
    cmd,
  });
  out.push({
    group: 'http',
    what: 'HTTP under load: processing latency p99 (p50), unloaded → loaded',
    value: `${ms(h.verdict.unloadedP99)} → ${ms(h.verdict.loadedP99)} (${ms(med(u, (x) => x.processing.p50))} → ${ms(med(l, (x) => x.processing.p50))})`,
    reference: `p99.9 ${ms(med(u, (x) => x.processing.p999))} → ${ms(med(l, (x) => x.processing.p999))}; event-loop delay p99 ${ms(med(u, (x) => x.loopDelayMs?.p99), 1)} → ${ms(med(l, (x) => x.loopDelayMs?.p99), 1)}; publisher timer late at p99 by ${ms(med(u, (x) => x.publisherLagMs.p99), 1)} / ${ms(med(l, (x) => x.publisherLagMs.p99), 1)}`,
    target: `≤ max(2 × unloaded, 2 ms) = ${ms(h.verdict.p99Target, 2)}`,
    ok: h.verdict.loadedP99 <= h.verdict.p99Target,
    cmd,
  });
  const gen = (path) => l.map((x) => x.generators.find((g) => g.path.startsWith(path))).filter((g) => g !== undefined);
  const metricsGen = gen('/metrics');
  const featuresGen = gen('/features');
  out.push({
    group: 'http',
    what: 'HTTP under load: a Prometheus scrape of /metrics once a second, unloaded → loaded',
    value: `p50 ${ms(med(u, (x) => x.metricsProbe.p50), 1)} → ${ms(med(l, (x) => x.metricsProbe.p50), 1)}, max ${ms(med(u, (x) => x.metricsProbe.max), 0)} → ${ms(med(l, (x) => x.metricsProbe.max), 0)}`,
    reference: `failed scrapes ${l.reduce((a, x) => a + x.metricsProbe.failures, 0)}; the load generators meanwhile: /metrics ${fmt.int(med(metricsGen, (g) => g.rate))}/s (p50 ${ms(med(metricsGen, (g) => g.p50), 0)}, p99 ${ms(med(metricsGen, (g) => g.p99), 0)}), /features/latest ${fmt.int(med(featuresGen, (g) => g.rate))}/s (p50 ${ms(med(featuresGen, (g) => g.p50), 0)}, p99 ${ms(med(featuresGen, (g) => g.p99), 0)})`,
    target: 'answered',
    ok: l.every((x) => x.metricsProbe.failures === 0 && x.metricsProbe.scrapes > 0),
    cmd,
  });
  const rejected = (k) => fmt.int(med(l, (x) => x.http.rejected[k]));
  out.push({
    group: 'http',
    what: 'HTTP under load: the service\'s CPU and RSS, unloaded → loaded',
    value: `${fmt.num(med(u, (x) => x.cpuPercent), 0)} → ${fmt.num(med(l, (x) => x.cpuPercent), 0)} % of a core, RSS ${fmt.mb(med(u, (x) => x.rss))} → ${fmt.mb(med(l, (x) => x.rss))}`,
    reference: `under load: ${fmt.int(med(l, (x) => x.http.connections))} connections open, ${fmt.int(med(l, (x) => x.http.stream_clients))} streams; refused: connections ${rejected('connections')}, streams ${rejected('stream_clients')}, overload ${rejected('overload')}; slow readers cut ${fmt.int(med(l, (x) => x.http.slow_readers_disconnected))}`,
    target: '—',
    ok: null,
    cmd,
  });
  return out;
}

/** Cluster mode (bench/cluster.mjs): throughput beside the single process, takeover after kill -9, warm-up per 100k. */
function clusterRows(c) {
  const cmd = `node bench/cluster.mjs --events ${c.events}`;
  const single = c.throughput.find((t) => t.members === 0);
  const out = [];
  for (const t of c.throughput) {
    const who = t.members === 0 ? 'single process (JetStream mode)' : `${t.members} member${t.members > 1 ? 's' : ''} (P = ${c.partitions})`;
    out.push({
      group: 'cluster',
      what: `Cluster: ${who} draining ${fmt.int(c.stored)} stored events (${c.symbols} symbols, 3-replica stream)`,
      value: t.members === 0 ? perS(t.rate) : `${perS(t.rate)} (${fmt.pct(t.rate / single.rate)} of single)`,
      reference: `service processes' CPU: ${fmt.int(t.cpuMsPer100k)} ms per 100k events${t.members === 0 ? '' : ` (single: ${fmt.int(single.cpuMsPer100k)} ms)`}; on 2 cores the point is the overhead of cluster mode, not a speed-up: the 3 nats-servers and every member share them`,
      target: '—',
      ok: null,
      cmd,
    });
  }
  for (const t of c.takeovers) {
    out.push({
      group: 'cluster',
      what: `Cluster: kill -9 of 1 of 3 members (lease ${fmt.num(t.leaseMs / 1000, 0)} s), its ${t.partitionsMoved} partitions owned again and warm`,
      value: `${fmt.num(t.warmAfterMs / 1000, 2)} s (owned ${fmt.num(t.ownedAfterMs / 1000, 2)} s + warm-up ${fmt.num(t.warmupMs / 1000, 2)} s)`,
      reference: `owned = the lease after the victim's last renewal (between ⅔ of the lease and the lease); the warm-up replayed ${fmt.int(t.replayed)} of the ${fmt.int(t.storedInMoved)} messages stored in them`,
      target: 'owned ≤ lease (SPEC §12: taken over within lease + warm-up)',
      ok: t.ownedAfterMs <= t.leaseMs + 500,
      cmd,
    });
  }
  if (!c.takeovers.some((t) => t.leaseMs === 15_000)) {
    out.push({
      group: 'cluster',
      what: 'Cluster: kill -9 of a member at the default lease (15 s)',
      value: 'not run (--quick)',
      reference: 'takeover = the lease after the last renewal (10–15 s) + the warm-up (per 100k stored messages below)',
      target: '—',
      ok: null,
      cmd: 'node bench/cluster.mjs',
    });
  }
  const w = c.takeovers.reduce((a, t) => ({ ms: a.ms + t.warmupMs, n: a.n + t.replayed }), { ms: 0, n: 0 });
  out.push({
    group: 'cluster',
    what: 'Cluster: warm-up of partitions taken over, per 100k stored messages',
    value: `${fmt.num((w.ms / 1000 / w.n) * 1e5, 2)} s`,
    reference: `${fmt.int(w.n)} messages replayed by the two survivors in ${fmt.num(w.ms / 1000, 2)} s (from owned to every survivor's /health 200), over ${c.takeovers.length} takeover${c.takeovers.length > 1 ? 's' : ''}`,
    target: '—',
    ok: null,
    cmd,
  });
  return out;
}

function growthGrid(g) {
  const symbols = [...new Set(g.cells.map((c) => c.symbols))];
  const windows = [...new Set(g.cells.map((c) => c.windowS))];
  const cell = (s, w) => g.cells.find((c) => c.symbols === s && c.windowS === w);
  return { symbols, windows, cell };
}

export function renderTable(results) {
  const r = rows(results);
  const lines = [];
  const w = [62, 40, 26, 7];
  const pad = (x, n) => (x.length > n ? x.slice(0, n - 1) + '…' : x.padEnd(n));
  lines.push(`${pad('figure', w[0])} ${pad('measured', w[1])} ${pad('target', w[2])} ${pad('', w[3])}`);
  lines.push('-'.repeat(w[0] + w[1] + w[2] + w[3] + 3));
  for (const x of r) lines.push(`${pad(x.what, w[0])} ${pad(x.value, w[1])} ${pad(x.target, w[2])} ${status(x)}`);
  const g = results.sections.growth;
  if (g !== undefined) {
    const { symbols, windows, cell } = growthGrid(g);
    lines.push('');
    lines.push(`cost growth, ns/event (compute mode, ${fmt.int(g.rate)} events/s of event time):`);
    lines.push(`${'symbols'.padEnd(10)}${windows.map((x) => `${x} s`.padStart(12)).join('')}`);
    for (const s of symbols) lines.push(`${String(s).padEnd(10)}${windows.map((x) => fmt.int(cell(s, x)?.nsPerEvent).padStart(12)).join('')}`);
  }
  return lines.join('\n');
}

export function renderMarkdown(results) {
  const m = results.machine;
  const s = results.sections;
  const r = rows(results);
  const md = [];
  md.push('# Benchmarks');
  md.push('');
  md.push('Generated by `npm run bench -- --write` (`npm run build && node bench/run.mjs --write`; without `--write` the report goes to `bench-output/`); do not edit by hand. Raw figures: [`BENCHMARKS.json`](BENCHMARKS.json).');
  md.push('');
  md.push(`Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGb} GB; ${m.platform}; Node ${m.node}; ${m.nats}. `);
  md.push(
    `Speed reference for comparing machines: \`JSON.parse\` of one canonical 180-byte trade takes **${fmt.num(results.calibration.jsonParseNs, 0)} ns** here (measured by run.mjs; time it on yours to scale the figures). ` +
      `The publisher, nats-server and the service share the ${m.cores} cores in the NATS sections.`,
  );
  md.push('');
  const sectionNote = Object.entries(s)
    .map(([k, v]) => `${k} ${v.ranAt.slice(0, 16).replace('T', ' ')} UTC${v.quick ? ' (--quick)' : ''}, ${fmt.num(v.sectionSeconds ?? v.seconds, 0)} s`)
    .join('; ');
  md.push(`Sections run: ${sectionNote}.`);
  md.push('');
  md.push('## Summary');
  md.push('');
  md.push('| figure | measured | measured beside it, same run | target | | reproduce |');
  md.push('|---|---|---|---|---|---|');
  for (const x of r) md.push(`| ${x.what} | ${x.value} | ${x.reference} | ${x.target} | ${status(x)} | \`${x.cmd}\` |`);
  md.push('');
  md.push('Every command assumes `npm run build` first; `node bench/run.mjs --only SECTION --write` runs a whole section (`engine`, `growth`, `memory`, `nats`, `latency`, `warmup`, `http`, `cluster`) and rewrites this page, keeping the other sections.');
  md.push('');
  const g = s.growth;
  if (g !== undefined) {
    const { symbols, windows, cell } = growthGrid(g);
    md.push('## Cost growth');
    md.push('');
    md.push(
      `ns per event through decode → ingest → computeFeatures (compute mode), ${fmt.int(g.rate)} events/s of event time (so a 300 s window holds 30× what a 10 s one does), windows full before timing, median of ${g.reps} chunks of ${fmt.int(g.chunkEvents)} events; the three windows of a row run side by side on the same chunks. \`node --expose-gc bench/growth.mjs\``,
    );
    md.push('');
    md.push(`| symbols | ${windows.map((w) => `${w} s window`).join(' | ')} |`);
    md.push(`|---|${windows.map(() => '---').join('|')}|`);
    for (const sy of symbols) {
      md.push(`| ${fmt.int(sy)} | ${windows.map((w) => { const c = cell(sy, w); return c === undefined ? 'n/a' : `${fmt.int(c.nsPerEvent)} ns (${fmt.int(c.tradesInWindow)} trades held)`; }).join(' | ')} |`);
    }
    md.push('');
  }
  md.push('## How each figure is measured');
  md.push('');
  md.push(METHOD);
  return md.join('\n') + '\n';
}

const METHOD = `**Streams.** Every section replays the project's seeded \`MarketSimulator\` (random-walk prices with trends and
jumps, quotes and L2 books around the price, heartbeats, log-normal exchange-to-receive latencies). Non-trades are
thinned so that about 60 % of events are trades; trade ids are ten-digit strings past 2^31, as a busy pair's sequential
ids become (eight-digit ids before 2026-11-30 hid a cost, DECISIONS 76). Events are JSON-encoded before any timing starts; the timed code
receives \`Uint8Array\` payloads and subjects, as from nats.js. The simulator draws each event's latency
independently, so event times arrive out of order by tens of milliseconds: at high rates many trades land behind
newer ones in the windows, which the engine handles as the SPEC requires.

**Engine** (\`bench/engine.mjs\`, one process, one core). decode → \`MarketEngine.ingest\` (rules included) →
\`computeFeatures\`. The windows are filled first (60 s + 5 s of event time) and the JIT warmed on the same path;
then 5 chunks (3 with \`--quick\`), each timed in compute mode (features after every accepted event), in live mode
(the real \`ThrottledFeaturePublisher\` driven by event time, trailing edges flushed inside the timed part) and with
the brute force (the naive reference model the property test checks the engine against,
\`test/helpers/reference-model.mjs\`, in live mode: same validation and state, but every feature recomputed
from the window arrays on every event — filter, sum, walk the returns, sort the latencies — what a quick
implementation does). The brute force is timed on the start of each chunk for a fixed time budget and fed the rest
untimed; before timing, it is checked to agree with the engine event by event. Figures are medians; the ratio is the
median of per-chunk ratios.

**End to end** (\`bench/nats.mjs\`). A nats-server of the bench's own (free port, JetStream in a temp dir, removed
afterwards; \`max_pending\` raised so a burst is not cut by slow-consumer protection — the same server for both sides
of a ratio). The publisher is a child process sending the pre-encoded events as fast as nats.js takes them (a flush
per 4096). Each consumer runs in a fresh child process: the real \`Service\` (core: \`QUEUE_MAX_SIZE\` large enough for
the burst; JetStream: explicit acks, \`max_ack_pending\` = the default queue size), or a bare nats.js consumer that
only counts (core: callback subscription; JetStream: \`consume({callback})\` acking each message). Rates are taken
inside the consumer from the 10 % mark to the last message; bare and service runs alternate. In JetStream mode the
stream is filled first and both consumers (durables of their own) drain the same stored messages, so the figure is
the consumer's rate, not the server's ingest rate. Trades are counted at the publisher and, in the service, as
\`senpai_events_in_total{type="trade"}\` minus every trade drop.

**Latency** (\`bench/latency.mjs\`). The publisher sends at a fixed rate on a 1 ms timer, each event's \`ts_exchange\`
set to its scheduled send time. The service child records every value it observes into
\`senpai_processing_latency_ms\` (NATS callback → end of processing, queue wait included), so its percentiles
are exact; the histogram row interpolates the same messages in
the service's buckets. Each variant runs several times (\`--reps\`, 3 by default), the variants taking turns, and
its percentiles pool every run's messages; each run's own p99 and p99.9 are listed beside them, since on a shared
2-core host they spread more than any change to the code moves them (the publisher's lag is the median of the runs',
CPU their mean, RSS their maximum). Where the bench may raise a child's priority (root or \`CAP_SYS_NICE\`), a
diagnostic row runs every thread of the service at nice −10, ahead of the publisher and nats-server on the same cores. *Features age* is end to end: a features object's \`ts\` is the newest event time it
reflects, so arrival time at a subscriber minus \`ts\` covers publisher timer lag, NATS both ways, queueing,
processing, the publish — and, for trailing-edge publishes, the throttle holding the newest state until its 100 ms
interval ends, by design (SPEC §5); the median shows the pipeline, the tail mostly the throttle.

**HTTP under load** (\`bench/http-load.mjs\`). The latency set-up (same publisher, 20,000 events/s, the service in
a child of its own with the dashboard attached, default limits), run twice per repetition: *unloaded* — only a
probe that GETs \`/metrics\` once a second, as Prometheus would — and *loaded* — the same probe plus 300 \`/stream\`
clients opened before the feed starts (150 read everything and reconnect 2 s after a refusal, as the page does; 150
send their request and never read a byte) and two closed-loop load generators of 50 connections each on
\`/metrics\` and \`/features/latest\` (\`wrk -t1\`, Debian's package, installed by the bench when missing; a Node
generator otherwise) for the whole sending span. Everything runs on 127.0.0.1, on the same cores as the service. Drops
and processing latency are taken as in the latency section; \`loopDelayMs\` is \`monitorEventLoopDelay\` in the
service while measuring; the probe's latency is a scrape's, queued behind the generators' requests.

**Memory** (\`bench/memory.mjs\`, \`--expose-gc\`). 1000 symbols of trades only (each also yields a latency sample)
through decode → engine until 70 s of event time; full GC before and after; bytes over \`Σ state.trades.size\`.
V8's \`heapUsed\` does not include typed-array backing stores, where the windows keep their columns, so the second
row adds \`arrayBuffers\`. The flatness check writes a JSONL file with the simulator (1000 symbols, 5,000 events/s
of event time, five windows long), runs \`node dist/cli/main.js compute FILE --output /dev/null\` and samples its
VmRSS from \`/proc\` every 200 ms.

**Cluster mode** (\`bench/cluster.mjs\`). A three-node nats-server cluster of the bench's own (free loopback ports,
temp stores removed afterwards) with the partition mapping (P = 12) and a stream replicated 3×, filled once with the
simulator's events for 200 symbols (JetStream publishes, so every one is stored). Each configuration — the
single-process JetStream mode, then 1, 2 and 3 members — runs \`senpai-md run\` in child processes on durables of its
own created just before it (deliver all; \`{durable}-p{K}\` per partition for members, the default 15 s lease, a lease
bucket of its own), so each drains the same stored events; the rate counts acknowledged messages (the durables' pending and
ack-pending, polled every 250 ms) from the 10 % mark (once the members hold their shares) to the last, and the CPU is the service processes' user + system
time over the same span. The machine has two cores shared by three nats-servers and the members: more members cannot
be faster here, and the figures show what cluster mode costs (a consumer per partition, lease traffic, replicated
acknowledgements), not how it scales. With three members drained (a run of its own at a 3 s lease; the 3-member
throughput run for the 15 s lease), one is killed with SIGKILL: *owned* is when a
survivor's \`GET /cluster\` gives every partition to a survivor, *warm* when every survivor's \`/health\` answers 200
with the twelve partitions between them (both polled every 25 ms); the warm-up in between replays the moved partitions'
stored messages, which gives the time per 100k stored messages. The default lease (15 s) is measured without
\`--quick\`.

**Cost growth** (\`bench/growth.mjs\`). As the engine section, compute mode, for each symbol count × window.

**Reading the figures.** The machine is shared (other work runs on it) and has two cores; every ratio is taken
from runs that alternate, and each figure is a median, but expect ±30 % between runs of the whole suite. In the
core NATS ratio, the bare subscriber mostly keeps pace with the publisher, so its "ceiling" is the publisher's
and the server's rate on the same two cores, not the subscriber's own limit; the service's figure is its own
capacity, reached while it falls behind the burst. At a steady rate, the processing-latency tail follows the
publisher's timer: when it fires late, the events it owed arrive in one burst and the last of them waits for the
others to be processed. Cost growth shows how the per-event cost depends on window length (it should not) and on
the number of symbols (it does, through cache misses: each event touches its symbol's state, and with thousands of
symbols that state is rarely in cache).`;
