import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { AlertThrottle } from '../alerts/alert-throttle.js';
import type { Config } from '../config/config.js';
import { subjectTypeOf } from '../decode/subject-intern.js';
import type { EventTypeLabel } from '../domain/events.js';
import type { Alert, FeatureSnapshot, Signal } from '../domain/features.js';
import type { EngineReads, QueueView } from '../http/views.js';
import type { DataQualityMetrics } from '../obs/data-quality-metrics.js';
import type { Telemetry } from '../obs/telemetry.js';
import type { ForgetListener, OutputPort } from '../output/output-port.js';
import { HIGH_WATER, admit, byteBound } from '../queue/event-queue.js';
import { MessageRing, RecordKind, RingWriter } from '../queue/message-ring.js';
import type { EngineBatch, EngineRequest, EngineWorkerData, FromEngine, ToEngine } from './engine-protocol.js';
import { OutputCode } from './engine-protocol.js';
import { AdmissionReport } from './admission-report.js';
import { ReadClock } from './read-clock.js';
import { warnProviderBound } from './pipeline.js';
import { Fifo } from '../queue/fifo.js';
import type { Ackable } from '../nats/jetstream-source.js';
import { settle } from '../nats/jetstream-source.js';

/** How long the warm-up waits for room in a full ring that the engine thread does not read before it gives up. */
const REPLAY_STALL_MS = 30_000;

/**
 * Data bytes of the ring: records up to half of it (payloads up to ~8 MiB, NATS allows 1 MiB by default;
 * a larger one is over the decoder's 1 MiB limit anyway and is refused without crossing, see {@link EngineThread.offer}).
 */
export const RING_BYTES = 16 * 1024 * 1024;

/** The engine thread's script: beside this module (dist), else the build seen from the source tree (tests run src/). */
const WORKER_CANDIDATES: readonly URL[] = [new URL('./engine-worker.js', import.meta.url), new URL('../../dist/app/engine-worker.js', import.meta.url)];

/** A record waiting on this thread because the ring had no room (it keeps its place in line). */
interface Waiting {
  readonly kind: RecordKind;
  readonly subject: string;
  readonly data: Uint8Array | null;
  readonly recvMs: number;
  readonly t0: number;
}



/** What the engine thread reports into on this side. */
export interface EngineThreadDeps {
  readonly config: Readonly<Config>;
  readonly telemetry: Telemetry;
  readonly quality: DataQualityMetrics;
  /** This thread's alerts (backpressure); the engine thread's own come with its outputs. */
  readonly alerts: AlertThrottle;
  readonly output: OutputPort;
  readonly log: Logger;
  /** The engine thread died (an exception, or it exited): the service cannot go on. */
  readonly failed: (err: Error) => void;
}

/**
 * The I/O thread's side of ENGINE_THREAD=worker: the NATS callbacks land in
 * {@link offer}, which applies the bounded queue's admission policy (SPEC §6:
 * the same decision, counters and alerts as the single-thread pipeline, the
 * queue being the ring plus what waits for room) and writes each admitted
 * message into the shared ring; decode, engine, features and rules run on the
 * engine thread (src/app/engine-worker.ts). Its reports bring outputs (handed
 * to the output port here), counter deltas, and the count of records it
 * processed, up to which JetStream messages are acknowledged, in order. State
 * reads are questions to the engine thread. If it dies, every waiter is
 * released, the failure is logged and `failed` is called: never a silent
 * stall.
 */
