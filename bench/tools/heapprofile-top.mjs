#!/usr/bin/env node
/**
 * The allocation sites of a sampling heap profile (`.heapprofile`, as written by
 * `BENCH_ALLOC_PROFILE=FILE` in bench/nats-consumer.mjs or Chrome DevTools), by
 * self size, with bytes per message when the profile carries its message count.
 *
 *   node bench/tools/heapprofile-top.mjs FILE [N]
 */
import { readFileSync } from 'node:fs';

const [file, nArg] = process.argv.slice(2);
if (file === undefined) {
  console.error('usage: node bench/tools/heapprofile-top.mjs FILE [N]');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8'));
/** @type {Map<string, number>} */
const bySite = new Map();
let total = 0;
/** @param {any} node */
function walk(node) {
  const f = node.callFrame;
  const self = node.selfSize ?? 0;
  if (self > 0) {
    const url = String(f.url).replace(/^file:\/\/.*?\/(dist|node_modules|bench)\//, '$1/');
    const key = `${f.functionName || '(anonymous)'} ${url}:${f.lineNumber + 1}`;
    bySite.set(key, (bySite.get(key) ?? 0) + self);
    total += self;
  }
  for (const c of node.children ?? []) walk(c);
}
walk(profile.head);
const perMessage = typeof profile.messages === 'number' && profile.messages > 0 ? profile.messages : null;
const fmt = (/** @type {number} */ b) => (perMessage === null ? `${(b / 1e6).toFixed(1)} MB` : `${(b / perMessage).toFixed(0)} B/msg`);
console.log(`total ${fmt(total)}${perMessage === null ? '' : ` over ${perMessage} messages`}`);
for (const [k, v] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, Number(nArg ?? 30))) {
  console.log(`${((100 * v) / total).toFixed(1).padStart(5)} %  ${fmt(v).padStart(10)}  ${k}`);
}
