import { parentPort, workerData } from 'node:worker_threads';
import { AlertThrottle } from '../alerts/alert-throttle.js';
import type { Alert, FeatureSnapshot, Signal } from '../domain/features.js';
import { MarketEngine } from '../engine/market-engine.js';
import { computeFeatures } from '../features/feature-engine.js';
import { latestState } from '../http/latest-state.js';
import { DataQualityMetrics } from '../obs/data-quality-metrics.js';
import { Telemetry } from '../obs/telemetry.js';
import type { OutputPort } from '../output/output-port.js';
import { MessageRing, RecordKind, RingReader } from '../queue/message-ring.js';
import type { EngineBatch, EngineReply, EngineRequest, EngineWorkerData, ToEngine } from './engine-protocol.js';
import { OutputCode, engineConfigOf, pipelineOptionsOf } from './engine-protocol.js';
import { Pipeline } from './pipeline.js';
import { SymbolList } from '../state/symbol-list.js';

/**
 * The engine thread (ENGINE_THREAD=worker): drains the ring the I/O thread
 * fills through the very Pipeline and MarketEngine the single-thread service
 * runs, and reports outputs, counters and progress back. Anything thrown here
 * ends the thread, which the I/O thread reports loudly (src/app/engine-thread.ts).
 */

/** Most milliseconds of processing before the thread yields (requests and timers get their turn). */
const SLICE_MS = 8;
/** The providers' last-seen map goes to the I/O thread at most this often (the dashboard shows seconds). */
const PROVIDERS_EVERY_MS = 250;

const port = parentPort!;
const data = workerData as EngineWorkerData;
const config = data.config;
const originDelta = data.mainTimeOrigin - performance.timeOrigin;

/** Collects outputs in order; they go to the I/O thread with the next report (at the latest after this task). */
class Outbox implements OutputPort {
  outputs: unknown[] = [];
  private scheduled = false;

  features(f: FeatureSnapshot): void {
    this.outputs.push(OutputCode.features, f);
    this.schedule();
  }

  signal(s: Signal): void {
    this.outputs.push(OutputCode.signal, s);
    this.schedule();
  }

  alert(a: Alert): void {
    this.outputs.push(OutputCode.alert, a);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      // outputs of a drain went with its own report; this one carries those made outside a drain (timers)
      if (this.outputs.length > 0) report();
    });
  }
}

const telemetry = new Telemetry(() => 0, { defaultMetrics: false, maxSymbolLabels: config.metricsMaxSymbols });
const quality = new DataQualityMetrics(telemetry.registry);
const engine = new MarketEngine(engineConfigOf(config), 'live');
const symbolList = new SymbolList(engine.symbols, () => engine.symbolChanges);
const outbox = new Outbox();
const alerts = new AlertThrottle(config.alertCooldownMs, (a) => {
  telemetry.countAlert(a.kind, a.level);
  outbox.alert(a);
});
/** The first provider past MAX_TRACKED_PROVIDERS, until reported (the I/O thread logs it). */
let providerBound: string | null = null;
const pipeline = new Pipeline(engine, telemetry, alerts, outbox, pipelineOptionsOf(config, null), quality, (p) => (providerBound = p));
const reader = new RingReader(MessageRing.open(data.ring));
/** Symbols the warm-up touched above the ack floor: their features go out once it is over. */
let unfinished = new Set<string>();
let reportedRead = -1;
let providersSentMs = Number.NEGATIVE_INFINITY;
let providersDirty = false;

/** Sends what happened since the last report, if anything did. */
function report(): void {
  const read = reader.recordsRead;
  const t = telemetry.takeDelta();
  const q = quality.takeDelta();
  const outputs = outbox.outputs;
  const now = performance.now();
  const providers = providersDirty && now - providersSentMs >= PROVIDERS_EVERY_MS ? [...pipeline.providerLastSeen] : null;
  if (read === reportedRead && t === null && q === null && outputs.length === 0 && providers === null && providerBound === null) return;
  if (providers !== null) {
    providersSentMs = now;
    providersDirty = false;
  }
  reportedRead = read;
  outbox.outputs = [];
  const batch: EngineBatch = { type: 'batch', read, symbols: engine.symbols.size, outputs, telemetry: t, quality: q, providers, providerBound };
  providerBound = null;
  port.postMessage(batch);
}

/** Applies the record the reader holds. */
function apply(): void {
  const r = reader;
  switch (r.kind) {
    case RecordKind.live:
      pipeline.processAdmitted(r.subject, r.data, r.recvMs, r.t0 + originDelta);
      providersDirty = true;
      break;
    case RecordKind.replay:
    case RecordKind.replaySignal: {
      const above = r.kind === RecordKind.replaySignal;
      const symbol = pipeline.replay(r.subject, r.data, r.recvMs, above);
      if (symbol !== null && above) unfinished.add(symbol);
      break;
    }
    case RecordKind.coverageStart:
      engine.setCoverageStart(r.recvMs);
      break;
    case RecordKind.coverageLostUntil:
      engine.coverageLostUntil(r.recvMs);
      break;
    case RecordKind.coverageLost:
      engine.coverageLost();
      break;
    case RecordKind.republish:
      pipeline.republish(unfinished);
      unfinished = new Set();
      break;
    default:
      throw new Error(`engine thread: unknown ring record kind ${String(r.kind)}`);
  }
}

/** Processes what the ring holds for at most a slice, reports, then goes on or sleeps until written to. */
function drain(): void {
  const start = performance.now();
  pipeline.beginRun();
  try {
    for (let n = 1; reader.next(); n++) {
      apply();
      reader.release();
      if ((n & 63) === 0 && performance.now() - start > SLICE_MS) break;
    }
  } finally {
    pipeline.endRun();
  }
  report();
  if (reader.hasRecord()) setImmediate(drain);
  else void reader.waitForRecord().then(drain);
}

function answer(req: EngineRequest): unknown {
  switch (req.kind) {
    case 'state': {
      const s = engine.symbols.get(req.symbol);
      return s === undefined ? null : latestState(s);
    }
    case 'features': {
      const s = engine.symbols.get(req.symbol);
      return s === undefined ? null : computeFeatures(s);
    }
    case 'symbols':
      return symbolList.get();
    case 'sync':
      return null;
    case 'evict':
      return pipeline.evictIdle(req.nowMs, req.idleMs);
    case 'stale':
      pipeline.checkStale(req.nowMs, req.staleAfterMs, req.lastBackpressureDropMs);
      return null;
    case 'flush':
      pipeline.features.flush();
      return null;
    default:
      throw new Error(`engine thread: unknown request ${JSON.stringify(req)}`);
  }
}

port.on('message', (m: ToEngine) => {
  const value = answer(m.request);
  // the counters and outputs so far go first: an answer is never newer than the counters beside it
  report();
  const reply: EngineReply = { type: 'reply', id: m.id, value };
  port.postMessage(reply);
});

drain();
