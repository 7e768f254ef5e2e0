/**
 * A nats-server of the benchmark's own: free ports, JetStream in a temp store,
 * removed afterwards. Never the server someone else runs on 4222.
 */
/* global fetch */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function natsServerBin() {
  const env = process.env.NATS_SERVER_BIN;
  if (env !== undefined && env !== '') return env;
  return existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server';
}

/** A free TCP port on 127.0.0.1 (bound, then released). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(addr.port));
    });
  });
}

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

export class BenchNatsServer {
  /**
   * Starts a server. The backlog limits are raised (max_pending 1 GB, a 60 s
   * write deadline) so a burst of a million messages is not cut short by
   * slow-consumer protection; the ceiling and the service get the same server.
   */
  static async start() {
    const s = new BenchNatsServer();
    s.port = await freePort();
    s.monitorPort = await freePort();
    s.dir = mkdtempSync(join(tmpdir(), 'senpai-bench-nats-'));
    writeFileSync(
      join(s.dir, 'nats.conf'),
      [
        `listen: 127.0.0.1:${s.port}`,
        `http: 127.0.0.1:${s.monitorPort}`,
        'max_payload: 1MB',
        'max_pending: 1GB',
        'write_deadline: "60s"',
        `jetstream { store_dir: "${join(s.dir, 'js')}", max_memory_store: 1GB, max_file_store: 20GB }`,
      ].join('\n'),
    );
    let log = '';
    s.proc = spawn(natsServerBin(), ['-c', join(s.dir, 'nats.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
    s.proc.stderr.on('data', (d) => {
      log = (log + d.toString()).slice(-4000);
    });
    const deadline = Date.now() + 10_000;
    while (!(s.proc.exitCode === null && (await canConnect(s.port)))) {
      if (Date.now() > deadline || s.proc.exitCode !== null) throw new Error(`nats-server did not start: ${log}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    return s;
  }

  get url() {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** Server statistics from the monitoring endpoint (/varz). */
  async varz() {
    const res = await fetch(`http://127.0.0.1:${this.monitorPort}/varz`);
    return res.json();
  }

  async stop() {
    const p = this.proc;
    if (p !== undefined && p.exitCode === null) {
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      const t = setTimeout(() => p.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
    }
    if (this.dir !== undefined) rmSync(this.dir, { recursive: true, force: true });
  }
}
