import type { NatsConnection } from '@nats-io/transport-node';
import { PartitionLeases } from '../../src/cluster/leases.js';
import type { LostReason, PartitionLeasesOptions } from '../../src/cluster/leases.js';
import type { TestNatsCluster } from '../helpers/nats-cluster.js';
import { waitFor } from '../helpers/nats-server.js';

/** How long a member's `lost` handler takes to "stop processing" a partition. */
export const STOP_DELAY_MS = 100;

export interface LeaseEvent {
  readonly at: number;
  readonly member: string;
  readonly partition: number;
  readonly kind: 'acquired' | 'lost' | 'stopped';
  readonly reason?: LostReason;
  readonly previousOwner?: string | null;
}

/**
 * One member as a service would run it: its own connection, a
 * {@link PartitionLeases}, and the set of partitions it is *processing* —
 * entered on `acquired`, left only when its `lost` handler has finished
 * stopping ({@link STOP_DELAY_MS} later). Safety = no partition in two
 * members' processing sets at once.
 */
export class TestMember {
  readonly processing = new Set<number>();
  crashed = false;

  private constructor(
    readonly id: string,
    readonly nc: NatsConnection,
    readonly leases: PartitionLeases,
  ) {}

  static async start(
    cluster: TestNatsCluster,
    id: string,
    group: LeaseGroup,
    opts: Partial<PartitionLeasesOptions> & { partitions: number },
  ): Promise<TestMember> {
    const nc = await cluster.connect({ name: `member-${id}` });
    let self: TestMember | null = null;
    const leases = new PartitionLeases(nc, {
      memberId: id,
      httpUrl: `http://${id}.test:8892`,
      replicas: 3,
      ...(process.env.DEBUG_LEASES ? { log: (level, msg, fields) => console.log(Date.now() % 100000, id, level, msg, JSON.stringify(fields ?? {})) } : {}),
      ...opts,
      handlers: {
        acquired: (k, info) => {
          group.record({ at: Date.now(), member: id, partition: k, kind: 'acquired', previousOwner: info.previousOwner });
          group.checkEnter(id, k);
          self?.processing.add(k);
        },
        lost: async (k, { reason }) => {
          group.record({ at: Date.now(), member: id, partition: k, kind: 'lost', reason });
          await new Promise((r) => setTimeout(r, STOP_DELAY_MS));
          self?.processing.delete(k);
          group.record({ at: Date.now(), member: id, partition: k, kind: 'stopped', reason });
        },
      },
    });
    self = new TestMember(id, nc, leases);
    group.members.push(self);
    await leases.start();
    return self;
  }

  /** kill -9: no release, no handler; the connection drops. */
  async crash(): Promise<void> {
    this.crashed = true;
    this.leases.crash();
    this.processing.clear();
    await this.nc.close().catch(() => undefined);
  }

  async stop(): Promise<void> {
    if (this.crashed) return;
    this.crashed = true;
    await this.leases.stop();
    await this.nc.close().catch(() => undefined);
  }
}

/**
 * The members of one test and a sampler that reads every member's `owned()`
 * and processing set every 50 ms and counts overlaps.
 */
export class LeaseGroup {
  readonly members: TestMember[] = [];
  readonly events: LeaseEvent[] = [];
  /** Partitions seen in two members' `owned()` (or processing sets) at one sample / on entry. */
  maxOverlap = 0;
  readonly violations: string[] = [];
  samples = 0;
  /** Per partition, the owners seen by the sampler in order (consecutive duplicates folded; null = unowned). */
  readonly timeline = new Map<number, (string | null)[]>();
  private timer: NodeJS.Timeout | null = null;

  constructor(readonly partitions: number) {}

  live(): TestMember[] {
    return this.members.filter((m) => !m.crashed);
  }

  record(e: LeaseEvent): void {
    this.events.push(e);
  }

  /** Called when `member` is about to process `k`: nobody else may be. */
  checkEnter(member: string, k: number): void {
    for (const m of this.live()) {
      if (m.id !== member && (m.processing.has(k) || m.leases.owns(k))) {
        this.violations.push(`${member} acquired ${k} while ${m.id} still ${m.processing.has(k) ? 'processes' : 'owns'} it`);
      }
    }
  }

  startSampling(everyMs = 50): void {
    this.timer = setInterval(() => this.sample(), everyMs);
  }

  stopSampling(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  sample(): void {
    this.samples++;
    const owners = new Map<number, string[]>();
    for (const m of this.live()) {
      const mine = new Set([...m.leases.owned(), ...m.processing]);
      for (const k of mine) owners.set(k, [...(owners.get(k) ?? []), m.id]);
    }
    let overlap = 0;
    for (const [k, ids] of owners) {
      if (ids.length > 1) {
        overlap++;
        this.violations.push(`sample ${this.samples}: partition ${k} held by ${ids.join(', ')}`);
      }
    }
    this.maxOverlap = Math.max(this.maxOverlap, overlap);
    for (let k = 0; k < this.partitions; k++) {
      const owner = this.live().find((m) => m.leases.owned().includes(k))?.id ?? null;
      const line = this.timeline.get(k) ?? [];
      if (line[line.length - 1] !== owner || line.length === 0) line.push(owner);
      this.timeline.set(k, line);
    }
  }

  /** Member id → partitions owned, for the live members. */
  ownership(): Map<string, number[]> {
    return new Map(this.live().map((m) => [m.id, m.leases.owned()]));
  }

  /** Whether every partition is owned by exactly one live member and each holds `each` (or one of the values). */
  balanced(each: readonly number[]): boolean {
    const all = this.live().flatMap((m) => m.leases.owned());
    if (all.length !== this.partitions || new Set(all).size !== this.partitions) return false;
    return this.live().every((m) => each.includes(m.leases.owned().length));
  }

  async waitBalanced(each: readonly number[], what: string, timeoutMs: number): Promise<number> {
    const t0 = Date.now();
    await waitFor(() => this.balanced(each), `${what}: ${JSON.stringify([...this.ownership()])}`, timeoutMs, 10);
    return Date.now() - t0;
  }

  async stopAll(): Promise<void> {
    this.stopSampling();
    await Promise.all(this.live().map((m) => m.stop()));
  }
}
