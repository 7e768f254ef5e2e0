import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { partitionOf } from '../../src/cluster/partition.js';
import { CliProcess, alive } from '../helpers/cli-process.js';
import { CHROMIUM, launchChromium, watchedPage } from '../helpers/chromium.js';
import { freePort, natsServerBin, waitFor } from '../helpers/nats-server.js';
import { getJson } from '../helpers/service.js';

const P = 12;

/** The processes whose parent is `pid` (from /proc), so the test knows every process the demo started. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // the ppid is the second field after the parenthesised command
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

interface ClusterBody {
  member: string;
  members: { id: string; http_url: string }[];
  partitions: { partition: number; owner: string | null }[];
}

/** Left behind by a failed run: killed in afterAll so that no run leaves processes behind. */
const leftovers: number[] = [];
afterAll(() => {
  for (const pid of leftovers) if (alive(pid)) process.kill(pid, 'SIGKILL');
});

describe('senpai-md demo --cluster 3', () => {
  it(`starts three nats-servers and three members that own every partition exactly once, with features and the cluster panel${existsSync(CHROMIUM) ? '' : ` (panel not checked: no browser at ${CHROMIUM})`}; SIGTERM leaves no process behind`, async () => {
    const httpPort = await freePort();
    // all of its output: the lines naming the servers and members come first
    // a 3 s lease (the members read it from the demo's environment), so the kill -9 below is taken over quickly
    const demo = CliProcess.start(['demo', '--cluster', '3'], { NATS_SERVER_BIN: natsServerBin(), HTTP_PORT: String(httpPort), HTTP_HOST: '127.0.0.1', CLUSTER_LEASE_MS: '3000' }, { outputLimit: Number.POSITIVE_INFINITY });
    try {
      await waitFor(() => demo.output.includes('demo is live'), `the demo to be live (${demo.output})`, 120_000, 200);
      const out = demo.output;
      const servers = [...out.matchAll(/demo: nats-server n\d at \S+ \(pid (\d+)\)/g)].map((m) => Number(m[1]));
      const members = [...out.matchAll(/demo: (member-\d) on (\S+) \(pid (\d+)\)/g)].map((m) => ({ id: m[1]!, url: m[2]!, pid: Number(m[3]) }));
      const started = childrenOf(demo.pid);
      leftovers.push(...started);
      expect(servers).toHaveLength(3);
      expect(members.map((m) => m.id)).toEqual(['member-1', 'member-2', 'member-3']);
      // the nats-servers, the members and the simulator are the demo's own children
      expect(started.sort()).toEqual(expect.arrayContaining([...servers, ...members.map((m) => m.pid)].sort()));
      expect(started).toHaveLength(7);

      // every member sees the three and a owner for every partition; what each processes (/health) splits the twelve
      await waitFor(
        async () => {
          const views = await Promise.all(members.map(async (m) => (await getJson(`${m.url}cluster`)).body as unknown as ClusterBody));
          const owned = await Promise.all(members.map(async (m) => ((await getJson(`${m.url}health`)).body.partitions as number[] | undefined) ?? []));
          const all = owned.flat().sort((a, b) => a - b);
          return (
            views.every((v, i) => v.member === members[i]!.id && v.members.length === 3 && v.partitions.every((p) => p.owner !== null)) &&
            owned.every((o) => o.length > 0) &&
            all.length === P &&
            all.every((k, i) => k === i)
          );
        },
        'three members reporting partitions that together are every partition once',
        60_000,
        250,
      );
      const view = (await getJson(`${members[0]!.url}cluster`)).body as unknown as ClusterBody;
      for (const m of members) {
        const health = await getJson(`${m.url}health`);
        expect(health.body.partitions, m.id).toEqual(view.partitions.filter((p) => p.owner === m.id).map((p) => p.partition));
      }

      // live features at once, from the owner of the symbol (421 elsewhere)
      await waitFor(
        async () => {
          const owner = view.partitions[partitionOf('BTCUSDT', P)]!.owner!;
          const url = members.find((m) => m.id === owner)!.url;
          const f = await getJson(`${url}features/latest?symbol=BTCUSDT`);
          const other = members.find((m) => m.id !== owner)!;
          const moved = await getJson(`${other.url}features/latest?symbol=BTCUSDT`);
          return f.status === 200 && f.body.symbol === 'BTCUSDT' && moved.status === 421 && moved.body.owner === owner;
        },
        'BTCUSDT features from its owner, 421 from the others',
        30_000,
        250,
      );

      if (existsSync(CHROMIUM)) {
        // the dashboard of member-2 shows who owns what, itself marked, and the owner of the symbol it charts
        const member = members[1]!;
        const browser = await launchChromium();
        try {
          const consoleErrors: string[] = [];
          const page = await watchedPage(browser, member.url.replace(/\/$/, ''), consoleErrors, []);
          await page.goto(member.url);
          const panel = page.getByTestId('cluster');
          await panel.waitFor({ state: 'visible', timeout: 15_000 });
          const owner = page.getByTestId('cluster-owner');
          await waitFor(async () => (await owner.getAttribute('data-symbol')) !== '', 'a charted symbol', 15_000, 100);
          const symbol = (await owner.getAttribute('data-symbol'))!;
          const k = partitionOf(symbol, P);
          expect(await owner.getAttribute('data-partition')).toBe(String(k));
          expect(await owner.getAttribute('data-owner')).toBe(view.partitions[k]!.owner);
          expect(await owner.innerText()).toContain(`${member.id} (this member)`);
          for (const m of members) {
            const row = page.getByTestId(`cluster-member-${m.id}`);
            expect(await row.getAttribute('data-partitions'), m.id).toBe(view.partitions.filter((p) => p.owner === m.id).map((p) => p.partition).join(','));
            expect(await row.getAttribute('data-self'), m.id).toBe(String(m.id === member.id));
          }
          expect(consoleErrors).toEqual([]);
        } finally {
          await browser.close();
        }
      }

      // kill -9 of a member, as the README suggests: the demo keeps running and the other two own every partition
      process.kill(members[2]!.pid, 'SIGKILL');
      await waitFor(() => demo.output.includes('demo: member-3 exited (SIGKILL); member-1, member-2 take over its partitions'), `the demo to say so (${demo.output.slice(-2000)})`, 10_000, 100);
      await waitFor(
        async () => {
          const owned = await Promise.all(members.slice(0, 2).map(async (m) => ((await getJson(`${m.url}health`)).body.partitions as number[] | undefined) ?? []));
          const all = owned.flat().sort((a, b) => a - b);
          return all.length === P && all.every((k, i) => k === i);
        },
        'member-1 and member-2 owning every partition once',
        30_000,
        250,
      );
      expect(demo.output).not.toContain('stopping the rest');

      demo.kill('SIGTERM');
      expect(await demo.exited).toBe(0);
      expect(started.filter(alive)).toEqual([]);
      expect(demo.output).toMatch(/demo: stopping\n[\s\S]*demo: stopped in \d+ ms/);
    } finally {
      demo.kill('SIGKILL');
    }
  }, 180_000);
});
