#!/usr/bin/env node
/**
 * A/B of two builds end to end over core NATS: `bench/nats.mjs --no-jetstream --no-worker`
 * of A_ROOT and B_ROOT taking turns, `--rounds` times each, and per run the
 * service's rate, its CPU per message (the process's CPU time over the
 * messages, which scheduling noise on a shared host moves less than the
 * rate), the default-queue backpressure run's rate and the RSS, then the
 * medians. The bare subscriber's rate is shown too: when it spreads widely,
 * read the service's own figures, not the ratio.
 *
 *   node bench/tools/ab-nats.mjs A_ROOT B_ROOT [--rounds 3] [--reps 3] [--events 300000]
 *
 * A_ROOT and B_ROOT are checkouts with a built `dist/` (see ab-engine.mjs).
 */
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { abArgs, median } from '../lib/common.mjs';

const argv = process.argv.slice(2);
const { roots, args } = abArgs(argv, 'node bench/tools/ab-nats.mjs A_ROOT B_ROOT [--rounds 3] [--reps 3] [--events 300000]');
const rounds = Number(args.rounds ?? 3);
const reps = String(args.reps ?? 3);
const events = String(args.events ?? 300_000);

/** @type {Record<string, {rate: number[], cpuUs: number[], bp: number[], rss: number[], bare: number[]}>} */
const acc = {};
const k = (/** @type {number} */ x) => Math.round(x / 1000);

for (let round = 0; round < rounds; round++) {
  for (const root of roots) {
    const out = execFileSync(process.execPath, ['bench/nats.mjs', '--no-jetstream', '--no-worker', '--reps', reps, '--events', events], {
      cwd: resolve(root),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      maxBuffer: 64 * 1024 * 1024,
    });
    const j = JSON.parse(out);
    const svc = j.core.service;
    const a = (acc[root] ??= { rate: [], cpuUs: [], bp: [], rss: [], bare: [] });
    for (const r of svc) {
      a.rate.push(r.rate);
      a.cpuUs.push(((r.cpuPercent / 100) * 1e6) / r.rate);
      a.rss.push(r.rss / 1e6);
    }
    a.bare.push(...j.core.bare.map((/** @type {{rate: number}} */ r) => r.rate));
    a.bp.push(j.backpressure.rate);
    process.stdout.write(
      `${root}  service ${svc.map((/** @type {{rate: number}} */ r) => k(r.rate)).join('/')}k/s` +
        `  CPU ${svc.map((/** @type {{rate: number, cpuPercent: number}} */ r) => (((r.cpuPercent / 100) * 1e6) / r.rate).toFixed(2)).join('/')} µs/msg` +
        `  backpressure ${k(j.backpressure.rate)}k/s  bare ${j.core.bare.map((/** @type {{rate: number}} */ r) => k(r.rate)).join('/')}k/s\n`,
    );
  }
}
for (const root of roots) {
  const a = acc[root];
  process.stdout.write(
    `median ${root}: service ${k(median(a.rate))}k/s, CPU ${median(a.cpuUs).toFixed(2)} µs/msg, backpressure ${k(median(a.bp))}k/s, RSS ${Math.round(median(a.rss))} MB, bare ${k(median(a.bare))}k/s (${k(Math.min(...a.bare))}–${k(Math.max(...a.bare))}k)\n`,
  );
}
