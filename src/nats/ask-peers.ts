import { setTimeout as sleep } from 'node:timers/promises';
import { createInbox } from '@nats-io/transport-node';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';

/**
 * The ask-and-answer both start-up checks share (the durable claim,
 * DECISIONS 90; the cluster settings, DECISIONS 94): answer on `subject` for
 * this process from now on, then ask there once and collect the answers for
 * `waitMs`. Core NATS only: nothing is stored, a killed process stops answering.
 *
 * A question heard while this process still asks counts as an answer too:
 * when two start together, one's answering side may reach the server after
 * the other's question, so that question goes unheard and only the other
 * direction carries (CI saw both keep a durable: DECISIONS 90).
 */
export interface Peer {
  /** Unique per process start: a process never counts its own question or answer. */
  readonly instance: string;
  /** Epoch ms of its start: of two processes asking at the same moment, the older wins. */
  readonly started_ms: number;
}

/** Whether `a` started before `b` (ties broken by the instance id, so exactly one of two is older). */
export function olderThan(a: Peer, b: Peer): boolean {
  return a.started_ms < b.started_ms || (a.started_ms === b.started_ms && a.instance < b.instance);
}

export interface AskPeers<T extends Peer> {
  readonly subject: string;
  readonly instance: string;
  /** This process's question. */
  readonly question: unknown;
  /** This process's answer to another's question, as it stands when asked. */
  answer(): unknown;
  /** Another process's question, heard (and answered) once this one has asked (before: it is among the answers). */
  heard(other: T): void;
  /** A question or answer read from its bytes; null for anything else. */
  parse(data: Uint8Array): T | null;
  readonly waitMs: number;
}

/** Starts answering, asks, waits; the answers, and the answering subscription to end when the process leaves. */
export async function askPeers<T extends Peer>(nc: NatsConnection, o: AskPeers<T>): Promise<{ answers: T[]; answering: Subscription }> {
  const answers: T[] = [];
  let asking = true;
  const answering = nc.subscribe(o.subject, {
    callback: (err, m) => {
      if (err !== null) return;
      const other = o.parse(m.data);
      if (other === null || other.instance === o.instance) return;
      if (m.reply) m.respond(JSON.stringify(o.answer()));
      if (asking) answers.push(other);
      else o.heard(other);
    },
  });
  const inbox = createInbox();
  const replies = nc.subscribe(inbox, {
    callback: (err, m) => {
      if (err !== null) return;
      const other = o.parse(m.data);
      if (other !== null && other.instance !== o.instance) answers.push(other);
    },
  });
  try {
    await nc.flush();
    nc.publish(o.subject, JSON.stringify(o.question), { reply: inbox });
    await sleep(o.waitMs);
  } finally {
    replies.unsubscribe();
    asking = false;
  }
  return { answers, answering };
}
