/* global fetch, TextEncoder */
/**
 * Warm-up time (SPEC §11): a JetStream stream holding 60 s of a 20k events/s
 * feed (1.2 M messages, simulated, 8 symbols), then the service started in
 * JetStream mode; the figure is senpai_warmup_seconds (replay from the stream
 * into the windows), beside the time to just read the same messages with a
 * bare ordered consumer in the same run.
 *
 *   node bench/warmup.mjs [--rate 20000] [--seconds 60] [--quick]
 */
import { spawn } from 'node:child_process';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { emitResult, parseArgs, progress } from './lib/common.mjs';
import { BenchNatsServer, freePort } from './lib/nats-server.mjs';
import { SimulatedStream } from './lib/stream.mjs';

const ROOT = new URL('..', import.meta.url).pathname;
const args = parseArgs(process.argv.slice(2));
const quick = args.quick === true;
const rate = Number(args.rate ?? 20_000);
const seconds = Number(args.seconds ?? (quick ? 10 : 60));
const total = rate * seconds;

const nats = await BenchNatsServer.start();
const nc = await connect({ servers: nats.url });
try {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'MD_EVENTS', subjects: ['md.events.>'], max_age: 24 * 3600 * 1e9 });
  // event times spread over the last `seconds`, so the whole history is inside W + margin
  const now = Date.now();
  const stream = new SimulatedStream({ symbols: 8, rate, seed: 7, startMs: now - seconds * 1000 });
  const enc = new TextEncoder();
  progress(`storing ${total.toLocaleString()} messages (${seconds} s at ${rate}/s)`);
  const js = jetstream(nc);
  // core publishes into the stream (paced by flushes): storing must take less than the margin below
  const storeStart = performance.now();
  for (let i = 0; i < total; i++) {
    const m = stream.next();
    nc.publish(m.subject, enc.encode(JSON.stringify(m.payload)));
    if (i % 5000 === 4999) await nc.flush();
  }
  await nc.flush();
  let info = await jsm.streams.info('MD_EVENTS');
  while (info.state.messages < total && performance.now() - storeStart < 600_000) {
    await new Promise((r) => setTimeout(r, 100));
    info = await jsm.streams.info('MD_EVENTS');
  }
  const storeSeconds = (performance.now() - storeStart) / 1000;
  progress(`stored ${info.state.messages.toLocaleString()} messages, ${(info.state.bytes / 2 ** 20).toFixed(0)} MiB in ${storeSeconds.toFixed(1)} s`);

  // reference: read the same messages with a bare ordered consumer
  const t0 = performance.now();
  const consumer = await js.consumers.get('MD_EVENTS');
  let read = 0;
  await new Promise((resolve) => {
    void consumer.consume({
      max_messages: 4096,
      callback: (m) => {
        read++;
        if (m.info.pending === 0) resolve(undefined);
      },
    });
  });
  const bareSeconds = (performance.now() - t0) / 1000;

  // the service: JetStream mode with warm-up; /health 200 once warm
  const port = await freePort();
  // the warm-up reads W + margin back from now: the margin covers the time spent storing and reading above
  const marginS = Math.ceil((performance.now() - storeStart) / 1000) + 10;
  const started = performance.now();
  const child = spawn(process.execPath, [`${ROOT}bin/senpai-md`, 'run'], {
    env: { PATH: process.env.PATH, NATS_URL: nats.url, USE_JETSTREAM: 'true', HTTP_HOST: '127.0.0.1', HTTP_PORT: String(port), LOG_LEVEL: 'warn', WARMUP_MARGIN_S: String(marginS) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  let metrics = '';
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/health`);
      if (res.status === 200) {
        metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        break;
      }
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const toHealthySeconds = (performance.now() - started) / 1000;
  const metric = (/** @type {string} */ name) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1]);
  const rss = Number(/^process_resident_memory_bytes (\S+)$/m.exec(metrics)?.[1]);
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  const result = {
    rate,
    seconds,
    stored: info.state.messages,
    storedBytes: info.state.bytes,
    warmupSeconds: metric('senpai_warmup_seconds'),
    replayed: metric('senpai_warmup_messages_total'),
    toHealthySeconds,
    bareReadSeconds: bareSeconds,
    bareRead: read,
    rssAfter: rss,
  };
  progress(`warm-up ${result.warmupSeconds.toFixed(2)} s for ${result.replayed.toLocaleString()} messages (bare read ${bareSeconds.toFixed(2)} s); healthy after ${toHealthySeconds.toFixed(2)} s`);
  emitResult(args, result);
} finally {
  await nc.close();
  await nats.stop();
}
