#!/usr/bin/env node
/**
 * What a message's subject costs the NATS callback (DECISIONS 93): on real
 * nats.js messages (24 subjects: three types × eight symbols, as the
 * benchmarks' feed), the public `msg.subject` (nats.js decodes its bytes) +
 * `subjectEventType` + a lookup in a subject table, against the subject memo
 * (`subjectOf` + `subjectTypeOf`) + the same lookup. Each round reads fresh
 * message objects (nats.js caches a decoded subject in the object), the two
 * ways alternating; ns per message, per round.
 *
 *   npm run build && node bench/tools/subject-cost.mjs [--messages 50000] [--rounds 8]
 */
import { connect } from '@nats-io/transport-node';
import { subjectEventType } from '../../dist/decode/decode.js';
import { subjectTypeOf } from '../../dist/decode/subject-intern.js';
import { subjectOf } from '../../dist/nats/subject-memo.js';
import { median, parseArgs } from '../lib/common.mjs';
import { BenchNatsServer } from '../lib/nats-server.mjs';

const args = parseArgs(process.argv.slice(2));
const n = Number(args.messages ?? 50_000);
const rounds = Number(args.rounds ?? 8);
const subjects = ['trade', 'quote', 'book_l2'].flatMap((t) => Array.from({ length: 8 }, (_, s) => `md.events.${t}.SYM${s}USDT`));

const server = await BenchNatsServer.start();
const nc = await connect({ servers: server.url });
try {
  /** @type {import('@nats-io/transport-node').Msg[]} */
  const got = [];
  const all = new Promise((resolve) => {
    nc.subscribe('md.events.>', {
      callback: (err, m) => {
        if (err === null && got.push(m) === n) resolve(undefined);
      },
    });
  });
  await nc.flush();
  for (let i = 0; i < n; i++) nc.publish(subjects[i % subjects.length], '{}');
  await all;
  // fresh objects of nats.js's own message class over the same parsed messages
  const Msg = /** @type {any} */ (got[0]).constructor;
  const fresh = () => got.map((m) => new Msg(/** @type {any} */ (m)._msg, /** @type {any} */ (m)._rdata, /** @type {any} */ (m).publisher));
  const table = new Map(subjects.map((s, i) => [s, i]));
  let sink = 0;
  const before = [];
  const after = [];
  for (let r = 0; r < rounds; r++) {
    const a = fresh();
    const b = fresh();
    let t = performance.now();
    for (let i = 0; i < n; i++) {
      const s = a[i].subject;
      sink += subjectEventType(s).length + (table.get(s) ?? 0);
    }
    before.push(((performance.now() - t) * 1e6) / n);
    t = performance.now();
    for (let i = 0; i < n; i++) {
      const s = subjectOf(b[i]);
      sink += subjectTypeOf(s).length + (table.get(s) ?? 0);
    }
    after.push(((performance.now() - t) * 1e6) / n);
  }
  const f = (/** @type {number[]} */ xs) => xs.map((x) => x.toFixed(0)).join(' ');
  console.log(`msg.subject + subjectEventType + table: ${f(before)} ns (median ${median(before).toFixed(0)})`);
  console.log(`subjectOf + subjectTypeOf + table:      ${f(after)} ns (median ${median(after).toFixed(0)})`);
  if (sink === 0) console.log('');
} finally {
  await nc.close();
  await server.stop();
}
