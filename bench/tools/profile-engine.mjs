#!/usr/bin/env node
/**
 * CPU profile of the engine path alone (decode → ingest → features), for
 * finding what to optimise: warms the windows, then profiles `--events` more
 * events and writes a .cpuprofile (read it with cpuprofile-top.mjs).
 *
 *   node --expose-gc bench/tools/profile-engine.mjs [--symbols 8] [--rate 20000] [--mode compute|live] [--events 600000] [--out engine.cpuprofile]
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { MarketEngine } from '../../dist/engine/market-engine.js';
import { ThrottledFeaturePublisher } from '../../dist/publish/feature-publisher.js';
import { runEngine } from '../engine.mjs';
import { engineConfig, fullGc, parseArgs } from '../lib/common.mjs';
import { SimulatedStream } from '../lib/stream.mjs';

const args = parseArgs(process.argv.slice(2));
const symbols = Number(args.symbols ?? 8);
const rate = Number(args.rate ?? 20_000);
const windowMs = Number(args.window ?? 60) * 1000;
const events = Number(args.events ?? 600_000);
const mode = args.mode === 'live' ? 'live' : 'compute';
const out = typeof args.out === 'string' ? args.out : 'engine.cpuprofile';

const stream = new SimulatedStream({ symbols, rate });
const engine = new MarketEngine(engineConfig(windowMs), 'live');
let clock = 0;
const counter = { count: 0 };
const publisher = Object.assign(counter, { throttle: new ThrottledFeaturePublisher(10, () => counter.count++, () => clock) });
const warmUntil = stream.lastMs + windowMs + 5000;
while (stream.lastMs < warmUntil) {
  const c = stream.chunk(100_000);
  runEngine(engine, c, 0, c.count, mode, publisher);
}
const chunk = stream.chunk(events);
fullGc();
const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.setSamplingInterval', { interval: 100 });
await session.post('Profiler.start');
const r = runEngine(engine, chunk, 0, chunk.count, mode, publisher);
const { profile } = await session.post('Profiler.stop');
writeFileSync(out, JSON.stringify(profile));
process.stdout.write(`${mode}: ${Math.round(r.events / (r.ns / 1e9)).toLocaleString('en-US')} events/s (${(r.ns / r.events).toFixed(0)} ns/event, profiled); profile in ${out}\n`);
