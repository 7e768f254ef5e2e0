import { afterAll, describe, expect, it } from 'vitest';
import { fnv1a32, fnv1a32Bytes, partitionOf, partitionOfSubject, partitionedSubjectFilter } from '../../src/cluster/partition.js';
import { SeededRandom } from '../../src/sim/random.js';
import { TestNatsCluster } from '../helpers/nats-cluster.js';
import { waitFor } from '../helpers/nats-server.js';

const ASCII = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';
/** Non-ASCII tokens: 2-, 3- and 4-byte UTF-8 sequences. */
const UTF8_TOKENS = ['BTCÜSDT', 'ÉTH-EUR', 'Ωmega', '比特币USDT', 'ドル円', '🚀MOON', 'x🦊y', 'ñ', '€', '𝔸𝔹ℂ'];

function randomTokens(count: number, seed: number): string[] {
  const rnd = new SeededRandom(seed);
  const out = new Set<string>(['BTCUSDT', 'btcusdt', 'ETHUSDT', '__system__', 'A', '0', '-', '_']);
  while (out.size < count) {
    const len = 1 + Math.floor(rnd.next() * 32);
    let t = '';
    for (let i = 0; i < len; i++) t += ASCII[Math.floor(rnd.next() * ASCII.length)];
    out.add(t);
  }
  for (const t of UTF8_TOKENS) out.add(t);
  return [...out];
}

describe('fnv1a32', () => {
  it('matches the published FNV-1a 32 test vectors', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });

  it('hashes the UTF-8 bytes of the string', () => {
    const enc = new TextEncoder();
    for (const t of [...UTF8_TOKENS, 'BTCUSDT', '\ud800lone', 'end\udfff']) {
      expect(fnv1a32(t)).toBe(fnv1a32Bytes(enc.encode(t)));
    }
  });
});

describe('partition helpers', () => {
  it('names the filter of a partition and reads the token back', () => {
    expect(partitionedSubjectFilter(7)).toBe('md.events.*.*.7');
    expect(partitionOfSubject('md.events.trade.BTCUSDT.7')).toBe(7);
    expect(partitionOfSubject('md.events.trade.BTCUSDT')).toBeNull();
    expect(partitionOfSubject('md.events.trade.BTCUSDT.07')).toBeNull();
    expect(partitionOfSubject('md.events.trade.BTCUSDT.x')).toBeNull();
    expect(() => partitionOf('X', 0)).toThrow(RangeError);
    expect(() => partitionedSubjectFilter(-1)).toThrow(RangeError);
  });
});

describe('partitionOf equals the server mapping partition(P, 2)', () => {
  const clusters: TestNatsCluster[] = [];
  afterAll(async () => {
    await Promise.all(clusters.map((c) => c.stop()));
  });

  const tokens = randomTokens(520, 12);

  for (const P of [3, 8, 16]) {
    it(`P = ${P}: ${tokens.length} symbol tokens`, async () => {
      const server = await TestNatsCluster.start({ partitions: P, size: 1, jetstream: false });
      clusters.push(server);
      const nc = await server.connect();
      try {
        const seen = new Map<string, string>();
        const sub = nc.subscribe('md.events.>', {
          callback: (_err, m) => {
            seen.set(m.subject, m.subject);
          },
        });
        await nc.flush();
        for (const t of tokens) nc.publish(`md.events.trade.${t}`, '{}');
        await nc.flush();
        await waitFor(() => seen.size >= tokens.length, `${tokens.length} mapped messages (have ${seen.size})`, 10_000);
        sub.unsubscribe();

        const byToken = new Map<string, number>();
        for (const subject of seen.keys()) {
          const parts = subject.split('.');
          expect(parts).toHaveLength(5);
          const k = partitionOfSubject(subject);
          expect(k).not.toBeNull();
          byToken.set(parts[3] as string, k as number);
        }
        const mismatches = tokens.filter((t) => byToken.get(t) !== partitionOf(t, P));
        expect(mismatches).toEqual([]);
        expect(byToken.size).toBe(tokens.length);
        // Every partition is used: the test really spans the range.
        expect(new Set(byToken.values()).size).toBe(P);
        console.log(`[cluster] partition(${P},2): ${tokens.length} tokens (${UTF8_TOKENS.length} non-ASCII), ${mismatches.length} mismatches with nats-server`);
      } finally {
        await nc.close();
      }
    });
  }
});
