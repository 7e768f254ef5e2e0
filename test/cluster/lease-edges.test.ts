import { Kvm } from '@nats-io/kv';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodeRecord, parseMember, parsePartitionLease, partitionKey } from '../../src/cluster/lease-records.js';
import { leaseTimings } from '../../src/cluster/lease-options.js';
import { PartitionLeases } from '../../src/cluster/leases.js';
import type { LostReason } from '../../src/cluster/leases.js';
import { TestNatsCluster } from '../helpers/nats-cluster.js';
import { waitFor } from '../helpers/nats-server.js';

const P = 4;
const LEASE_MS = 2400;
const enc = new TextEncoder();

describe('lease records and timings', () => {
  it('parses only well-formed records', () => {
    const lease = { owner: 'a', session: 's', since_ms: 1, renewed_ms: 2, previous_owner: null };
    expect(parsePartitionLease(encodeRecord(lease))).toEqual(lease);
    expect(parsePartitionLease(encodeRecord({ ...lease, owner: null, session: null }))).toEqual({ ...lease, owner: null, session: null });
    expect(parsePartitionLease(enc.encode('{"owner":"a","session":null,"since_ms":1,"renewed_ms":2}'))).toBeNull(); // owner without session
    expect(parsePartitionLease(enc.encode('{"owner":"a b","session":"s","since_ms":1,"renewed_ms":2}'))).toBeNull();
    expect(parsePartitionLease(enc.encode('[1]'))).toBeNull();
    expect(parsePartitionLease(new Uint8Array([0xff, 0xfe]))).toBeNull();
    const member = { id: 'm-1', http_url: 'http://x:8892', partitions: [1, 2], last_seen_ms: 5, session: 's' };
    expect(parseMember(encodeRecord(member))).toEqual(member);
    expect(parseMember(enc.encode(JSON.stringify({ ...member, partitions: [-1] })))).toBeNull();
  });

  it('derives the timings from the lease and refuses nonsense', () => {
    expect(leaseTimings({ memberId: 'a', httpUrl: '', partitions: 1 })).toMatchObject({
      leaseMs: 15_000,
      renewEveryMs: 5000,
      validMs: 13_500,
      maxClockSkewMs: 15_000,
      opTimeoutMs: 2000,
    });
    expect(() => leaseTimings({ memberId: 'a', httpUrl: '', partitions: 1, leaseMs: 100 })).toThrow(RangeError);
    // A margin that leaves no validity past the next renewal would lose every lease every period.
    expect(() => leaseTimings({ memberId: 'a', httpUrl: '', partitions: 1, marginMs: 10_000 })).toThrow(RangeError);
    expect(() => leaseTimings({ memberId: 'a', httpUrl: '', partitions: 1, renewEveryMs: 6000 })).toThrow(RangeError);
    expect(leaseTimings({ memberId: 'a', httpUrl: '', partitions: 1, renewEveryMs: 2500 })).toMatchObject({ renewEveryMs: 2500, validMs: 13_500 });
    expect(() => new PartitionLeases({} as NatsConnection, { memberId: 'a.b', httpUrl: '', partitions: 1 })).toThrow(RangeError);
  });
});

interface Recorded {
  readonly leases: PartitionLeases;
  readonly nc: NatsConnection;
  readonly acquired: { k: number; at: number; previousOwner: string | null }[];
  readonly lost: { k: number; at: number; reason: LostReason }[];
}

