import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The nats-server binary: NATS_SERVER_BIN, else /usr/sbin/nats-server, else PATH. */
export function natsServerBin(): string {
  const env = process.env.NATS_SERVER_BIN;
  if (env !== undefined && env !== '') return env;
  return existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server';
}

/** A free TCP port on 127.0.0.1 (bound then released). */
export async function freePort(): Promise<number> {
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

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Polls `cond` until it is truthy or the deadline passes. */
export async function waitFor<T>(cond: () => T | Promise<T>, what: string, timeoutMs = 15_000, everyMs = 25): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A nats-server of the test's own: free port, JetStream, temp store, raised max_payload. */
export class TestNatsServer {
  private proc: ChildProcess | null = null;
  readonly dir: string;

  private constructor(
    readonly port: number,
    readonly jetstream: boolean,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'senpai-nats-'));
    writeFileSync(
      join(this.dir, 'nats.conf'),
      [
        `listen: 127.0.0.1:${this.port}`,
        'max_payload: 4MB',
        jetstream ? `jetstream { store_dir: "${join(this.dir, 'js')}" }` : '',
      ].join('\n'),
    );
  }

  static async start(opts: { jetstream?: boolean } = {}): Promise<TestNatsServer> {
    const s = new TestNatsServer(await freePort(), opts.jetstream ?? true);
    await s.resume();
    return s;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** (Re)starts the server on the same port and store. */
  async resume(): Promise<void> {
    if (this.proc !== null) return;
    const proc = spawn(natsServerBin(), ['-c', join(this.dir, 'nats.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    proc.stderr?.on('data', (d: Buffer) => {
      log = (log + d.toString()).slice(-4000);
    });
    this.proc = proc;
    await waitFor(async () => proc.exitCode === null && (await canConnect(this.port)), `nats-server on ${this.port} (${log})`, 10_000);
  }

  /** Stops the server (SIGTERM, then SIGKILL) and waits for it to exit. */
  async halt(): Promise<void> {
    const p = this.proc;
    if (p === null) return;
    this.proc = null;
    if (p.exitCode !== null) return;
    const exited = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(t);
  }

  /** Stops the server and removes its store. */
  async stop(): Promise<void> {
    await this.halt();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
