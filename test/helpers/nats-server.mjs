// @ts-check
/* global fetch */
/**
 * The one nats-server launcher of the repository, shared by the tests and the
 * benchmarks: a server of the caller's own on free loopback ports with a temp
 * store, never the server someone else runs on 4222.
 *
 * Plain ES module with JSDoc types (checked by `tsc`, `checkJs`): the benchmarks
 * run it under plain `node`, the tests import it through `nats-server.ts`
 * (vitest, `allowJs`). One file, no build step for either side. It does not
 * search for the binary: the caller passes `bin`, found by the repository's one
 * rule, `natsServerCommand` of src/cli/local-nats-cluster.ts (the tests import it
 * from src through nats-server.ts, the benchmarks from dist).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A free TCP port on 127.0.0.1 (bound then released).
 * @returns {Promise<number>}
 */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Whether something accepts TCP connections on 127.0.0.1:`port`.
 * @param {number} port
 * @returns {Promise<boolean>}
 */
function canConnect(port) {
  return new Promise((resolve) => {
    const s = tcpConnect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * Polls `cond` until it is truthy or the deadline passes.
 * @template T
 * @param {() => T | Promise<T>} cond
 * @param {string} what
 * @param {number} [timeoutMs]
 * @param {number} [everyMs]
 * @returns {Promise<NonNullable<T>>}
 */
export async function waitFor(cond, what, timeoutMs = 15_000, everyMs = 25) {
  const deadline = Date.now() + timeoutMs;
  /** @type {unknown} */
  let last;
  for (;;) {
    try {
      const v = await cond();
      if (v) return /** @type {NonNullable<T>} */ (v);
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * @typedef {object} NatsServerOptions
 * @property {string} bin The nats-server binary.
 * @property {number} [port] Client port (default: a free one).
 * @property {boolean} [jetstream] JetStream on (default true).
 * @property {string} [storeDir] JetStream store directory (default: `js` in the server's temp dir, removed by `stop()`).
 * @property {string} [maxPayload] `max_payload` (default `4MB`).
 * @property {boolean | number} [monitor] The HTTP monitoring port (`/varz`): a port, `true` for a free one (default off).
 * @property {boolean} [highBacklog] The benchmarks' raised limits: `max_pending` 1GB, a 60 s `write_deadline` and
 *   large JetStream stores, so a burst of a million messages is not cut short by slow-consumer protection (default off).
 * @property {string} [writeDeadline] `write_deadline`: the server cuts off a client whose socket takes no more for that long
 *   (a slow consumer), e.g. `"1s"` (default: the server's 10 s).
 */

/** @typedef {{ slow_consumers?: number } & Record<string, unknown>} Varz The `/varz` object (the fields read here typed). */

/**
 * A nats-server of the caller's own: free port, JetStream in a temp store,
 * raised max_payload. `halt()`/`resume()` stop and restart it on the same port
 * and store; always `stop()` it (kills it and removes the temp dir).
 */
export class TestNatsServer {
  /** @type {import('node:child_process').ChildProcess | null} */
  #proc = null;

  /**
   * Use {@link TestNatsServer.start}.
   * @param {number} port
   * @param {number | null} monitorPort
   * @param {Required<Pick<NatsServerOptions, 'bin' | 'jetstream' | 'maxPayload' | 'highBacklog'>> & { storeDir: string | null, writeDeadline: string | null }} opts
   */
  constructor(port, monitorPort, opts) {
    /** @readonly The nats-server binary. */
    this.bin = opts.bin;
    /** @readonly */
    this.port = port;
    /** @readonly The monitoring port, null when off. */
    this.monitorPort = monitorPort;
    /** @readonly */
    this.jetstream = opts.jetstream;
    /** @readonly The temp dir: configuration, log tail, default store. */
    this.dir = mkdtempSync(join(tmpdir(), 'senpai-nats-'));
    const store = opts.storeDir ?? join(this.dir, 'js');
    if (opts.storeDir !== null) mkdirSync(opts.storeDir, { recursive: true });
    const jsLimits = opts.highBacklog ? ', max_memory_store: 1GB, max_file_store: 20GB' : '';
    const lines = [`listen: 127.0.0.1:${port}`, `max_payload: ${opts.maxPayload}`];
    if (monitorPort !== null) lines.push(`http: 127.0.0.1:${monitorPort}`);
    if (opts.highBacklog) lines.push('max_pending: 1GB', 'write_deadline: "60s"');
    else if (opts.writeDeadline !== null) lines.push(`write_deadline: "${opts.writeDeadline}"`);
    if (opts.jetstream) lines.push(`jetstream { store_dir: "${store}"${jsLimits} }`);
    writeFileSync(join(this.dir, 'nats.conf'), lines.join('\n') + '\n');
  }

  /**
   * Writes the configuration and starts the server; resolves once it accepts clients.
   * @param {NatsServerOptions} opts
   * @returns {Promise<TestNatsServer>}
   */
  static async start(opts) {
    const port = opts.port ?? (await freePort());
    let monitorPort = null;
    if (typeof opts.monitor === 'number') monitorPort = opts.monitor;
    else if (opts.monitor === true) {
      do monitorPort = await freePort();
      while (monitorPort === port);
    }
    const s = new TestNatsServer(port, monitorPort, {
      bin: opts.bin,
      jetstream: opts.jetstream ?? true,
      maxPayload: opts.maxPayload ?? '4MB',
      highBacklog: opts.highBacklog ?? false,
      storeDir: opts.storeDir ?? null,
      writeDeadline: opts.writeDeadline ?? null,
    });
    try {
      await s.resume();
    } catch (err) {
      await s.stop();
      throw err;
    }
    return s;
  }

  get url() {
    return `nats://127.0.0.1:${this.port}`;
  }

  /**
   * (Re)starts the server on the same port and store.
   * @returns {Promise<void>}
   */
  async resume() {
    if (this.#proc !== null) return;
    const proc = spawn(this.bin, ['-c', join(this.dir, 'nats.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    proc.stderr?.on('data', (/** @type {Buffer} */ d) => {
      log = (log + d.toString()).slice(-4000);
    });
    this.#proc = proc;
    await waitFor(async () => proc.exitCode === null && (await canConnect(this.port)), `nats-server on ${this.port} (${log})`, 10_000);
  }

  /** Freezes the server (SIGSTOP): its sockets stay open, nothing is delivered; {@link thaw} lets it run on. */
  freeze() {
    this.#proc?.kill('SIGSTOP');
  }

  thaw() {
    this.#proc?.kill('SIGCONT');
  }

  /**
   * Stops the server (SIGTERM, then SIGKILL) and waits for it to exit.
   * @returns {Promise<void>}
   */
  async halt() {
    const p = this.#proc;
    if (p === null) return;
    this.#proc = null;
    if (p.exitCode !== null || p.signalCode !== null) return;
    /** @type {Promise<void>} */
    const exited = new Promise((r) => p.once('exit', () => r()));
    p.kill('SIGCONT'); // a frozen server would not act on SIGTERM
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(t);
  }

  /**
   * Stops the server and removes its temp dir (and the default store in it).
   * @returns {Promise<void>}
   */
  async stop() {
    await this.halt();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /**
   * Server statistics from the monitoring endpoint (`/varz`); needs `monitor`.
   * @returns {Promise<Varz>}
   */
  async varz() {
    if (this.monitorPort === null) throw new Error('varz: the server was started without a monitoring port');
    const res = await fetch(`http://127.0.0.1:${this.monitorPort}/varz`);
    return /** @type {Varz} */ (await res.json());
  }
}
