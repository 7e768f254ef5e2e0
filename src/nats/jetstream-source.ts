import { setTimeout as sleep } from 'node:timers/promises';
import { AckPolicy, DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { ConsumerInfo, ConsumerMessages, JetStreamManager } from '@nats-io/jetstream';
import { errors } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import { JetStreamUnavailableError } from '../domain/errors.js';

const NANOS_PER_MS = 1_000_000;
/** Retention of the stream when this service creates it. */
export const STREAM_MAX_AGE_MS = 24 * 60 * 60 * 1000;
/** How long the server waits for an ack before redelivering. */
export const ACK_WAIT_MS = 10_000;
/** Most messages one pull of the live consumer asks for (fewer when `max_ack_pending` is smaller). */
export const PULL_BATCH = 1024;

/**
 * The single process's `max_ack_pending` for a queue of `queueMaxSize`: all of
 * it, up to two pulls. The server delivers that many unacknowledged messages,
 * and on one connection a larger window adds no throughput, only messages held
 * across GC scavenges: draining a backlog measured 128k events/s at 10000 and
 * 147–152k at 1024–2500 (DECISIONS 73). The queue keeps its capacity (SPEC §6);
 * a cluster member's partitions share `QUEUE_MAX_SIZE` (SPEC §12).
 */
export function maxAckPendingFor(queueMaxSize: number): number {
  return Math.min(queueMaxSize, 2 * PULL_BATCH);
}

export interface JetStreamSettings {
  readonly stream: string;
  readonly durable: string;
  readonly subject: string;
  /** The queue capacity: the server never has more unacknowledged messages out. */
  readonly maxAckPending: number;
  /** Replicas of the stream when this service creates it (cluster mode: 3, falling back to 1). Default 1. */
  readonly replicas?: number;
  /** The service's stop: ends the waits of start-up (JetStream still starting, the warm-up replay) at once. */
  readonly signal?: AbortSignal;
  /** Longest wait for the next stored message before the warm-up gives up on the rest (default 10 s). */
  readonly replayStallMs?: number;
}

/** What a {@link JetStreamSource.replay} read. */
export interface ReplayResult {
  /** Stored messages handed to the handler. */
  readonly messages: number;
  /** False when the stream stopped delivering before the range's end (the stall timeout): messages are missing. */
  readonly complete: boolean;
}

/**
 * A delivered message's acknowledgement (the nats.js `JsMsg` itself: no
 * object or closure is made per message). Settle it with {@link settle}.
 */
export interface Ackable {
  ack(): void;
  nak(): void;
}

/** `ack` settles the message once it is processed ({@link settle}). */
export type MessageHandler = (subject: string, data: Uint8Array, ack: Ackable) => void;

/**
 * Acknowledges a processed message, or with `redeliver` hands it back for
 * redelivery at once (nak). A closed connection is not an error: the server
 * redelivers the message after `ack_wait`.
 */
export function settle(ack: Ackable, redeliver = false): void {
  try {
    if (redeliver) ack.nak();
    else ack.ack();
  } catch {
    // the connection is closed: the server redelivers it after ack_wait
  }
}

/** The stream's subjects when this service creates it: md.events.> unless the subscription lies outside it. */
function streamSubjects(subject: string): string[] {
  return subject === 'md.events.>' || subject.startsWith('md.events.') ? ['md.events.>'] : [subject];
}

/** How long a JetStream API that does not answer yet (a cluster electing its meta leader) is waited for. */
const JETSTREAM_READY_WAIT_MS = 30_000;

/**
 * The JetStream manager. A server without JetStream says so at once (no
 * responders): that is {@link JetStreamUnavailableError}. A JetStream that only
 * times out is still starting (a cluster electing its meta leader) and is
 * asked again, for a bounded time.
 */
async function manager(nc: NatsConnection, signal: AbortSignal | undefined): Promise<JetStreamManager> {
  const deadline = Date.now() + JETSTREAM_READY_WAIT_MS;
  for (let attempt = 0; ; attempt++) {
    try {
      return await jetstreamManager(nc);
    } catch (err) {
      if (err instanceof errors.TimeoutError && Date.now() < deadline) {
        await sleep(Math.min(2000, 250 * 2 ** attempt), undefined, { signal }); // rejects with the abort
        continue;
      }
      throw new JetStreamUnavailableError(
        'JetStream is not enabled on the NATS server: start `nats-server -js` or set USE_JETSTREAM=false',
        { cause: err },
      );
    }
  }
}

/** What the warm-up needs to know of the stream and the durable before it reads (SPEC §11). */
export interface WarmupPlan {
  /** Read up to and including this stream sequence (0: nothing stored). */
  readonly lastSeq: number;
  /** Signals of replayed messages above this sequence are published. */
  readonly ackFloor: number;
  /** Epoch ms of the oldest stored message; NaN when the stream is empty. */
  readonly firstTsMs: number;
  /** Epoch ms of the newest stored message; NaN when the stream is empty. */
  readonly lastTsMs: number;
  /** The stream's `max_age` in ms (0: unlimited). */
  readonly maxAgeMs: number;
}

/** One replayed message: subject, payload, stream timestamp and sequence. */
export type ReplayHandler = (subject: string, data: Uint8Array, streamTsMs: number, seq: number) => void;

/** Longest wait for the next stored message before the warm-up gives up on the rest (the default of `replayStallMs`). */
const REPLAY_STALL_MS = 10_000;

/**
 * A durable pull consumer (SPEC §6 JetStream mode). Each message is
 * acknowledged only after it has been processed, and `max_ack_pending` equal
 * to the queue capacity makes the server stop delivering while the queue is
 * full. Before consuming, the stored history can be replayed into the windows
 * (SPEC §11): {@link plan}, {@link replay}, then {@link start}.
 *
 * Acks are explicit, one per message (nats.js coalesces them into its outbound
 * buffer). Ack-all would be cheaper but is unsafe: after a crash, the first ack
 * of the new instance would also acknowledge the messages still pending to the
 * dead one, and those trades would never be redelivered.
 */
export class JetStreamSource {
  private messages: ConsumerMessages | null = null;
  private jsm: JetStreamManager | null = null;
  /** The stream's replicas, known after {@link ensureStream}. */
  replicas = 1;

  constructor(
    private readonly nc: NatsConnection,
    private readonly settings: JetStreamSettings,
  ) {}

  /** Creates the stream when missing; returns its `max_age` in ms (0: unlimited). */
  async ensureStream(): Promise<number> {
    const jsm = (this.jsm ??= await manager(this.nc, this.settings.signal));
    const { stream, subject } = this.settings;
    try {
      const info = await jsm.streams.info(stream);
      this.replicas = info.config.num_replicas;
      return info.config.max_age / NANOS_PER_MS;
    } catch (err) {
      if (!isNotFound(err)) throw err;
      const config = {
        name: stream,
        subjects: streamSubjects(subject),
        retention: RetentionPolicy.Limits,
        storage: StorageType.File,
        discard: DiscardPolicy.Old,
        max_age: STREAM_MAX_AGE_MS * NANOS_PER_MS,
      };
      const wanted = this.settings.replicas ?? 1;
      try {
        await jsm.streams.add({ ...config, num_replicas: wanted });
        this.replicas = wanted;
      } catch (err2) {
        // another member created it meanwhile (members start together; concurrent creations of a
        // replicated stream can time out while one of them succeeds)
        const now = await jsm.streams.info(stream).catch(() => null);
        if (now !== null) {
          this.replicas = now.config.num_replicas;
          return now.config.max_age / NANOS_PER_MS;
        }
        // a single server (or a smaller cluster) cannot place the replicas: one copy rather than none
        if (wanted === 1 || !(err2 instanceof JetStreamApiError)) throw err2;
        await jsm.streams.add({ ...config, num_replicas: 1 });
        this.replicas = 1;
      }
      return STREAM_MAX_AGE_MS;
    }
  }

  /**
   * Where the warm-up stops: the durable's last delivered sequence, or for a
   * new durable the stream's last sequence now, the durable then being created
   * to start right after it (so nothing is read twice or missed).
   */
  async plan(): Promise<WarmupPlan> {
    const jsm = (this.jsm ??= await manager(this.nc, this.settings.signal));
    const si = await jsm.streams.info(this.settings.stream);
    const st = si.state;
    const empty = st.messages === 0;
    const base = {
      firstTsMs: empty ? Number.NaN : Date.parse(st.first_ts),
      lastTsMs: empty ? Number.NaN : Date.parse(st.last_ts),
      maxAgeMs: si.config.max_age / NANOS_PER_MS,
    };
    const existing = await this.durableInfo();
    if (existing !== null) {
      await this.checkDurable(existing);
      return { ...base, lastSeq: existing.delivered.stream_seq, ackFloor: existing.ack_floor.stream_seq };
    }
    await this.createDurable(st.last_seq + 1);
    return { ...base, lastSeq: st.last_seq, ackFloor: st.last_seq };
  }

  /**
   * Reads the stored messages from `fromMs` up to and including `plan.lastSeq`
   * with an ordered ephemeral consumer; resolves to the count read and whether
   * it reached the end (not when the stream stalled for `replayStallMs`). When the
   * settings' `signal` aborts, no further message reaches `handler`, the
   * consumer is closed and the replay rejects with the abort.
   */
  async replay(plan: WarmupPlan, fromMs: number, handler: ReplayHandler): Promise<ReplayResult> {
    if (plan.lastSeq === 0 || Number.isNaN(plan.lastTsMs) || plan.lastTsMs < fromMs) return { messages: 0, complete: true };
    const js = jetstream(this.nc);
    const filter = streamSubjects(this.settings.subject)[0] === this.settings.subject ? undefined : this.settings.subject;
    const consumer = await js.consumers.get(this.settings.stream, {
      opt_start_time: new Date(fromMs).toISOString(),
      ...(filter !== undefined ? { filter_subjects: filter } : {}),
    });
    let messages: ConsumerMessages | null = null;
    let stall: NodeJS.Timeout | undefined;
    const signal = this.settings.signal;
    let abort: () => void = () => undefined;
    try {
      signal?.throwIfAborted(); // stopped while the consumer was being created
      // nothing of the filter at or after the start (every message of this subscription or partition is
      // older than the range, or none matches): it would deliver nothing, so finish now rather than after
      // the stall timeout
      if ((await consumer.info(true)).num_pending === 0) return { messages: 0, complete: true };
      let count = 0;
      let complete = true;
      let done: () => void = () => undefined;
      const finished = new Promise<void>((resolve) => (done = resolve));
      stall = setTimeout(() => {
        complete = false;
        done();
      }, this.settings.replayStallMs ?? REPLAY_STALL_MS);
      abort = () => done();
      signal?.addEventListener('abort', abort, { once: true });
      if (signal?.aborted === true) done();
      const timer = stall;
      messages = await consumer.consume({
        max_messages: 4096,
        callback: (m) => {
          if (signal?.aborted === true) return;
          if (m.seq > plan.lastSeq) return done();
          count++;
          handler(m.subject, m.data, Math.floor(m.info.timestampNanos / NANOS_PER_MS), m.seq);
          if (m.seq >= plan.lastSeq || m.info.pending === 0) return done();
          timer.refresh();
        },
      });
      await finished;
      signal?.throwIfAborted();
      return { messages: count, complete };
    } finally {
      // also when consume() or info() failed: no timer keeps a stopping process alive, no consumer is left behind
      clearTimeout(stall);
      signal?.removeEventListener('abort', abort);
      await messages?.close().catch(() => undefined);
      await consumer.delete().catch(() => undefined);
    }
  }

  /**
   * Without a warm-up: creates the durable when missing, starting with new
   * messages (nothing to rebuild from), or checks the existing one.
   */
  async ensureDurable(): Promise<void> {
    const existing = await this.durableInfo();
    if (existing !== null) await this.checkDurable(existing);
    else await this.createDurable(null);
  }

  /** Starts delivering to `handler`; returns once the pull loop runs. */
  async start(handler: MessageHandler): Promise<void> {
    const js = jetstream(this.nc);
    const consumer = await js.consumers.get(this.settings.stream, this.settings.durable);
    const batch = Math.max(1, Math.min(this.settings.maxAckPending, PULL_BATCH));
    this.messages = await consumer.consume({
      max_messages: batch,
      callback: (m) => handler(m.subject, m.data, m),
    });
  }

  /** Stored message counts per subject matching `filter` (`state.subjects`). */
  async subjectCounts(filter: string): Promise<Record<string, number>> {
    const jsm = (this.jsm ??= await manager(this.nc, this.settings.signal));
    const info = await jsm.streams.info(this.settings.stream, { subjects_filter: filter });
    return info.state.subjects ?? {};
  }

  /** Stops pulling; messages in flight stay unacknowledged and are redelivered later. */
  async stop(): Promise<void> {
    const m = this.messages;
    this.messages = null;
    if (m !== null) await m.close().catch(() => undefined);
  }

  private async durableInfo(): Promise<ConsumerInfo | null> {
    const jsm = (this.jsm ??= await manager(this.nc, this.settings.signal));
    try {
      return await jsm.consumers.info(this.settings.stream, this.settings.durable);
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  private async checkDurable(info: ConsumerInfo): Promise<void> {
    const { stream, durable, maxAckPending } = this.settings;
    if (info.config.ack_policy !== AckPolicy.Explicit) {
      throw new DurableMismatchError(`durable ${durable} on ${stream} has ack_policy ${info.config.ack_policy}; delete it so it can be recreated with explicit acks`);
    }
    if (info.config.max_ack_pending !== maxAckPending) {
      await this.jsm!.consumers.update(stream, durable, { max_ack_pending: maxAckPending });
    }
  }

  /** Creates the durable, starting at `startSeq`, or with new messages when null. */
  private async createDurable(startSeq: number | null): Promise<void> {
    const { stream, durable, subject, maxAckPending } = this.settings;
    const filter = streamSubjects(subject)[0] === subject ? undefined : subject;
    await this.jsm!.consumers.add(stream, {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      ack_wait: ACK_WAIT_MS * NANOS_PER_MS,
      max_ack_pending: maxAckPending,
      ...(startSeq === null ? { deliver_policy: DeliverPolicy.New } : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: startSeq }),
      ...(filter !== undefined ? { filter_subject: filter } : {}),
    });
  }
}

/** An existing durable cannot be used as it is configured. */
export class DurableMismatchError extends Error {
  override readonly name = 'DurableMismatchError';
}

/** The JetStream API's "not found" (stream or consumer), told by its error type, not its text. */
function isNotFound(err: unknown): boolean {
  return err instanceof JetStreamApiError && (err.code === 404 || err.apiError().err_code === JetStreamApiCodes.StreamNotFound || err.apiError().err_code === JetStreamApiCodes.ConsumerNotFound);
}
