import { setTimeout as sleep } from 'node:timers/promises';
import { AckPolicy, DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { ConsumerInfo, ConsumerMessages, JetStreamManager } from '@nats-io/jetstream';
import { errors } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import { JetStreamUnavailableError } from '../domain/errors.js';
import { within } from '../domain/within.js';
import { jsSubjectOf } from './subject-memo.js';

const NANOS_PER_MS = 1_000_000;
/** Retention of the stream when this service creates it. */
export const STREAM_MAX_AGE_MS = 24 * 60 * 60 * 1000;
/** How long the server waits for an ack before redelivering. */
export const ACK_WAIT_MS = 10_000;
/** Most messages one pull of the live consumer asks for (fewer when `max_ack_pending` is smaller). */
export const PULL_BATCH = 1024;
/**
 * How long a pull of the live consumer stays open (nats.js: 30 s). A pull held by a consumer leader
 * that dies is lost with it, and nats.js notices only after two missed idle heartbeats (half of
 * this each) before it pulls again: 30 s left partitions stalled up to 50 s after `kill -9` of one
 * nats-server of three (DECISIONS 97). An idle consumer sends one pull per period.
 */
export const PULL_EXPIRES_MS = 5000;
/**
 * The idle heartbeat the live pulls ask for (nats.js: half of `expires`). Two missed make nats.js pull
 * again: a consumer leader that moves (a step-down, a server restarted in lame-duck mode, a rolling
 * upgrade) loses the pull it held, and delivery stalled 7 s after each move at 2.5 s; 2–3 s at 1 s
 * (DECISIONS 101). An idle consumer gets one heartbeat a second.
 */
export const IDLE_HEARTBEAT_MS = 1000;
/**
 * Idle heartbeats missed in a row before `/health` says the durable is silent (DECISIONS 101). nats.js
 * pulls again at the second; the new leader's first heartbeat for that pull comes a heartbeat later,
 * so a quiet durable whose leader merely moved reaches three now and then, never five.
 */
export const SILENT_AFTER_MISSED = 5;

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
  /** Whether the connection is up now (default: always); a replay that stalls while it is down waits for it and resumes. */
  readonly isConnected?: () => boolean;
}

/** What a {@link JetStreamSource.replay} read. */
export interface ReplayResult {
  /** Stored messages handed to the handler. */
  readonly messages: number;
  /** False when the stream stopped delivering before the range's end (the stall timeout): messages are missing. */
  readonly complete: boolean;
  /** How many times the replay was taken up again after the last message read (a stall, a NATS outage). */
  readonly resumed: number;
}

/** How one read of a replay ended: `stalled` and `failed` may be resumed; `missing`: what was left is no longer stored. */
type ReplayOutcome = 'complete' | 'stalled' | 'failed' | 'missing';

/** The JetStream consumer stopped working under a running service (deleted, its stream gone, JetStream off). */
export interface ConsumerTrouble {
  /** What nats.js reported (`consumer_deleted`, `consumer_not_found`, `stream_not_found`, `no_responders`). */
  readonly kind: string;
  /** One line for `/health` and the log. */
  readonly detail: string;
}

/** What a {@link JetStreamSource} tells its owner about the live consumer. */
export interface ConsumerWatch {
  /** The consumer stopped delivering for this reason; the source is restoring it. Said once per outage. */
  lost(trouble: ConsumerTrouble): void;
  /**
   * The stream and the durable exist again and delivery resumes. `recreated`: the durable was
   * missing and was created again (false: it was there, JetStream had only not answered, as while a
   * restarted server recovers its streams). `gap`: messages may have been lost meanwhile (the stream
   * was recreated or lost messages the durable had not delivered).
   */
  restored(info: { readonly downMs: number; readonly recreated: boolean; readonly gap: boolean; readonly startSeq: number }): void;
  /**
   * Neither a message nor an idle heartbeat came from the durable for {@link SILENT_AFTER_MISSED}
   * heartbeats (its consumer leader moving, or lost with its server): nothing is delivered meanwhile.
   * Said again as the silence lasts, with the time it has lasted.
   */
  silent?(detail: string): void;
  /** A message or a heartbeat came after {@link silent}. */
  heard?(): void;
}

