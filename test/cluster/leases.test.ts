import { jetstreamManager } from '@nats-io/jetstream';
import { KvWatchInclude, Kvm } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePartitionLease, partitionKey } from '../../src/cluster/lease-records.js';
import { TestNatsCluster } from '../helpers/nats-cluster.js';
import { waitFor } from '../helpers/nats-server.js';
import { LeaseGroup, STOP_DELAY_MS, TestMember } from './lease-harness.js';

const P = 12;
/** Short lease for the member scenarios; production keeps 15000. */
const LEASE_MS = 3000;

/** The bucket as a first deployment leaves it, so the members' starts are not spread by its creation. */
async function createBucket(cluster: TestNatsCluster, bucket: string): Promise<void> {
  const nc = await cluster.connect();
  try {
    await new Kvm(nc).create(bucket, { history: 1, replicas: 3 });
  } finally {
    await nc.close();
  }
}

function report(line: string): void {
  console.log(`[cluster] ${line}`);
}

describe('PartitionLeases on a 3-node JetStream cluster (P = 12, lease 3000 ms)', () => {
  let cluster: TestNatsCluster;
  const group = new LeaseGroup(P);
  const opts = { partitions: P, leaseMs: LEASE_MS, bucket: 'leases_a' };

  beforeAll(async () => {
    cluster = await TestNatsCluster.start({ partitions: P });
    await cluster.waitForJetStream();
    await createBucket(cluster, opts.bucket);
    group.startSampling(50);
  });

  afterAll(async () => {
    await group.stopAll();
    await cluster?.stop();
    report(`members scenarios: ${group.samples} samples, max overlap ${group.maxOverlap}`);
  });

  it('(a) three members hold four partitions each, none twice', async () => {
    const t0 = Date.now();
    await Promise.all(['a', 'b', 'c'].map((id) => TestMember.start(cluster, id, group, opts)));
    const ms = await group.waitBalanced([4], 'three members balanced', 10_000);
    report(`(a) 3 members balanced 4/4/4 ${Date.now() - t0} ms after start (settle ${LEASE_MS / 3} ms), ${ms} ms after start() resolved`);
    // Every member's view (the /cluster body) agrees, within a moment (the
    // others' acquisitions reach it through the bucket watch).
    const t1 = Date.now();
    await waitFor(
      () => {
        const views = group.live().map((m) => m.leases.view());
        const first = JSON.stringify(views[0]?.partitions);
        return views.every((v) => v.members.map((m) => m.id).join() === 'a,b,c' && v.partitions.every((p) => p.owner !== null) && JSON.stringify(v.partitions) === first);
      },
      'the same view in every member',
      3000,
      10,
    );
    report(`(a) every member's view agreed ${Date.now() - t1} ms after the ownership was balanced`);
    // Every member but the first moved nothing: no partition was acquired twice.
    expect(group.events.filter((e) => e.kind === 'acquired')).toHaveLength(P);
    expect(group.violations).toEqual([]);
  });

  it('(b) a crashed member’s partitions are taken over within the lease, 6 each', async () => {
    const victim = group.live().find((m) => m.id === 'c');
    if (victim === undefined) throw new Error('no member c');
    const orphaned = victim.leases.owned();
    const crashedAt = Date.now();
    await victim.crash();
    await group.waitBalanced([6], 'two members take over', LEASE_MS * 3);
    const takeovers = group.events.filter((e) => e.kind === 'acquired' && e.at >= crashedAt && orphaned.includes(e.partition));
    expect(takeovers.map((e) => e.partition).sort((x, y) => x - y)).toEqual(orphaned);
    expect(takeovers.every((e) => e.previousOwner === 'c')).toBe(true);
    const times = takeovers.map((e) => e.at - crashedAt);
    const last = Math.max(...times);
    report(`(b) kill -9 of a member: its ${orphaned.length} partitions taken over after ${Math.min(...times)}–${last} ms (lease ${LEASE_MS})`);
    expect(last).toBeLessThan(LEASE_MS + 1500);
    // Nobody took them early: not before lease − margin after the crash.
    // (its last renewal was at most lease/3 before the crash)
    expect(Math.min(...times)).toBeGreaterThanOrEqual(LEASE_MS - LEASE_MS / 3 - 50);
    expect(group.violations).toEqual([]);
  });

  it('(c) the member restarts and a fourth joins: 4/4/4, then 3/3/3/3, handed over only after the old owner stopped', async () => {
    const t0 = Date.now();
    await TestMember.start(cluster, 'c', group, opts);
    const back = await group.waitBalanced([4], 'restarted member rebalanced', 10_000);
    report(`(c) restarted member: 4/4/4 after ${Date.now() - t0} ms (${back} ms after its start() resolved)`);
    const t1 = Date.now();
    await TestMember.start(cluster, 'd', group, opts);
    const join = await group.waitBalanced([3], 'fourth member rebalanced', 10_000);
    report(`(c) fourth member: 3/3/3/3 after ${Date.now() - t1} ms (${join} ms after its start() resolved)`);
    // Every hand-over: the new owner acquired only after the old one had stopped.
    const handovers = group.events.filter((e) => e.kind === 'acquired' && e.at >= t0);
    for (const a of handovers) {
      const stopped = group.events.find((e) => e.kind === 'stopped' && e.partition === a.partition && e.member === a.previousOwner && e.at <= a.at && e.at >= t0);
      if (a.previousOwner !== null && a.previousOwner !== a.member) expect(stopped, `handover of ${a.partition} to ${a.member}`).toBeDefined();
    }
    const gaps = handovers.map((a) => {
      const lost = group.events.filter((e) => e.kind === 'lost' && e.partition === a.partition && e.at <= a.at).pop();
      return lost === undefined ? 0 : a.at - lost.at;
    });
    report(`(c) hand-over gaps (lost → acquired, stop handler ${STOP_DELAY_MS} ms): max ${Math.max(...gaps)} ms`);
    expect(group.violations).toEqual([]);
  });

  it('(f) a graceful stop hands its partitions over at once', async () => {
    const leaving = group.live().find((m) => m.id === 'd');
    if (leaving === undefined) throw new Error('no member d');
    const theirs = leaving.leases.owned();
    const t0 = Date.now();
    await leaving.stop();
    const ms = await group.waitBalanced([4], 'after a graceful stop', 10_000);
    report(`(f) graceful stop of a member: stop() took ${ms >= 0 ? Date.now() - t0 - ms : 0} ms, its ${theirs.length} partitions owned again ${Date.now() - t0} ms after stop() began`);
    expect(Date.now() - t0).toBeLessThan(LEASE_MS);
    expect(group.violations).toEqual([]);
  });

  it('(e) no partition was ever owned or processed by two members at once', () => {
    expect(group.samples).toBeGreaterThan(50);
    expect(group.maxOverlap).toBe(0);
    expect(group.violations).toEqual([]);
  });
});

