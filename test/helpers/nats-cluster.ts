import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import { PARTITION_MAPPING_SOURCE, partitionMappingDestination } from '../../src/cluster/partition.js';
import { canConnect, freePort, natsServerBin, waitFor } from './nats-server.js';

/** One node of a {@link TestNatsCluster}. */
interface Node {
  readonly name: string;
  readonly port: number;
  readonly routePort: number;
  readonly monitorPort: number;
  readonly conf: string;
  proc: ChildProcess | null;
  log: string;
}

export interface ClusterOptions {
  /** The partition count of the `md.events.*.*` mapping; 0 = no mapping. */
  readonly partitions: number;
  /** Nodes: 3 by default; 1 starts a plain server (no cluster block). */
  readonly size?: number;
  /** JetStream on every node (default true). */
  readonly jetstream?: boolean;
  /** Writes a node's configuration instead of the generated one (e.g. a shipped file with the ports substituted). */
  readonly render?: ((node: NodeAddress) => string) | null;
}

/** Where one node lives, for {@link ClusterOptions.render}. */
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
 * A nats-server cluster of the test's own (SPEC §12 shape): every node on free
 * loopback ports (client, routes, monitoring), its own `server_name` and temp
 * store, JetStream, `max_payload` 4MB and the partition mapping for P.
 * Always {@link stop} it: that kills every node and removes the stores.
 */
export class TestNatsCluster {
  private readonly nodes: Node[] = [];
  readonly dir: string;

  private constructor(readonly options: Required<ClusterOptions>) {
    this.dir = mkdtempSync(join(tmpdir(), 'senpai-nats-cluster-'));
  }

  /** Starts every node and waits until each accepts client connections. */
  static async start(opts: ClusterOptions): Promise<TestNatsCluster> {
    const c = new TestNatsCluster({ size: 3, jetstream: true, render: null, ...opts });
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
      const lines = [
        `server_name: ${name}`,
        `listen: 127.0.0.1:${port}`,
        `http: 127.0.0.1:${monitorPort}`,
        'max_payload: 4MB',
      ];
      if (jetstream) lines.push(`jetstream { store_dir: "${join(this.dir, name)}", max_memory_store: 256MB, max_file_store: 2GB }`);
      if (size > 1) {
        const routes = routePorts.filter((p) => p !== routePort).map((p) => `nats-route://127.0.0.1:${p}`);
        lines.push(`cluster { name: senpai-test, listen: 127.0.0.1:${routePort}, routes: [${routes.join(', ')}] }`);
      }
      if (partitions > 0) {
        lines.push(`mappings = { "${PARTITION_MAPPING_SOURCE}": "${partitionMappingDestination(partitions)}" }`);
      }
      const storeDir = join(this.dir, name);
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

  /** The tail of node `i`'s log, for failure messages. */
  log(i: number): string {
    return this.node(i).log;
  }

  /** (Re)starts node `i` on its ports and store; resolves once it accepts clients. */
  async restart(i: number): Promise<void> {
    const n = this.node(i);
    if (n.proc !== null) return;
    const proc = spawn(natsServerBin(), ['-c', n.conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr?.on('data', (d: Buffer) => {
      n.log = (n.log + d.toString()).slice(-6000);
    });
    n.proc = proc;
    await waitFor(async () => proc.exitCode === null && (await canConnect(n.port)), `nats-server ${n.name} on ${n.port} (${n.log})`, 15_000);
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
    if (p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill(signal);
    const t = setTimeout(() => p.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(t);
  }

  /**
   * Waits until JetStream is usable cluster-wide: a meta leader is elected and
   * a stream with one replica per node can be created (then deleted).
   */
  async waitForJetStream(timeoutMs = 30_000): Promise<void> {
    const nc = await this.connect({ maxReconnectAttempts: -1 });
    try {
      const jsm = await jetstreamManager(nc, { timeout: 2000, checkAPI: false });
      const probe = `PROBE_${Date.now().toString(36)}`;
      await waitFor(
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

  /** A client connected to every node's URL (the test closes it). */
  connect(opts: { name?: string; maxReconnectAttempts?: number } = {}): Promise<NatsConnection> {
    return connect({
      servers: this.urls,
      name: opts.name ?? 'senpai-test',
      maxReconnectAttempts: opts.maxReconnectAttempts ?? -1,
      reconnectTimeWait: 250,
    });
  }

  /** Kills every node and removes every store. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((_, i) => this.end(i, 'SIGTERM')));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
