/**
 * nats-servers of this machine's own for the demo, the tests and the
 * benchmarks (one launcher, so the three start the same SPEC §12 shape):
 * every node on free loopback ports, its own `server_name` and temp store,
 * JetStream and the partition mapping. It lives in `src/` because
 * `senpai-md demo --cluster` runs it from `dist/`; the tests and the bench
 * import it from there (test/helpers/nats-cluster.ts, bench/cluster.mjs), and
 * take the nats-server binary from it (test/helpers/nats-server.ts,
 * bench/lib/nats-server.mjs).
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import { PARTITION_MAPPING_SOURCE, partitionMappingDestination } from '../cluster/partition.js';
import { sleep, terminate } from './lifecycle.js';

/** Whether something accepts TCP connections at `host:port` within `timeoutMs`. */
export function reachable(hostPort: { host: string; port: number }, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect(hostPort);
    const t = setTimeout(() => {
      s.destroy();
      resolve(false);
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(t);
      s.destroy();
      resolve(true);
    });
    s.once('error', () => {
      clearTimeout(t);
      resolve(false);
    });
  });
}

/** Binds `port` on every interface and releases it: the port bound (any free one for 0), or null when taken. */
function bindOnce(port: number): Promise<number | null> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(null));
    srv.listen(port, '0.0.0.0', () => {
      const addr = srv.address();
      const p = typeof addr === 'object' && addr !== null ? addr.port : null;
      srv.close(() => resolve(p));
    });
  });
}

/** `preferred` when it is free, else any free port (0 asks for any). */
export async function freePort(preferred = 0): Promise<number> {
  return (await bindOnce(preferred)) ?? (await bindOnce(0)) ?? preferred;
}

/** `count` free ports: `first` and the next free ones above it (any free ones past 100 tries). */
export async function freePortsFrom(first: number, count: number): Promise<number[]> {
  const ports: number[] = [];
  for (let p = first; first > 0 && ports.length < count && p < first + 100 && p <= 65535; p++) {
    if ((await bindOnce(p)) === p) ports.push(p);
  }
  while (ports.length < count) {
    const p = await freePort();
    if (!ports.includes(p)) ports.push(p);
  }
  return ports;
}

/**
 * The nats-server binary: NATS_SERVER_BIN (if it exists), else PATH, else
 * /usr/sbin/nats-server (Debian's package, not on a non-root PATH); null when
 * none. The repository's one rule: the demo, the tests and the benchmarks all
 * find their binary here.
 */
export function natsServerBinary(env: Record<string, string | undefined>): string | null {
  const fromEnv = env.NATS_SERVER_BIN;
  if (fromEnv !== undefined && fromEnv !== '') return existsSync(fromEnv) ? fromEnv : null;
  const which = spawnSync('sh', ['-c', 'command -v nats-server'], { encoding: 'utf8' });
  if (which.status === 0 && which.stdout.trim() !== '') return which.stdout.trim();
  return existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : null;
}

/**
 * {@link natsServerBinary} for a caller that spawns it anyway (tests, benchmarks):
 * when none is found, the name asked for (NATS_SERVER_BIN, else `nats-server`),
 * so the spawn fails naming it rather than quietly running another binary.
 */
export function natsServerCommand(env: Record<string, string | undefined>): string {
  const fromEnv = env.NATS_SERVER_BIN;
  return natsServerBinary(env) ?? (fromEnv !== undefined && fromEnv !== '' ? fromEnv : 'nats-server');
}