describe('PartitionLeases across a nats-server failure (production lease 15000 ms)', () => {
  let cluster: TestNatsCluster;
  const group = new LeaseGroup(P);
  const leaseMs = 15_000;

  beforeAll(async () => {
    cluster = await TestNatsCluster.start({ partitions: P });
    await cluster.waitForJetStream();
    await createBucket(cluster, 'leases_d');
  });

  afterAll(async () => {
    await group.stopAll();
    await cluster?.stop();
  });

  it('(d) kill -9 of the KV stream leader moves no partition over 2 × lease', async () => {
    const opts = { partitions: P, leaseMs, bucket: 'leases_d', settleMs: 300 };
    await Promise.all(['a', 'b', 'c'].map((id) => TestMember.start(cluster, id, group, opts)));
    await group.waitBalanced([4], 'three members balanced', 10_000);
    const before = group.ownership();
    const acquiredBefore = group.events.filter((e) => e.kind === 'acquired').length;

    const nc = await cluster.connect();
    const jsm = await jetstreamManager(nc);
    const si = await jsm.streams.info('KV_leases_d');
    const leader = si.cluster?.leader ?? '';
    const idx = cluster.indexOf(leader);
    expect(idx).toBeGreaterThanOrEqual(0);

    // The worst moment: just before a renewal, when the holder has the least
    // validity left (lease − margin − lease/3 = 7 s at the defaults). Find a
    // renewal on the watch and strike 400 ms before the next one.
    const kv = await new Kvm(nc).open('leases_d');
    const watch = await kv.watch({ key: 'partitions.>', include: KvWatchInclude.UpdatesOnly });
    let renewer = '';
    for await (const e of watch) {
      renewer = parsePartitionLease(e.value)?.owner ?? '';
      break;
    }
    const renewedAt = Date.now();
    await waitFor(() => Date.now() - renewedAt >= leaseMs / 3 - 400, 'the moment before the next renewal', leaseMs, 10);

    // A probe writes to the same bucket (same stream leader) every 100 ms: how long were KV writes impossible?
    let probing = true;
    let lastWrite = Date.now();
    let writeGap = 0;
    const probe = (async () => {
      while (probing) {
        try {
          await kv.put('probe', String(Date.now()), { timeout: 1000 });
          writeGap = Math.max(writeGap, Date.now() - lastWrite);
          lastWrite = Date.now();
        } catch {
          // the outage being measured
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();

    group.startSampling(50);
    const killedAt = Date.now();
    await cluster.kill(idx);
    // Watch for two leases: every sample must show the same owners.
    await waitFor(() => Date.now() - killedAt >= 2 * leaseMs, 'two leases', 2 * leaseMs + 5000, 250);
    group.stopSampling();
    probing = false;
    await probe;
    await nc.close();

    const after = group.ownership();
    expect(after).toEqual(before);
    for (const [k, line] of group.timeline) expect(line, `partition ${k}`).toHaveLength(1);
    expect(group.events.filter((e) => e.at >= killedAt)).toEqual([]);
    expect(group.events.filter((e) => e.kind === 'acquired')).toHaveLength(acquiredBefore);
    const gap = Math.max(...group.live().map((m) => m.leases.stats().maxRenewalGapMs));
    const failures = group.live().reduce((s, m) => s + m.leases.stats().renewalFailures, 0);
    report(
      `(d) kill -9 of nats-server ${leader} (KV stream leader), ${leaseMs / 3 - 400} ms after ${renewer}'s renewal: KV writes impossible for ${writeGap} ms; ` +
        `0 partitions moved over ${2 * leaseMs} ms, ${group.samples} samples, max overlap ${group.maxOverlap}; ` +
        `largest gap between confirmed renewals ${Math.round(gap)} ms (renewals every ${leaseMs / 3} ms, valid ${leaseMs - leaseMs / 10} ms), ${failures} failed renewal attempts`,
    );
    expect(gap).toBeLessThan(leaseMs - leaseMs / 10);
    expect(group.maxOverlap).toBe(0);
    expect(group.violations).toEqual([]);

    // The bucket agrees: every lease still names its first owner.
    const nc2 = await cluster.connect();
    const kv2 = await new Kvm(nc2).open('leases_d');
    for (const [id, parts] of after) {
      for (const k of parts) {
        const e = await kv2.get(partitionKey(k));
        expect(e === null ? null : parsePartitionLease(e.value)?.owner).toBe(id);
      }
    }
    await nc2.close();
  });
});