/** How often a lost consumer is looked for and recreated. */
const RESTORE_EVERY_MS = 2000;
/** How often the live durable is asked for (see `probeConsumer`). */
const PROBE_EVERY_MS = 5000;
/** Longest wait for the requests that close a stalled replay's consumer. */
const REPLAY_CLEANUP_MS = 2000;

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
      this.streamCreated ??= info.created;
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
        const made = await jsm.streams.add({ ...config, num_replicas: wanted });
        this.streamCreated ??= made.created;
        this.replicas = wanted;
      } catch (err2) {
        // another member created it meanwhile (members start together; concurrent creations of a
        // replicated stream can time out while one of them succeeds)
        const now = await jsm.streams.info(stream).catch(() => null);
        if (now !== null) {
          this.replicas = now.config.num_replicas;
          this.streamCreated ??= now.created;
          return now.config.max_age / NANOS_PER_MS;
        }
        // a single server (or a smaller cluster) cannot place the replicas: one copy rather than none
        if (wanted === 1 || !(err2 instanceof JetStreamApiError)) throw err2;
        const made = await jsm.streams.add({ ...config, num_replicas: 1 });
        this.streamCreated ??= made.created;
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
      this.startPosition = existing.delivered.stream_seq;
      return { ...base, lastSeq: existing.delivered.stream_seq, ackFloor: existing.ack_floor.stream_seq };
    }
    await this.createDurable(st.last_seq + 1);
    this.startPosition = st.last_seq;
    return { ...base, lastSeq: st.last_seq, ackFloor: st.last_seq };
  }

  /**
   * Reads the stored messages from `fromMs` up to and including `plan.lastSeq`
   * with an ordered ephemeral consumer; resolves to the count read and whether
   * it reached the end. When the stream stops delivering for `replayStallMs`,
   * the replay is taken up again after the last message read, on a new
   * consumer, as long as each try makes progress or NATS was down (it waits
   * for the connection): a NATS restart in the middle of a warm-up costs no
   * stored message. It gives up (`complete: false`) when a try reads nothing
   * while connected, or when what is left is no longer stored. When the
   * settings' `signal` aborts, no further message reaches `handler`, the
   * consumer is closed and the replay rejects with the abort.
   */
  async replay(plan: WarmupPlan, fromMs: number, handler: ReplayHandler): Promise<ReplayResult> {
    if (plan.lastSeq === 0 || Number.isNaN(plan.lastTsMs) || plan.lastTsMs < fromMs) return { messages: 0, complete: true, resumed: 0 };
    const signal = this.settings.signal;
    const connected = this.settings.isConnected ?? (() => true);
    let count = 0;
    let lastSeq = 0;
    const counted: ReplayHandler = (subject, data, tsMs, seq) => {
      count++;
      lastSeq = seq;
      handler(subject, data, tsMs, seq);
    };
    let outcome = await this.replayFrom(plan, { opt_start_time: new Date(fromMs).toISOString() }, counted, false);
    let resumed = 0;
    let before = 0;
    while (outcome === 'stalled' || outcome === 'failed') {
      // nothing read while connected: the stream has stopped delivering, waiting longer would not help
      if (count === before && connected()) break;
      while (!connected()) await sleep(100, undefined, { signal }); // rejects with the abort
      signal?.throwIfAborted();
      resumed++;
      before = count;
      const start = lastSeq > 0 ? { opt_start_seq: lastSeq + 1 } : { opt_start_time: new Date(fromMs).toISOString() };
      outcome = await this.replayFrom(plan, start, counted, true).catch((err: unknown) => {
        signal?.throwIfAborted();
        void err; // a request that failed while NATS went away: tried again once it is back
        return 'failed' as const;
      });
    }
    return { messages: count, complete: outcome === 'complete', resumed };
  }

  /** One read of a replay, from `start`, on a consumer of its own. */
  private async replayFrom(
    plan: WarmupPlan,
    start: { opt_start_time: string } | { opt_start_seq: number },
    handler: ReplayHandler,
    resuming: boolean,
  ): Promise<ReplayOutcome> {
    const js = jetstream(this.nc);
    const filter = streamSubjects(this.settings.subject)[0] === this.settings.subject ? undefined : this.settings.subject;
    const consumer = await js.consumers.get(this.settings.stream, {
      ...start,
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
      // the stall timeout; when resuming, the rest of the range is no longer stored
      if ((await consumer.info(true)).num_pending === 0) return resuming ? 'missing' : 'complete';
      let outcome: ReplayOutcome = 'complete';
      let done: () => void = () => undefined;
      const finished = new Promise<void>((resolve) => (done = resolve));
      stall = setTimeout(() => {
        outcome = 'stalled';
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
          handler(jsSubjectOf(m), m.data, Math.floor(m.info.timestampNanos / NANOS_PER_MS), m.seq);
          if (m.seq >= plan.lastSeq || m.info.pending === 0) return done();
          timer.refresh();
        },
      });
      await finished;
      signal?.throwIfAborted();
      return outcome;
    } finally {
      // also when consume() or info() failed: no timer keeps a stopping process alive, no consumer is left
      // behind (bounded: while NATS is down these requests would wait for it; the server drops an
      // ephemeral consumer it no longer hears from by itself)
      clearTimeout(stall);
      signal?.removeEventListener('abort', abort);
      const cleanup = (async () => {
        await messages?.close().catch(() => undefined);
        await consumer.delete().catch(() => undefined);
      })();
      await within(cleanup, REPLAY_CLEANUP_MS, undefined);
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
    this.startPosition = (existing ?? (await this.durableInfo()))?.delivered.stream_seq ?? 0;
  }

  /**
   * Starts delivering to `handler`; returns once the pull loop runs. When the
   * durable or its stream disappears under it (deleted, a server restarted
   * with an empty store or without JetStream), `watch` hears of it and the
   * source recreates them, as at start, every {@link RESTORE_EVERY_MS}, then
   * pulls from the durable afresh.
   */
  async start(handler: MessageHandler, watch?: ConsumerWatch): Promise<void> {
    this.handler = handler;
    this.consumerWatch = watch ?? null;
    try {
      await this.consume();
    } catch (err) {
      // gone between the warm-up and now (deleted, or a server restarted on an empty store meanwhile)
      const trouble = troubleOf(err, this.settings);
      if (watch === undefined || trouble === null) throw err;
      this.beginRestore(null, trouble);
    }
    if (watch !== undefined) {
      this.probe = setInterval(() => void this.probeConsumer(), PROBE_EVERY_MS);
      this.probe.unref();
    }
  }

  /** The periodic check of {@link probeConsumer}. */
  private probe: NodeJS.Timeout | null = null;
  private probing = false;

  /**
   * Asks for the durable every {@link PROBE_EVERY_MS}: nats.js reports a deleted durable only
   * when a pull is outstanding (not while a backlog drains), and a server that came back
   * without JetStream not at all (its pull loop retries quietly after a reconnect).
   * A timeout proves nothing and is let be.
   */
  private async probeConsumer(): Promise<void> {
    if (this.probing || this.restoring !== null || this.stopped || this.jsm === null || !(this.settings.isConnected?.() ?? true)) return;
    this.probing = true;
    try {
      await this.jsm.consumers.info(this.settings.stream, this.settings.durable);
    } catch (err) {
      const trouble = troubleOf(err, this.settings);
      if (trouble !== null && !this.stopped) this.beginRestore(this.messages, trouble);
    } finally {
      this.probing = false;
    }
  }

  /** Reports the trouble and starts a restore, unless one runs (one at a time). */
  private beginRestore(lost: ConsumerMessages | null, trouble: ConsumerTrouble): void {
    const watch = this.consumerWatch;
    if (watch === null || this.restoring !== null || this.stopped) return;
    watch.lost(trouble);
    this.restoring = this.restore(lost, watch).finally(() => (this.restoring = null));
  }

  private handler: MessageHandler = () => undefined;
  private consumerWatch: ConsumerWatch | null = null;

  /** The pull loop on the durable (nats.js keeps it going across reconnects). */
  private async consume(): Promise<void> {
    const js = jetstream(this.nc);
    const consumer = await js.consumers.get(this.settings.stream, this.settings.durable);
    const batch = Math.max(1, Math.min(this.settings.maxAckPending, PULL_BATCH));
    const handler = this.handler;
    const messages = await consumer.consume({
      max_messages: batch,
      expires: PULL_EXPIRES_MS,
      idle_heartbeat: IDLE_HEARTBEAT_MS,
      callback: (m) => {
        this.lastDelivered = m; // a reference, no parsing: a restore reads its sequence
        if (this.silentSince !== 0) this.heard();
        handler(jsSubjectOf(m), m.data, m);
      },
    });
    this.messages = messages;
    if (this.consumerWatch !== null) void this.watch(messages);
  }

  /** Stream sequence after which a durable recreated by {@link restore} starts: the last message delivered. */
  private lastDelivered: { readonly seq: number } | null = null;
  /** The durable's position when consuming began: a restore before any delivery starts after it, not at the stream's start. */
  private startPosition = 0;
  /** A restore in progress (one at a time). */
  private restoring: Promise<void> | null = null;
  /** {@link stop} was called: no restore starts or goes on. */
  private stopped = false;
  /** When the stream was created, as first seen: another value later means it was made again. */
  private streamCreated: string | null = null;

  /** `Date.now()` when the durable fell silent (see {@link ConsumerWatch.silent}); 0 while it is heard. */
  private silentSince = 0;

  private heard(): void {
    this.silentSince = 0;
    this.consumerWatch?.heard?.();
  }

  /** Follows the pull loop's notifications until it is closed; a lost durable or stream starts a restore. */
  private async watch(messages: ConsumerMessages): Promise<void> {
    for await (const n of messages.status()) {
      if (this.messages !== messages) continue;
      if (n.type === 'heartbeat') {
        if (this.silentSince !== 0) this.heard();
        continue;
      }
      if (n.type === 'heartbeats_missed' && n.count >= SILENT_AFTER_MISSED) {
        if (this.silentSince === 0) this.silentSince = Date.now() - n.count * IDLE_HEARTBEAT_MS;
        const s = Math.round((Date.now() - this.silentSince) / 1000);
        this.consumerWatch?.silent?.(
          `no message or heartbeat from durable ${this.settings.durable} for ${s} s (its consumer leader is moving or was lost with its nats-server, or the server does not answer); pulling again`,
        );
        continue;
      }
      const trouble =
        n.type === 'consumer_deleted' || n.type === 'consumer_not_found' || n.type === 'stream_not_found' || n.type === 'no_responders'
          ? troubleFor(n.type, this.settings, n.type === 'consumer_deleted' ? n.description : undefined)
          : null;
      if (trouble !== null && this.messages === messages) this.beginRestore(messages, trouble);
    }
  }

  /**
   * Recreates the stream (when missing) and the durable, retrying until both
   * exist or the pull loop is closed. A new durable starts right after the last
   * message delivered here (or the durable's position when consuming began), so
   * nothing stored is skipped or read twice; when the
   * stream itself was recreated (its sequences start again) it starts at the
   * stream's first message, and `gap` says events may have been lost.
   */
  private async restore(lost: ConsumerMessages | null, watch: ConsumerWatch): Promise<void> {
    const lostAt = Date.now();
    const signal = this.settings.signal;
    const stopped = () => signal?.aborted === true || this.stopped;
    let failure: string | null = null;
    for (;;) {
      await sleep(RESTORE_EVERY_MS, undefined, { signal }).catch(() => undefined);
      if (stopped()) return;
      if (!(this.settings.isConnected?.() ?? true)) continue;
      try {
        const jsm = (this.jsm ??= await manager(this.nc, signal));
        await this.ensureStream();
        const si = await jsm.streams.info(this.settings.stream);
        const st = si.state;
        // a stream of the same name made again (here, or by anyone): its sequences started over
        const newStream = this.streamCreated !== null && si.created !== this.streamCreated;
        this.streamCreated = si.created;
        const existing = await this.durableInfo();
        const last = newStream ? 0 : Math.max(this.lastDelivered?.seq ?? 0, this.startPosition);
        // the stream lost what followed the last delivered message (recreated, purged or expired)
        const gap = newStream || st.last_seq < last || st.first_seq > last + 1;
        const startSeq = newStream || st.last_seq < last ? Math.max(1, st.first_seq) : last + 1;
        if (existing === null) await this.createDurable(startSeq);
        else await this.checkDurable(existing);
        if (stopped()) return;
        // a fresh pull loop: the old one would find the durable only after missing two idle heartbeats
        // (~30 s); what it delivered is in the queue, and its acks of a deleted durable are harmless
        if (lost !== null && this.messages === lost) {
          this.messages = null;
          await lost.close().catch(() => undefined);
        }
        if (this.messages === null) await this.consume(); // failing, the next round tries again
        const recreated = existing === null;
        watch.restored({ downMs: Date.now() - lostAt, recreated, gap: recreated && gap, startSeq: recreated ? startSeq : existing.delivered.stream_seq + 1 });
        return;
      } catch (err) {
        // JetStream still away or starting: next round. Anything else (a durable someone made with
        // other settings, a stream whose subjects now overlap another's) is said, once per reason
        const reason = troubleOf(err, this.settings) !== null || err instanceof errors.TimeoutError ? null : err instanceof Error ? err.message : String(err);
        if (reason !== null && reason !== failure && !stopped()) {
          failure = reason;
          watch.lost({ kind: 'restore_failed', detail: `cannot recreate the durable: ${reason}` });
        }
      }
    }
  }

  /** Stored message counts per subject matching `filter` (`state.subjects`). */
  async subjectCounts(filter: string): Promise<Record<string, number>> {
    const jsm = (this.jsm ??= await manager(this.nc, this.settings.signal));
    const info = await jsm.streams.info(this.settings.stream, { subjects_filter: filter });
    return info.state.subjects ?? {};
  }

  /** Stops pulling; messages in flight stay unacknowledged and are redelivered later. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.probe !== null) clearInterval(this.probe);
    this.probe = null;
    const m = this.messages;
    this.messages = null;
    if (m !== null) await m.close().catch(() => undefined);
    await this.restoring;
    // a restore may have started a pull loop while this waited
    const late = this.messages as ConsumerMessages | null;
    this.messages = null;
    if (late !== null) await late.close().catch(() => undefined);
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

/**
 * What a failed JetStream request says about the durable: its stream or itself
 * not found, or JetStream not answering (no responders: not enabled, or gone);
 * null for anything else (a timeout proves nothing).
 */
function troubleOf(err: unknown, settings: DurableNames): ConsumerTrouble | null {
  if (err instanceof JetStreamApiError && isNotFound(err)) {
    return troubleFor(err.apiError().err_code === JetStreamApiCodes.StreamNotFound ? 'stream_not_found' : 'consumer_not_found', settings);
  }
  const noResponders =
    err instanceof errors.NoRespondersError ||
    (err instanceof errors.RequestError && err.isNoResponders()) ||
    (err instanceof Error && (err.cause instanceof errors.NoRespondersError || err.name === 'JetStreamNotEnabled'));
  return noResponders ? troubleFor('no_responders', settings) : null;
}

type DurableNames = { readonly stream: string; readonly durable: string };

/** The one line `/health` and the log give for each way the durable can be lost (from a notification or a failed request). */
function troubleFor(kind: 'consumer_deleted' | 'consumer_not_found' | 'stream_not_found' | 'no_responders', { stream, durable }: DurableNames, description?: string): ConsumerTrouble {
  switch (kind) {
    case 'consumer_deleted':
      return { kind, detail: `durable ${durable} on stream ${stream} was deleted (${description ?? 'consumer deleted'})` };
    case 'consumer_not_found':
      return { kind, detail: `durable ${durable} not found on stream ${stream}` };
    case 'stream_not_found':
      return { kind, detail: `stream ${stream} not found` };
    case 'no_responders':
      return { kind, detail: 'JetStream does not answer (not enabled on the server, or unavailable)' };
  }
}