describe('PartitionLeases at the edges (one JetStream server, P = 4, lease 2400 ms)', () => {
  let server: TestNatsCluster;
  let admin: NatsConnection;
  let kv: KV;
  let bucketNo = 0;
  const running: Recorded[] = [];

  beforeAll(async () => {
    server = await TestNatsCluster.start({ partitions: 0, size: 1 });
    await server.waitForJetStream();
    admin = await server.connect();
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map(async (r) => (await r.leases.stop(), await r.nc.close().catch(() => undefined))));
  });
  afterAll(async () => {
    await admin?.close();
    await server?.stop();
  });

  async function bucket(): Promise<string> {
    const name = `edges_${++bucketNo}`;
    kv = await new Kvm(admin).create(name, { history: 1 });
    return name;
  }

  async function member(id: string, bucketName: string, warnings: string[] = []): Promise<Recorded> {
    const nc = await server.connect({ name: id });
    const rec: Recorded = { leases: null as unknown as PartitionLeases, nc, acquired: [], lost: [] };
    const leases = new PartitionLeases(nc, {
      memberId: id,
      httpUrl: `http://${id}:8892`,
      partitions: P,
      bucket: bucketName,
      leaseMs: LEASE_MS,
      settleMs: 100,
      log: (level, msg) => {
        if (level === 'warn') warnings.push(msg);
      },
      handlers: {
        acquired: (k, info) => rec.acquired.push({ k, at: Date.now(), previousOwner: info.previousOwner }),
        lost: (k, { reason }) => void rec.lost.push({ k, at: Date.now(), reason }),
      },
    });
    Object.assign(rec, { leases });
    running.push(rec);
    await leases.start();
    return rec;
  }

  function ghostLease(renewedMs: number): Uint8Array {
    return encodeRecord({ owner: 'ghost', session: 'gone', since_ms: renewedMs, renewed_ms: renewedMs, previous_owner: null });
  }

  it('a lease overwritten by someone else is lost (taken) at the next renewal', async () => {
    const a = await member('a', await bucket());
    await waitFor(() => a.leases.owned().length === P, 'a holds all', 5000);
    const rival = await kv.get(partitionKey(2));
    await kv.update(partitionKey(2), ghostLease(Date.now()), rival?.revision ?? 0);
    const t0 = Date.now();
    await waitFor(() => a.lost.some((l) => l.k === 2), 'lost(2)', LEASE_MS);
    expect(a.lost).toEqual([expect.objectContaining({ k: 2, reason: 'taken' })]);
    expect(a.leases.owned()).toEqual([0, 1, 3]);
    console.log(`[cluster] edges: an overwritten lease was given up ${Date.now() - t0} ms later (renewals every ${LEASE_MS / 3} ms)`);
  });

  it('records of a member dead long ago are taken at once; a fresh one only after a whole lease, whatever its stamp says', async () => {
    const name = await bucket();
    const now = Date.now();
    await kv.create(partitionKey(0), ghostLease(now - 10 * 60_000)); // dead for 10 min by any sane clock
    await kv.create(partitionKey(1), ghostLease(now)); // just renewed
    await kv.create(partitionKey(2), ghostLease(now + 60 * 60_000)); // a writer whose clock runs an hour ahead
    const t0 = Date.now();
    const a = await member('a', name);
    await waitFor(() => a.leases.owned().length === P, 'a holds all', 4 * LEASE_MS);
    const at = (k: number): number => (a.acquired.find((e) => e.k === k)?.at ?? Number.NaN) - t0;
    console.log(`[cluster] edges: stale record taken after ${at(0)} ms, fresh one after ${at(1)} ms, future-stamped one after ${at(2)} ms (lease ${LEASE_MS})`);
    expect(at(0)).toBeLessThan(LEASE_MS / 2);
    expect(at(3)).toBeLessThan(LEASE_MS / 2);
    // Observed unchanged for a whole lease on a's own clock: skew cannot shorten it.
    expect(at(1)).toBeGreaterThanOrEqual(LEASE_MS);
    expect(at(2)).toBeGreaterThanOrEqual(LEASE_MS);
    expect(at(2)).toBeLessThan(LEASE_MS + LEASE_MS);
    expect(a.acquired.filter((e) => e.k < 3).every((e) => e.previousOwner === 'ghost')).toBe(true);
  });

  it('two processes under one member id: the second is warned about and holds nothing', async () => {
    const name = await bucket();
    const first = await member('same', name);
    await waitFor(() => first.leases.owned().length === P, 'the first holds all', 5000);
    const warnings: string[] = [];
    const second = await member('same', name, warnings);
    await waitFor(() => warnings.some((w) => w.includes('member ids must be unique')), 'the warning', 3 * LEASE_MS);
    expect(second.leases.owned()).toEqual([]);
    expect(first.leases.owned()).toHaveLength(P);
  });

  it('a member cut off from JetStream stops every partition before its lease could expire elsewhere', async () => {
    const a = await member('a', await bucket());
    await waitFor(() => a.leases.owned().length === P, 'a holds all', 5000);
    const cutAt = Date.now();
    await server.kill(0);
    await waitFor(() => a.lost.length === P, 'every partition lost', 2 * LEASE_MS);
    const t = leaseTimings({ memberId: 'a', httpUrl: '', partitions: P, leaseMs: LEASE_MS });
    const last = Math.max(...a.lost.map((l) => l.at - cutAt));
    console.log(`[cluster] edges: server gone → all ${P} partitions stopped (expired) within ${last} ms (validity ${t.validMs} ms after the last confirmed renewal)`);
    expect(a.lost.every((l) => l.reason === 'expired')).toBe(true);
    expect(last).toBeLessThanOrEqual(t.validMs + 100);
    expect(a.leases.owned()).toEqual([]);
    await server.restart(0);
    await server.waitForJetStream();
    // Back: it takes its own partitions again (its records still name it).
    await waitFor(() => a.leases.owned().length === P, 'a holds all again', 4 * LEASE_MS);
  });
});
