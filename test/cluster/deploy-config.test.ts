import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { StreamConfig } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { afterAll, describe, expect, it } from 'vitest';
import { partitionOf, partitionMappingDestination, partitionOfSubject } from '../../src/cluster/partition.js';
import { TestNatsCluster } from '../helpers/nats-cluster.js';
import type { NodeAddress } from '../helpers/nats-cluster.js';
import { natsServerBin, waitFor } from '../helpers/nats-server.js';

const DIR = join(import.meta.dirname, '../../deploy/nats-cluster');
const FILES = [1, 2, 3].map((i) => join(DIR, `nats-${i}.conf`));
/** The documented default P of the shipped configuration. */
const DEPLOY_P = 12;

const hasServer = spawnSync(natsServerBin(), ['--version']).status === 0;

function read(file: string): string {
  return readFileSync(file, 'utf8');
}

/** The shipped file of node `i` on this machine: loopback ports and a temp store instead of nats-N hostnames and /data. */
function localised(node: NodeAddress): string {
  let text = read(FILES[node.index] as string);
  text = text.replace('listen: 0.0.0.0:4222', `listen: 127.0.0.1:${node.port}`);
  text = text.replace('http: 0.0.0.0:8222', `http: 127.0.0.1:${node.monitorPort}`);
  text = text.replace('listen: 0.0.0.0:6222', `listen: 127.0.0.1:${node.routePort}`);
  text = text.replace('store_dir: /data', `store_dir: "${node.storeDir}"`);
  text = text.replace(/nats-route:\/\/nats-(\d):6222/g, (_, n: string) => `nats-route://127.0.0.1:${node.routePorts[Number(n) - 1]}`);
  return text;
}

describe('deploy/nats-cluster', () => {
  it('the three files differ only in server_name and map md.events.*.* with partition(12, 2)', () => {
    const texts = FILES.map(read);
    const normalised = texts.map((t, i) =>
      t
        .replace(new RegExp(`^server_name: nats-${i + 1}$`, 'm'), 'server_name: nats-N')
        .replace(new RegExp(`^# nats-${i + 1} of`, 'm'), '# nats-N of')
        .replace(`nats-server -c nats-${i + 1}.conf -t`, 'nats-server -c nats-N.conf -t'),
    );
    expect(normalised[0]).toContain('server_name: nats-N');
    expect(normalised[1]).toBe(normalised[0]);
    expect(normalised[2]).toBe(normalised[0]);
    for (const t of texts) expect(t).toContain(`"md.events.*.*": "${partitionMappingDestination(DEPLOY_P)}"`);
    // The compose members and the stream definition agree with the servers.
    const compose = read(join(DIR, 'docker-compose.yml'));
    expect(compose).toContain(`CLUSTER_PARTITIONS: "${DEPLOY_P}"`);
    const stream = JSON.parse(read(join(DIR, 'md-events.json'))) as { num_replicas: number; subjects: string[] };
    expect(stream.num_replicas).toBe(3);
    expect(stream.subjects).toEqual(['md.events.>']);
  });

  it.skipIf(!hasServer)('every file passes nats-server -t', () => {
    for (const f of FILES) {
      const r = spawnSync(natsServerBin(), ['-c', f, '-t'], { encoding: 'utf8', timeout: 10_000 });
      expect(r.status, `${f}: ${r.stderr}`).toBe(0);
    }
  });

  describe.skipIf(!hasServer)('the shipped files run as a cluster', () => {
    let cluster: TestNatsCluster | null = null;
    afterAll(async () => {
      await cluster?.stop();
    });

    it('stores md.events under partition tokens equal to partitionOf, in a stream replicated 3x', async () => {
      cluster = await TestNatsCluster.start({ partitions: DEPLOY_P, render: localised });
      await cluster.waitForJetStream();
      const nc = await cluster.connect();
      try {
        const jsm = await jetstreamManager(nc);
        const config = JSON.parse(read(join(DIR, 'md-events.json'))) as Partial<StreamConfig> & { name: string };
        const si = await jsm.streams.add(config);
        expect(si.config.num_replicas).toBe(3);
        const kv = await new Kvm(nc).create('senpai_cluster', { replicas: 3, history: 1 });
        expect((await kv.status()).replicas).toBe(3);

        const js = jetstream(nc);
        const symbols = Array.from({ length: 200 }, (_, i) => `SYM${i}USDT`);
        for (const s of symbols) await js.publish(`md.events.trade.${s}`, '{}');
        await js.publish('md.events.heartbeat.__system__', '{}');
        const info = await waitFor(async () => {
          const i = await jsm.streams.info('MD_EVENTS', { subjects_filter: 'md.events.>' });
          return i.state.messages === symbols.length + 1 ? i : null;
        }, 'all stored');
        const subjects = Object.keys(info.state.subjects ?? {});
        expect(subjects).toHaveLength(symbols.length + 1);
        for (const subject of subjects) {
          const symbol = subject.split('.')[3] as string;
          expect(partitionOfSubject(subject), subject).toBe(partitionOf(symbol, DEPLOY_P));
        }
        expect(new Set(subjects.map(partitionOfSubject)).size).toBe(DEPLOY_P);
      } finally {
        await nc.close();
      }
    });
  });
});