export class EngineThread implements QueueView, EngineReads {
  readonly worker: Worker;
  readonly ring: MessageRing;
  readonly capacity: number;
  readonly highWater = HIGH_WATER;
  readonly maxBytes: number;
  /** Wall-clock ms of the last accepted event per provider (reported by the engine thread every 250 ms). */
  providerLastSeen: ReadonlyMap<string, number> = new Map();
  /** Counters and backpressure alerts of the admissions (the same code as the single-thread pipeline's). */
  readonly admissions: AdmissionReport;
  /** Symbols the engine tracked at its last report. */
  symbolCount = 0;
  /** Why the engine thread stopped; null while it runs. */
  private failedWith: Error | null = null;
  private readonly writer: RingWriter;
  private readonly jetstream: boolean;
  private readonly waiting = new Fifo<Waiting>();
  private waitingBytes = 0;
  /** JetStream: one entry per record written, acknowledged once the engine thread has read past it. */
  private readonly acks = new Fifo<Ackable | null>();
  private acked = 0;
  /** Records the engine thread reported as processed (modulo 2^32). */
  private reportedRead = 0;
  private readonly requests = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; onReply: ((v: unknown) => void) | null }>();
  private nextId = 1;
  private idleWaiters: (() => void)[] = [];
  private stopping = false;
  /** The newest `coverageLostUntil` sent, so an overflow flood sends one per millisecond. */
  private lostUntilSent = Number.NEGATIVE_INFINITY;
  /** Receive times of the socket read being delivered. */
  private readonly clock = new ReadClock();
  /** Told the symbols each eviction removed, as the engine thread's reply arrives (the service's `ForgetFanOut`). */
  forgotten: ForgetListener | null = null;

  constructor(private readonly deps: EngineThreadDeps) {
    const config = deps.config;
    this.capacity = config.queueMaxSize;
    this.jetstream = config.jetstream.enabled;
    this.maxBytes = byteBound(config.queueMaxBytes, !this.jetstream);
    this.ring = MessageRing.create(RING_BYTES);
    this.writer = new RingWriter(this.ring);
    this.admissions = new AdmissionReport(deps.telemetry, deps.alerts, this);
    const script = WORKER_CANDIDATES.find((u) => existsSync(fileURLToPath(u)));
    if (script === undefined) throw new Error('ENGINE_THREAD=worker: dist/app/engine-worker.js is missing; run `npm run build`');
    const workerData: EngineWorkerData = { config, ring: this.ring.buffer, mainTimeOrigin: performance.timeOrigin };
    this.worker = new Worker(script, { workerData, name: 'senpai-engine' });
    this.worker.on('message', (m: FromEngine) => this.onMessage(m));
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('messageerror', (err) => this.fail(err));
    this.worker.on('exit', (code) => {
      if (!this.stopping) this.fail(new Error(`the engine thread exited unexpectedly (code ${code})`));
    });
  }

  /** Messages waiting: in the ring (not yet processed) and on this thread for room in it. */
  get size(): number {
    return ((this.writer.recordsWritten - this.ring.recordsRead) >>> 0) + this.waiting.length;
  }

  /** Payload bytes waiting (the `QUEUE_MAX_BYTES` bound). */
  get bytes(): number {
    return this.writer.payloadBytes + this.waitingBytes;
  }

  get fillRatio(): number {
    return this.size / this.capacity;
  }

  /** The engine thread's failure, null while it runs. */
  failure(): Error | null {
    return this.failedWith;
  }

  /** The NATS callback's whole job, as {@link Pipeline.offer}: timestamp, admit or drop, hand over. */
  offer(subject: string, data: Uint8Array, ack: Ackable | null): void {
    if (this.failedWith !== null) return; // the service is going down; JetStream redelivers
    this.clock.stamp();
    const recvMs = this.clock.recvMs;
    const subjectType = subjectTypeOf(subject);
    const size = this.size;
    const admission = admit(subjectType, data.length, size, this.bytes, this.capacity, this.maxBytes, !this.jetstream);
    if ((admission === 'queued' || admission === 'queued_over_capacity') && !this.ring.carries(subject.length, data.length)) {
      this.refuseUncarried(subjectType, recvMs, this.clock.t0);
      if (ack !== null) settle(ack); // refused is processed: redelivering it would refuse it again
      return;
    }
    if (admission === 'overflow' || admission === 'dropped') {
      this.admissions.report(admission, subjectType, recvMs);
      if (admission === 'overflow') {
        // events may be lost from here on: coverage (SPEC §11) moves past it, told once per millisecond
        if (recvMs > this.lostUntilSent) {
          this.lostUntilSent = recvMs;
          this.push(RecordKind.coverageLostUntil, '', null, recvMs, 0, null);
        }
        if (ack !== null) settle(ack); // only where it cannot happen (JetStream never overflows); never left to loop
      }
      return;
    }
    this.push(RecordKind.live, subject, data, recvMs, this.clock.t0, ack);
    this.admissions.report(admission, subjectType, recvMs);
  }

  /**
   * Warm-up (SPEC §11): one stored message for the engine thread, with its
   * stream timestamp as receive time. Blocks while the ring is full, so the
   * replay never outruns the engine.
   */
  replay(subject: string, data: Uint8Array, streamTsMs: number, publishSignal: boolean): void {
    // the warm-up comes before any live record: writing past waiting ones would misalign the acks
    if (this.waiting.length > 0) throw new Error('engine thread: a replay record after live records');
    if (!this.ring.carries(subject.length, data.length)) {
      // refused as the engine thread's replay would refuse it (SPEC §11 counters); it has no ack to keep in line
      this.deps.quality.warmupMessagesTotal++;
      this.deps.quality.countWarmupDropped('invalid');
      return;
    }
    const kind = publishSignal ? RecordKind.replaySignal : RecordKind.replay;
    // this loop holds the event loop, so the worker's 'exit' cannot be seen here: an engine thread
    // that stops reading for REPLAY_STALL_MS is taken for dead instead of waiting forever
    let read = this.ring.recordsRead;
    let stalledSince = performance.now();
    while (!this.writer.tryWrite(kind, subject, data, streamTsMs, 0)) {
      if (this.failedWith !== null) throw this.failedWith;
      this.writer.waitForRoom(100);
      if (this.ring.recordsRead !== read) {
        read = this.ring.recordsRead;
        stalledSince = performance.now();
      } else if (performance.now() - stalledSince > REPLAY_STALL_MS) {
        throw new Error(`engine thread: read nothing of the full ring for ${REPLAY_STALL_MS / 1000} s during the warm-up`);
      }
    }
    if (this.jetstream) this.acks.push(null);
  }

  /** After the warm-up: the engine thread publishes the features of the symbols it touched above the ack floor. */
  republish(): void {
    this.push(RecordKind.republish, '', null, 0, 0, null);
  }

  setCoverageStart(ms: number): void {
    this.push(RecordKind.coverageStart, '', null, ms, 0, null);
  }

  /** Events may have been lost (a core-mode disconnect): coverage restarts after what is queued now. */
  coverageLost(): void {
    this.push(RecordKind.coverageLost, '', null, 0, 0, null);
  }

  /** Resolves once every record written so far has been processed and reported (or the engine thread failed). */
  idle(): Promise<void> {
    if (this.isIdle() || this.failedWith !== null) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Asks the engine thread; the answer comes after everything it processed
   * before. `onReply` sees the answer as it arrives, before any later message
   * of the engine thread is handled (a promise's continuation runs later).
   */
  request(request: EngineRequest, onReply: ((value: unknown) => void) | null = null): Promise<unknown> {
    if (this.failedWith !== null) return Promise.reject(this.failedWith);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.requests.set(id, { resolve, reject, onReply });
      const m: ToEngine = { type: 'request', id, request };
      this.worker.postMessage(m);
    });
  }

  async sync(): Promise<void> {
    await this.request({ kind: 'sync' });
  }

  async symbols(): Promise<readonly string[]> {
    return (await this.request({ kind: 'symbols' })) as string[];
  }

  async latestState(symbol: string): Promise<object | null> {
    return (await this.request({ kind: 'state', symbol })) as object | null;
  }

  async features(symbol: string): Promise<object | null> {
    return (await this.request({ kind: 'features', symbol })) as object | null;
  }

  /** Forgets symbols idle for `idleMs` (SPEC §3); resolves to them. */
  async evictIdle(nowMs: number, idleMs: number): Promise<string[]> {
    // told as the reply arrives: after every output the engine thread sent before the eviction, before any it sends after
    const tell = (v: unknown) => {
      const evicted = v as string[];
      if (evicted.length > 0) this.forgotten?.(evicted);
    };
    return (await this.request({ kind: 'evict', nowMs, idleMs }, tell)) as string[];
  }

  /** Raises `stale` for silent providers (the engine thread knows when each was last seen). */
  async checkStale(nowMs: number, staleAfterMs: number): Promise<void> {
    await this.request({ kind: 'stale', nowMs, staleAfterMs, lastBackpressureDropMs: this.admissions.lastBackpressureDropMs });
  }

  /** Shutdown: publishes pending trailing edges, then stops the thread. Call after {@link idle}. */
  async stop(): Promise<void> {
    if (this.failedWith === null && !this.stopping) await this.request({ kind: 'flush' }).catch(() => undefined);
    await this.terminate();
  }

  /** Stops the thread at once (nothing flushed). */
  async terminate(): Promise<void> {
    this.stopping = true;
    await this.worker.terminate();
  }

  /**
   * A message the ring cannot carry (over half of it: its payload is then far over the decoder's 1 MiB
   * limit, or its subject is over 21,845 characters) is refused here as the engine thread would refuse
   * it, `invalid` unread (SPEC §2), and counted the same way: in, dropped, processed, its latency.
   * Never an `overflow` (a loss the queue decided) nor a silent acknowledgement (docs/DECISIONS.md 59).
   */
  private refuseUncarried(subjectType: EventTypeLabel, recvMs: number, t0: number): void {
    const t = this.deps.telemetry;
    t.countIn(subjectType, 'unknown', recvMs);
    t.countDropped('invalid', subjectType);
    t.eventsProcessedTotal++;
    t.processingLatency.observe(performance.now() - t0);
  }

  private push(kind: RecordKind, subject: string, data: Uint8Array | null, recvMs: number, t0: number, ack: Ackable | null): void {
    if (this.waiting.length > 0 || !this.writer.tryWrite(kind, subject, data, recvMs, t0)) {
      this.waiting.push({ kind, subject, data, recvMs, t0 });
      this.waitingBytes += data?.length ?? 0;
    }
    if (this.jetstream) this.acks.push(ack);
  }

  /** Moves waiting records into the ring while it has room. */
  private flushWaiting(): void {
    for (let w = this.waiting.peek(); w !== undefined; w = this.waiting.peek()) {
      if (!this.writer.tryWrite(w.kind, w.subject, w.data, w.recvMs, w.t0)) return;
      this.waiting.shift();
      this.waitingBytes -= w.data?.length ?? 0;
    }
  }

  private isIdle(): boolean {
    return this.waiting.length === 0 && this.reportedRead === this.writer.recordsWritten;
  }

  private onMessage(m: FromEngine): void {
    if (m.type === 'reply') {
      const r = this.requests.get(m.id);
      this.requests.delete(m.id);
      r?.onReply?.(m.value);
      r?.resolve(m.value);
      return;
    }
    this.onBatch(m);
  }

  private onBatch(b: EngineBatch): void {
    const out = this.deps.output;
    const outputs = b.outputs;
    for (let i = 0; i < outputs.length; i += 2) {
      const x = outputs[i + 1];
      switch (outputs[i]) {
        case OutputCode.features:
          out.features(x as FeatureSnapshot);
          break;
        case OutputCode.signal:
          out.signal(x as Signal);
          break;
        default:
          out.alert(x as Alert);
      }
    }
    if (b.telemetry !== null) this.deps.telemetry.addDelta(b.telemetry);
    if (b.quality !== null) this.deps.quality.addDelta(b.quality);
    if (b.providers !== null) this.providerLastSeen = new Map(b.providers);
    if (b.providerBound !== null) warnProviderBound(this.deps.log, b.providerBound);
    this.symbolCount = b.symbols;
    this.reportedRead = b.read;
    // JetStream: acknowledged in order, only what the engine thread has processed
    if (this.jetstream) {
      while (((b.read - this.acked) | 0) > 0) {
        const ack = this.acks.shift();
        if (ack != null) settle(ack);
        this.acked = (this.acked + 1) >>> 0;
      }
    }
    this.flushWaiting();
    this.admissions.drained();
    if (this.isIdle()) this.releaseIdle();
  }

  private releaseIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private fail(err: Error): void {
    if (this.failedWith !== null) return;
    this.failedWith = err;
    this.deps.log.error({ err }, 'the engine thread failed: no more messages are processed; the service stops');
    for (const r of this.requests.values()) r.reject(err);
    this.requests.clear();
    this.releaseIdle();
    this.deps.failed(err);
  }
}
