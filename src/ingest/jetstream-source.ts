import { AckPolicy, DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { ConsumerMessages, JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { JetStreamUnavailableError } from '../domain/errors.js';

const NANOS_PER_MS = 1_000_000;
/** Retention of the stream when this service creates it. */
export const STREAM_MAX_AGE_MS = 24 * 60 * 60 * 1000;
/** How long the server waits for an ack before redelivering. */
export const ACK_WAIT_MS = 10_000;

export interface JetStreamSettings {
  readonly stream: string;
  readonly durable: string;
  readonly subject: string;
  /** The queue capacity: the server never has more unacknowledged messages out. */
  readonly maxAckPending: number;
}

export type MessageHandler = (subject: string, data: Uint8Array, ack: () => void) => void;

/** The stream's subjects when this service creates it: md.events.> unless the subscription lies outside it. */
function streamSubjects(subject: string): string[] {
  return subject === 'md.events.>' || subject.startsWith('md.events.') ? ['md.events.>'] : [subject];
}

async function manager(nc: NatsConnection): Promise<JetStreamManager> {
  try {
    return await jetstreamManager(nc);
  } catch (err) {
    throw new JetStreamUnavailableError(
      'JetStream is not enabled on the NATS server: start `nats-server -js` or set USE_JETSTREAM=false',
      { cause: err },
    );
  }
}

/**
 * A durable pull consumer (SPEC §6 JetStream mode). Each message is
 * acknowledged only after it has been processed, and `max_ack_pending` equal
 * to the queue capacity makes the server stop delivering while the queue is
 * full. A new durable starts with new messages; an existing one resumes where
 * it stopped, so a crash loses no trade.
 *
 * Acks are explicit, one per message (nats.js coalesces them into its outbound
 * buffer). Ack-all would be cheaper but is unsafe: after a crash, the first ack
 * of the new instance would also acknowledge the messages still pending to the
 * dead one, and those trades would never be redelivered.
 */
export class JetStreamSource {
  private messages: ConsumerMessages | null = null;

  constructor(
    private readonly nc: NatsConnection,
    private readonly settings: JetStreamSettings,
  ) {}

  /** Creates the stream and the durable consumer when missing. */
  async ensure(): Promise<void> {
    const jsm = await manager(this.nc);
    const { stream, durable, subject, maxAckPending } = this.settings;
    try {
      await jsm.streams.info(stream);
    } catch {
      await jsm.streams.add({
        name: stream,
        subjects: streamSubjects(subject),
        retention: RetentionPolicy.Limits,
        storage: StorageType.File,
        discard: DiscardPolicy.Old,
        max_age: STREAM_MAX_AGE_MS * NANOS_PER_MS,
      });
    }
    const filter = streamSubjects(subject)[0] === subject ? undefined : subject;
    let exists = true;
    try {
      const info = await jsm.consumers.info(stream, durable);
      if (info.config.ack_policy !== AckPolicy.Explicit) {
        throw new Error(`durable ${durable} on ${stream} has ack_policy ${info.config.ack_policy}; delete it so it can be recreated with explicit acks`);
      }
      if (info.config.max_ack_pending !== maxAckPending) {
        await jsm.consumers.update(stream, durable, { max_ack_pending: maxAckPending });
      }
    } catch (err) {
      if (err instanceof Error && err.message.startsWith('durable ')) throw err;
      exists = false;
    }
    if (!exists) {
      await jsm.consumers.add(stream, {
        durable_name: durable,
        ack_policy: AckPolicy.Explicit,
        ack_wait: ACK_WAIT_MS * NANOS_PER_MS,
        max_ack_pending: maxAckPending,
        deliver_policy: DeliverPolicy.New,
        ...(filter !== undefined ? { filter_subject: filter } : {}),
      });
    }
  }

  /** Starts delivering to `handler`; returns once the pull loop runs. */
  async start(handler: MessageHandler): Promise<void> {
    const js = jetstream(this.nc);
    const consumer = await js.consumers.get(this.settings.stream, this.settings.durable);
    const batch = Math.max(1, Math.min(this.settings.maxAckPending, 1024));
    this.messages = await consumer.consume({
      max_messages: batch,
      callback: (m) => handler(m.subject, m.data, () => m.ack()),
    });
  }

  /** Stops pulling; messages in flight stay unacknowledged and are redelivered later. */
  async stop(): Promise<void> {
    const m = this.messages;
    this.messages = null;
    if (m !== null) await m.close().catch(() => undefined);
  }
}
