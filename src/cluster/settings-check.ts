import type { NatsConnection } from '@nats-io/transport-node';
import { askPeers, olderThan } from '../nats/ask-peers.js';
import type { Logger } from 'pino';
import { ClusterSettingsError } from '../domain/errors.js';

/**
 * Members of one cluster must agree on its settings (DECISIONS 94). A member
 * with another `CLUSTER_BUCKET` but the same durables forms a group of its
 * own and pulls from the same consumers (each group sees part of every
 * partition); another `CLUSTER_LEASE_MS` makes two members hold one
 * partition; another `CLUSTER_PARTITIONS` leaves partitions without an
 * owner; another `JETSTREAM_DURABLE` in the same bucket hands partitions
 * back to durables left behind. None of it shows in any one member's state.
 * So every member answers on {@link CLUSTER_SUBJECT} with its settings, and
 * a starting member asks there first and refuses to join (exit 2, one line)
 * when a member of its group — same bucket, or same stream and durable —
 * answers with different ones, or uses its member id. Core NATS only, as the
 * durable claim (DECISIONS 90): nothing stored, a killed member stops answering.
 */

export const CLUSTER_SUBJECT = 'senpai.cluster.members';
export const SETTINGS_WAIT_MS = 300;

/** What a member says of itself. */
export interface MemberSettings {
  readonly member: string;
  /** Unique per process start. */
  readonly instance: string;
  readonly host: string;
  readonly pid: number;
  readonly http_url: string;
  readonly started_ms: number;
  readonly stream: string;
  readonly durable: string;
  readonly bucket: string;
  readonly partitions: number;
  readonly lease_ms: number;
}

interface Answer extends MemberSettings {
  /** It has joined its group (its check passed). */
  readonly joined: boolean;
}

/** The settings every member of a group shares, with the variable that sets each. */
const SHARED: readonly (readonly [keyof MemberSettings, string])[] = [
  ['bucket', 'CLUSTER_BUCKET'],
  ['partitions', 'CLUSTER_PARTITIONS'],
  ['lease_ms', 'CLUSTER_LEASE_MS'],
  ['stream', 'JETSTREAM_STREAM'],
  ['durable', 'JETSTREAM_DURABLE'],
];

/** Why `me` cannot join beside `other`, or null: they are of one group (one bucket, or one stream and durable) and differ. */
export function conflict(me: MemberSettings, other: MemberSettings): string | null {
  const sameGroup = me.bucket === other.bucket || (me.stream === other.stream && me.durable === other.durable);
  if (!sameGroup) return null;
  const differ = SHARED.filter(([k]) => me[k] !== other[k]).map(([k, name]) => `${name} ${String(me[k])} here, ${String(other[k])} there`);
  if (differ.length > 0) return `its settings differ (${differ.join('; ')}): every member of a cluster must share CLUSTER_BUCKET, CLUSTER_PARTITIONS, CLUSTER_LEASE_MS, JETSTREAM_STREAM and JETSTREAM_DURABLE`;
  if (me.member === other.member) return `it runs with the same CLUSTER_MEMBER_ID ${me.member}: give each member its own`;
  return null;
}

function parse(data: Uint8Array): Answer | null {
  try {
    const v = JSON.parse(new TextDecoder().decode(data)) as Partial<Answer>;
    const ok = typeof v.instance === 'string' && typeof v.member === 'string' && typeof v.started_ms === 'number' && typeof v.bucket === 'string';
    return ok ? ({ ...v, joined: v.joined === true } as Answer) : null;
  } catch {
    return null;
  }
}

function describe(other: MemberSettings): string {
  return `member ${other.member} (host ${other.host}, pid ${other.pid}, ${other.http_url})`;
}

/** The answering side; {@link release} it when the member leaves. */
export interface SettingsCheck {
  release(): void;
}

/**
 * Answers for `me`, then asks the members already running; rejects with
 * {@link ClusterSettingsError} when one of its group that has joined, or
 * that asked earlier, has other settings (or `me`'s member id). A later one
 * that conflicts is told, refuses by itself, and is logged here.
 */
export async function checkClusterSettings(nc: NatsConnection, me: MemberSettings, log: Logger, waitMs = SETTINGS_WAIT_MS): Promise<SettingsCheck> {
  let joined = false;
  const { answers, answering } = await askPeers<Answer>(nc, {
    subject: CLUSTER_SUBJECT,
    instance: me.instance,
    question: { ...me, joined: false },
    answer: () => ({ ...me, joined }),
    heard: (other) => {
      const why = conflict(me, other);
      if (why !== null) log.warn({ other_member: other.member, other_host: other.host, other_pid: other.pid, other_http_url: other.http_url, reason: why }, 'a cluster member with conflicting settings tried to join; told, it should refuse to start');
    },
    parse,
    waitMs,
  });
  // a member that has joined, or that asked earlier (its question heard while this one asked counts)
  const blockers = answers.flatMap((other) => {
    const why = conflict(me, other);
    return why !== null && (other.joined || olderThan(other, me)) ? [{ other, why }] : [];
  });
  const first = blockers[0];
  if (first !== undefined) {
    answering.unsubscribe();
    throw new ClusterSettingsError(`cluster member ${me.member} cannot join beside running ${describe(first.other)}: ${first.why}`);
  }
  joined = true;
  return { release: () => answering.unsubscribe() };
}
