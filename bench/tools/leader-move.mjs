#!/usr/bin/env node
/**
 * How long a JetStream pull consumer stops receiving when its consumer leader
 * moves (`stepdown`: `$JS.API.CONSUMER.LEADER.STEPDOWN`, as in a rolling
 * restart) or dies with its nats-server (`kill`: SIGKILL of that node), for a
 * given idle heartbeat (DECISIONS 101). A three-node cluster of its own, an R3
 * stream and durable, a publisher on a surviving node sending every 5 ms and
 * awaiting each ack, and a bare nats.js `consume({callback})` (expires 5 s by
 * default, as the service's live pulls) on a node that survives. Prints, per run, the
 * longest pause in deliveries after the event, the publisher's longest pause
 * (a stream leader on the killed node stalls the publishes too), and the
 * longest time from a publish's ack to its delivery.
 *
 *   node bench/tools/leader-move.mjs [--heartbeat 1000] [--expires 5000] [--mode stepdown|kill] [--runs 3]
 *
 * `--heartbeat 0` leaves nats.js's default (half of expires); `--expires 30000 --heartbeat 0` is
 * nats.js's default pull, as the service had before DECISIONS 97. Needs `npm run build`.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { LocalNatsCluster } from '../../dist/cli/local-nats-cluster.js';
import { parseArgs } from '../lib/common.mjs';
import { natsServerBin } from '../lib/nats-server.mjs';

const args = parseArgs(process.argv.slice(2));
const heartbeat = Number(args.heartbeat ?? 1000);
const mode = args.mode === 'kill' ? 'kill' : 'stepdown';
const runs = Number(args.runs ?? 3);
const expires = Number(args.expires ?? 5000);
const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));

async function once() {
  const cluster = await LocalNatsCluster.start({ bin: natsServerBin(), partitions: 0 });
  try {
    await cluster.waitForJetStream();
    const admin = await connect({ servers: cluster.url(0), noRandomize: true });
    const jsm = await jetstreamManager(admin);
    for (;;) {
      const made = await jsm.streams.add({ name: 'S', subjects: ['x.>'], num_replicas: 3 }).then(() => true, () => false);
      if (made) break;
      await sleep(250);
    }
    await jsm.consumers.add('S', { durable_name: 'd', ack_policy: 'explicit', num_replicas: 3 });
    // the consumer's leader on n3, the publisher on n1, the consumer on n2: n3 can die alone
    for (;;) {
      if ((await jsm.consumers.info('S', 'd')).cluster?.leader === cluster.serverName(2)) break;
      await admin.request('$JS.API.CONSUMER.LEADER.STEPDOWN.S.d', '', { timeout: 5000 }).catch(() => undefined);
      await sleep(500);
    }
    const nc = await connect({ servers: cluster.url(1), noRandomize: true });
    const consumer = await jetstream(nc).consumers.get('S', 'd');
    /** @type {number[]} */ const recvAt = [];
    /** @type {number[]} */ const ackAt = [];
    let t0 = 0;
    let last = 0;
    let gap = 0;
    const messages = await consumer.consume({
      max_messages: 100,
      expires,
      ...(heartbeat > 0 ? { idle_heartbeat: heartbeat } : {}),
      callback: (m) => {
        const now = Date.now();
        recvAt[Number(m.subject.slice(2))] = now;
        if (t0 > 0) gap = Math.max(gap, now - Math.max(last, t0));
        last = now;
        m.ack();
      },
    });
    const js = jetstream(admin);
    let sending = true;
    let pubGap = 0;
    let lastPub = 0;
    const feed = (async () => {
      for (let i = 0; sending; i++) {
        const ok = await js.publish(`x.${i}`, 'x', { timeout: 20_000 }).then(() => true, () => false);
        const now = Date.now();
        if (ok) {
          ackAt[i] = now;
          if (t0 > 0 && lastPub > 0) pubGap = Math.max(pubGap, now - lastPub);
          lastPub = now;
        }
        await sleep(5);
      }
    })();
    await sleep(3000);
    t0 = Date.now();
    if (mode === 'stepdown') await admin.request('$JS.API.CONSUMER.LEADER.STEPDOWN.S.d', '', { timeout: 5000 });
    else await cluster.kill(2);
    await sleep(Math.max(25_000, 2 * expires));
    sending = false;
    await feed;
    let lag = 0;
    for (let i = 0; i < ackAt.length; i++) {
      const a = ackAt[i];
      const r = recvAt[i];
      if (a !== undefined && r !== undefined && a >= t0) lag = Math.max(lag, r - a);
    }
    await messages.close();
    await nc.close();
    await admin.close();
    return { gap, pubGap, lag };
  } finally {
    await cluster.stop();
  }
}

for (let r = 1; r <= runs; r++) {
  const { gap, pubGap, lag } = await once();
  process.stdout.write(`${mode}, expires ${expires} ms, idle heartbeat ${heartbeat > 0 ? `${heartbeat} ms` : `default (${expires / 2000} s)`}, run ${r}: deliveries paused ${gap} ms; publisher paused ${pubGap} ms; ack → delivery at most ${lag} ms\n`);
}
