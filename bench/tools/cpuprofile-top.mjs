#!/usr/bin/env node
/**
 * Top self-time functions of a V8 .cpuprofile (from `node --cpu-prof`).
 * usage: node bench/tools/cpuprofile-top.mjs FILE.cpuprofile [N] [--lines]
 *   --lines: hottest source lines instead of functions (V8 records line ticks)
 */
import { readFileSync } from 'node:fs';

const argv = process.argv.slice(2);
const byLine = argv.includes('--lines');
const [file, nArg] = argv.filter((a) => a !== '--lines');
if (file === undefined) {
  process.stderr.write('usage: node bench/tools/cpuprofile-top.mjs FILE.cpuprofile [N]\n');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((/** @type {{ id: number }} */ n) => [n.id, n]));
const self = new Map();
const deltas = profile.timeDeltas;
let total = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const node = byId.get(profile.samples[i]);
  const dt = deltas[i] ?? 0;
  total += dt;
  const f = node.callFrame;
  const where = f.url === '' ? '' : `${f.url.replace(/^file:\/\/.*?\/(dist|bench|node_modules)\//, '$1/')}:${f.lineNumber + 1}`;
  const key = `${f.functionName || '(anonymous)'} ${where}`;
  self.set(key, (self.get(key) ?? 0) + dt);
}
if (byLine) {
  self.clear();
  const interval = total / Math.max(1, profile.samples.length);
  for (const node of profile.nodes) {
    const url = node.callFrame.url.replace(/^file:\/\/.*?\/(dist|bench|node_modules)\//, '$1/');
    for (const t of node.positionTicks ?? []) {
      const key = `${url}:${t.line} (${node.callFrame.functionName || '(anonymous)'})`;
      self.set(key, (self.get(key) ?? 0) + t.ticks * interval);
    }
  }
}
const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(nArg ?? 25));
for (const [k, v] of rows) process.stdout.write(`${((100 * v) / total).toFixed(1).padStart(5)} %  ${(v / 1000).toFixed(0).padStart(7)} ms  ${k}\n`);