/** Polls `cond` every `everyMs` until it is true; throws, naming `what` and the last error, after `timeoutMs`. */
async function until(cond: () => Promise<boolean>, what: string, timeoutMs: number, everyMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    try {
      if (await cond()) return;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last === null ? '' : `: ${String(last)}`}`);
    await sleep(everyMs);
  }
}

/** One node of a {@link LocalNatsCluster}. */
interface Node {
  readonly name: string;
  readonly port: number;
  readonly routePort: number;
  readonly monitorPort: number;
  readonly conf: string;
  proc: ChildProcess | null;
  log: string;
}

export interface LocalClusterOptions {
  /** The nats-server binary. */
  readonly bin: string;
  /** The partition count of the `md.events.*.*` mapping; 0 = no mapping. */
  readonly partitions: number;
  /** Nodes: 3 by default; 1 starts a plain server (no cluster block). */
  readonly size?: number;
  /** JetStream on every node (default true). */
  readonly jetstream?: boolean;
  /** Each node in a process group of its own, so a terminal's Ctrl-C reaches only its parent (the demo; default false). */
  readonly detached?: boolean;
  /** Writes a node's configuration instead of the generated one (e.g. a shipped file with the ports substituted). */
  readonly render?: ((node: NodeAddress) => string) | null;
}

/** Where one node lives, for {@link LocalClusterOptions.render}. */
export interface NodeAddress {
  readonly index: number;
  readonly name: string;
  readonly port: number;
  readonly routePort: number;
  readonly monitorPort: number;
  readonly storeDir: string;
  /** Every node's route port, this one's included. */
  readonly routePorts: readonly number[];
}

/**
 * A nats-server cluster on this machine (SPEC §12 shape): every node on free
 * loopback ports (client, routes, monitoring), its own `server_name` and temp
 * store, JetStream, `max_payload` 4MB and the partition mapping for P.
 * Always {@link stop} it: that stops every node and removes the stores.
 */
export class LocalNatsCluster {
  private readonly nodes: Node[] = [];
  /** The temp dir: configurations and stores. */
  readonly dir: string;

  private constructor(readonly options: Required<LocalClusterOptions>) {
    this.dir = mkdtempSync(join(tmpdir(), 'senpai-nats-cluster-'));
  }

  /** Starts every node and waits until each accepts client connections. */
  static async start(opts: LocalClusterOptions): Promise<LocalNatsCluster> {
    const c = new LocalNatsCluster({ size: 3, jetstream: true, detached: false, render: null, ...opts });
    try {
      await c.configure();
      await Promise.all(c.nodes.map((_, i) => c.restart(i)));
    } catch (err) {
      await c.stop();
      throw err;
    }
    return c;
  }

  private async configure(): Promise<void> {
    const { size, partitions, jetstream, render } = this.options;
    const ports: number[] = [];
    while (ports.length < size * 3) {
      const p = await freePort();
      if (!ports.includes(p)) ports.push(p);
    }
    const routePorts = Array.from({ length: size }, (_, i) => ports[i * 3 + 1] as number);
    for (let i = 0; i < size; i++) {
      const name = `n${i + 1}`;
      const port = ports[i * 3] as number;
      const routePort = ports[i * 3 + 1] as number;
      const monitorPort = ports[i * 3 + 2] as number;
      const conf = join(this.dir, `${name}.conf`);
      const storeDir = join(this.dir, name);
      const lines = [`server_name: ${name}`, `listen: 127.0.0.1:${port}`, `http: 127.0.0.1:${monitorPort}`, 'max_payload: 4MB'];
      if (jetstream) lines.push(`jetstream { store_dir: "${storeDir}", max_memory_store: 256MB, max_file_store: 2GB }`);
      if (size > 1) {
        const routes = routePorts.filter((p) => p !== routePort).map((p) => `nats-route://127.0.0.1:${p}`);
        lines.push(`cluster { name: senpai-local, listen: 127.0.0.1:${routePort}, routes: [${routes.join(', ')}] }`);
      }
      if (partitions > 0) lines.push(`mappings = { "${PARTITION_MAPPING_SOURCE}": "${partitionMappingDestination(partitions)}" }`);
      const text = render === null ? lines.join('\n') + '\n' : render({ index: i, name, port, routePort, monitorPort, storeDir, routePorts });
      writeFileSync(conf, text);
      this.nodes.push({ name, port, routePort, monitorPort, conf, proc: null, log: '' });
    }
  }

  private node(i: number): Node {
    const n = this.nodes[i];
    if (n === undefined) throw new RangeError(`no node ${i}`);
    return n;
  }

  /** Client URLs of every node, running or not. */
  get urls(): string[] {
    return this.nodes.map((n) => `nats://127.0.0.1:${n.port}`);
  }

  /** The running nodes' processes (for a caller that stops them in its own order). */
  get processes(): ChildProcess[] {
    return this.nodes.flatMap((n) => (n.proc === null ? [] : [n.proc]));
  }

  /** The client URL of node `i`. */
  url(i: number): string {
    return `nats://127.0.0.1:${this.node(i).port}`;
  }

  /** The `server_name` of node `i` (n1, n2, …). */
  serverName(i: number): string {
    return this.node(i).name;
  }

  /** The node index of a `server_name`, -1 when unknown. */
  indexOf(serverName: string): number {
    return this.nodes.findIndex((n) => n.name === serverName);
  }

  /** Whether node `i` is running. */
  running(i: number): boolean {
    const p = this.node(i).proc;
    return p !== null && p.exitCode === null && p.signalCode === null;
  }

  /** (Re)starts node `i` on its ports and store; resolves once it accepts clients. */
  async restart(i: number): Promise<void> {
    const n = this.node(i);
    if (n.proc !== null) return;
    const proc = spawn(this.options.bin, ['-c', n.conf], { stdio: ['ignore', 'ignore', 'pipe'], detached: this.options.detached });
    proc.stderr?.on('data', (d: Buffer) => {
      n.log = (n.log + d.toString()).slice(-6000);
    });
    n.proc = proc;
    await until(async () => proc.exitCode === null && (await reachable({ host: '127.0.0.1', port: n.port }, 500)), `nats-server ${n.name} on ${n.port} (${n.log})`, 15_000, 25);
  }

  /** SIGKILLs node `i` (no shutdown, no goodbye to the routes) and waits for it to exit. */
  async kill(i: number): Promise<void> {
    await this.end(i, 'SIGKILL');
  }

  private async end(i: number, signal: NodeJS.Signals): Promise<void> {
    const n = this.node(i);
    const p = n.proc;
    if (p === null) return;
    n.proc = null;
    await terminate(p, 3000, signal);
  }

  /**
   * Waits until JetStream is usable cluster-wide: a meta leader is elected and
   * a stream with one replica per running node can be created (then deleted).
   */
  async waitForJetStream(timeoutMs = 30_000): Promise<void> {
    const nc = await this.connect({ name: 'senpai-local-probe' });
    try {
      const jsm = await jetstreamManager(nc, { timeout: 2000, checkAPI: false });
      const probe = `PROBE_${Date.now().toString(36)}`;
      await until(
        async () => {
          await jsm.getAccountInfo();
          await jsm.streams.add({ name: probe, subjects: [`probe.${probe}`], num_replicas: Math.max(1, this.liveCount()) });
          await jsm.streams.delete(probe);
          return true;
        },
        'JetStream meta leader and a replicated stream',
        timeoutMs,
        200,
      );
    } finally {
      await nc.close().catch(() => undefined);
    }
  }

  private liveCount(): number {
    return this.nodes.filter((_, i) => this.running(i)).length;
  }

  /** A client connected to every node's URL, reconnecting forever (the caller closes it). */
  connect(opts: { name?: string; maxReconnectAttempts?: number } = {}): Promise<NatsConnection> {
    return connect({
      servers: this.urls,
      name: opts.name ?? 'senpai-local',
      maxReconnectAttempts: opts.maxReconnectAttempts ?? -1,
      reconnectTimeWait: 250,
    });
  }

  /** Stops every node (SIGTERM, SIGKILL after 3 s) and removes every store. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((_, i) => this.end(i, 'SIGTERM')));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
