/**
 * HTTP clients for bench/http-load.mjs, a child process of their own (loopback only):
 *
 *   streams  dashboard streams on /stream: `readers` that read everything and
 *            reconnect 2 s after a refusal or an end (as the page does), and
 *            `stalled` clients that send their request and never read a byte
 *            (a frozen tab, a stuck proxy), never reconnecting.
 *   load     a closed-loop load generator when wrk is missing: `connections`
 *            keep-alive connections, each sending its next GET as soon as the
 *            previous answer is in, for `seconds`.
 */
/* global setImmediate */
import { Agent, get } from 'node:http';
import { connect } from 'node:net';
import { serveParent, toParent } from './lib/child.mjs';
import { percentile } from './lib/common.mjs';

const RETRY_MS = 2000;

let stopping = false;
const sockets = new Set();
const timers = new Set();
const streams = { readersConnected: 0, readerConnects: 0, refused: 0, errors: 0, ended: 0, bytes: 0, stalledOpened: 0 };

function later(fn, ms) {
  const t = setTimeout(() => {
    timers.delete(t);
    fn();
  }, ms);
  timers.add(t);
}

function reader(port) {
  if (stopping) return;
  const retry = () => later(() => reader(port), RETRY_MS + Math.random() * 500);
  const req = get({ host: '127.0.0.1', port, path: '/stream', agent: false }, (res) => {
    sockets.add(res.socket);
    if (res.statusCode !== 200) {
      streams.refused++;
      res.resume();
      res.once('end', retry);
      return;
    }
    streams.readersConnected++;
    streams.readerConnects++;
    res.on('data', (d) => {
      streams.bytes += d.length;
    });
    res.once('close', () => {
      streams.readersConnected--;
      streams.ended++;
      retry();
    });
  });
  req.on('error', () => {
    if (stopping) return;
    streams.errors++;
    retry();
  });
}

function stalled(port) {
  const s = connect({ host: '127.0.0.1', port });
  sockets.add(s);
  s.on('error', () => undefined);
  s.once('connect', () => {
    streams.stalledOpened++;
    s.pause();
    s.write(`GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  });
}

async function load(m) {
  const agent = new Agent({ keepAlive: true, maxSockets: m.connections });
  const latencies = [];
  let ok = 0;
  let other = 0;
  let errors = 0;
  const end = performance.now() + m.seconds * 1000;
  const one = () =>
    new Promise((resolve) => {
      const t0 = performance.now();
      const req = get({ host: '127.0.0.1', port: m.port, path: m.path, agent }, (res) => {
        res.resume();
        res.once('end', () => {
          latencies.push(performance.now() - t0);
          if (res.statusCode === 200) ok++;
          else other++;
          resolve(undefined);
        });
      });
      req.on('error', () => {
        errors++;
        setTimeout(resolve, 10);
      });
    });
  const loops = [];
  for (let i = 0; i < m.connections; i++) {
    loops.push(
      (async () => {
        while (performance.now() < end && !stopping) await one();
      })(),
    );
  }
  const t0 = performance.now();
  await Promise.all(loops);
  const seconds = (performance.now() - t0) / 1000;
  agent.destroy();
  return { requests: ok + other, non2xx: other, errors, rate: (ok + other) / seconds, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), max: latencies.reduce((a, b) => Math.max(a, b), 0) };
}

serveParent(async (m) => {
  switch (m.type) {
    case 'streams': {
      // interleaved, so neither kind takes every slot by arriving first
      for (let i = 0; i < Math.max(m.stalled, m.readers); i++) {
        if (i < m.readers) reader(m.port);
        if (i < m.stalled) stalled(m.port);
      }
      toParent({ type: 'streams-started' });
      break;
    }
    case 'load': {
      const result = await load(m);
      toParent({ type: 'load-done', ...result });
      break;
    }
    case 'stop': {
      stopping = true;
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      toParent({ type: 'stopped', streams });
      setImmediate(() => process.exit(0));
      break;
    }
    default:
      throw new Error(`unknown command ${m.type}`);
  }
});
toParent({ type: 'ready' });
