import type { NatsConnection } from '@nats-io/transport-node';
import { askPeers, olderThan } from './ask-peers.js';
import type { Logger } from 'pino';
import { DurableInUseError } from '../domain/errors.js';

/**
 * One JetStream durable, one instance (DECISIONS 90). Two services pulling
 * from the same durable split its messages between them, and each computes
 * its windows from half the events — the reason SPEC §12 removed queue
 * groups. Every single-process JetStream service answers on
 * `senpai.durable.{stream}.{durable}` with who it is; a starting one asks
 * there first and refuses to start when an older instance answers. Core NATS
 * only: nothing is stored, a killed instance stops answering at once.
 */

/** Who an instance is, as it answers. */
export interface InstanceInfo {
  /** Unique per process start. */
  readonly instance: string;
  readonly host: string;
  readonly pid: number;
  readonly http_url: string;
  /** Epoch ms of its claim: of two instances asking at the same moment, the older keeps the durable. */
  readonly started_ms: number;
}

/** An answer: who, and whether its own claim is complete (it consumes, or is about to). */
interface Answer extends InstanceInfo {
  readonly holding: boolean;
}

/** How long a starting instance waits for answers. */
export const CLAIM_WAIT_MS = 300;

export function durableSubject(stream: string, durable: string): string {
  return `senpai.durable.${stream}.${durable}`;
}

function parse(data: Uint8Array): Answer | null {
  try {
    const v = JSON.parse(new TextDecoder().decode(data)) as Partial<Answer>;
    return typeof v.instance === 'string' && typeof v.started_ms === 'number' ? { ...(v as InstanceInfo), holding: v.holding === true } : null;
  } catch {
    return null;
  }
}

/** The answering side of a claim; {@link release} it when the service stops consuming. */
export interface DurableClaim {
  release(): void;
}

/**
 * Answers for `me` on the durable's subject, then asks who else is there.
 * Rejects with {@link DurableInUseError} when an instance that holds the
 * durable answers, or, of instances asking at the same moment, an older one
 * (`me` then answers no more). One that asks later is told who is here,
 * refuses by itself, and is logged. Clocks matter only within one asking
 * window: a holder keeps the durable whatever its clock says.
 */
export async function claimDurable(nc: NatsConnection, stream: string, durable: string, me: InstanceInfo, log: Logger, waitMs = CLAIM_WAIT_MS): Promise<DurableClaim> {
  let holding = false;
  const { answers, answering } = await askPeers<Answer>(nc, {
    subject: durableSubject(stream, durable),
    instance: me.instance,
    question: { ...me, holding: false },
    answer: () => ({ ...me, holding }),
    heard: (other) => {
      log.warn({ durable, stream, other_host: other.host, other_pid: other.pid, other_http_url: other.http_url }, 'another instance started on this JetStream durable; told that this one holds it, it should refuse to start');
    },
    parse,
    waitMs,
  });
  const holder = answers.find((other) => other.holding) ?? answers.find((other) => olderThan(other, me));
  if (holder !== undefined) {
    answering.unsubscribe();
    throw new DurableInUseError(
      `JetStream durable ${durable} on stream ${stream} is consumed by another running instance (host ${holder.host}, pid ${holder.pid}, ${holder.http_url}); two instances on one durable split its messages and both compute wrong windows: give this one its own JETSTREAM_DURABLE, or use cluster mode`,
    );
  }
  holding = true;
  return { release: () => answering.unsubscribe() };
}
