import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../config/config.js';
import type { Config } from '../config/config.js';
import { JetStreamSource } from '../nats/jetstream-source.js';
import { numberFlag, parseCommandArgs } from './args.js';
import { onStopSignal, sleep, terminate } from './lifecycle.js';
import { LocalNatsCluster, freePort, freePortsFrom, natsServerBinary, reachable } from './local-nats-cluster.js';

export const DEMO_USAGE = 'usage: senpai-md demo [--rate EVENTS_PER_S] [--symbols LIST|N] [--cluster [MEMBERS]]';

/** Partitions of the demo cluster: the shipped default (deploy/nats-cluster). */
const DEMO_PARTITIONS = 12;
/** Members of `--cluster` without a number. */
const DEFAULT_MEMBERS = 3;
/** Symbols the simulator publishes in cluster mode unless --symbols says otherwise: enough for every member to own some. */
const CLUSTER_SYMBOLS = '24';

const HELP = `${DEMO_USAGE}

Everything a newcomer needs in one command (npm run demo): uses NATS_URL when a
server answers there, otherwise starts a local nats-server with JetStream on
free ports (binary from NATS_SERVER_BIN, PATH or /usr/sbin/nats-server); then
the service and the simulator, and prints the dashboard URL. Ctrl-C stops
everything it started.

  --cluster [N]  cluster mode (SPEC §12, docs/SCALING.md): always starts its own
                 three-node nats-server cluster (free loopback ports, temp
                 stores, the partition mapping with P = ${DEMO_PARTITIONS}, the stream
                 replicated 3x), N members (default ${DEFAULT_MEMBERS}; 1 to ${DEMO_PARTITIONS}) of
                 \`senpai-md run\`, each with its dashboard on its own port
                 (HTTP_PORT and the next free ones), and the simulator
                 (${CLUSTER_SYMBOLS} symbols unless --symbols). Members log at LOG_LEVEL=warn
                 unless LOG_LEVEL is set.`;

const CLI_MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

/** Stop order: the simulator first, then the services (they drain), then the servers they all use. */
const STAGE = { nats: 0, service: 1, simulator: 2 } as const;
type Stage = (typeof STAGE)[keyof typeof STAGE];

/** A failure of the demo's own start that ends it with one line (exit 1). */
class DemoStartError extends Error {
  override readonly name = 'DemoStartError';
}

/**
 * Everything the demo started, stopped stage by stage (each stage at once) on
 * Ctrl-C or SIGTERM, or when one of them exits by itself. Every child runs in
 * a process group of its own (`detached`): Ctrl-C in a terminal signals the
 * foreground group, and if the children were in it the nats-servers would stop
 * at the same moment as the tools still draining into them (their drains then
 * fail: stack traces, and the services wait out their drain bound). Only this
 * process gets the signal and stops the children in order. If it dies without
 * stopping them, the exit hook still does.
 */
class DemoProcesses {
  private readonly children: { name: string; proc: ChildProcess; stage: Stage }[] = [];
  private readonly cleanups: (() => Promise<void>)[] = [];
  private stopped: Promise<void> | null = null;
  private resolveFinished: (code: number) => void = () => undefined;
  /** The exit code, once everything has stopped: 0 after a stop signal, 1 when something failed. */
  readonly finished = new Promise<number>((resolve) => (this.resolveFinished = resolve));

  constructor() {
    process.once('exit', () => {
      for (const { proc } of this.children) if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    });
    onStopSignal(() => {
      process.stdout.write('\ndemo: stopping\n');
      const t0 = Date.now();
      void this.stopAll().then(() => {
        process.stdout.write(`demo: stopped in ${Date.now() - t0} ms\n`);
        this.resolveFinished(0);
      });
    });
  }

  get stopping(): boolean {
    return this.stopped !== null;
  }

  /**
   * Supervises `proc`: when it exits by itself, everything else is stopped
   * (exit code 1) — unless it is a service and another service still runs
   * (`--cluster`): killing a member is what the cluster demo is for (README),
   * and the others take its partitions over.
   */
  add(name: string, proc: ChildProcess, stage: Stage): ChildProcess {
    const child = { name, proc, stage };
    this.children.push(child);
    proc.once('exit', (code, signal) => {
      if (this.stopping) return;
      const running = this.children.filter((c) => c.stage === STAGE.service && c !== child && c.proc.exitCode === null && c.proc.signalCode === null);
      if (stage === STAGE.service && running.length > 0) {
        process.stdout.write(`demo: ${name} exited (${signal ?? code}); ${running.map((c) => c.name).join(', ')} take over its partitions within the lease and a warm-up\n`);
        return;
      }
      this.fail(`${name} exited (${signal ?? code}); stopping the rest`);
    });
    return proc;
  }

  /** A `senpai-md` command of its own (`run`, `simulate`), supervised. */
  cli(name: string, args: string[], env: Record<string, string | undefined>, stage: Stage): ChildProcess {
    return this.add(name, spawn(process.execPath, [CLI_MAIN, ...args], { env, stdio: ['ignore', 'inherit', 'inherit'], detached: true }), stage);
  }

  /** Runs after every child has stopped (temp dirs). */
  onCleanup(fn: () => Promise<void>): void {
    this.cleanups.push(fn);
  }

  /** One line on stderr, everything stopped, exit code 1. */
  fail(message: string): void {
    if (this.stopping) return;
    process.stderr.write(`senpai-md demo: ${message}\n`);
    void this.stopAll().then(() => this.resolveFinished(1));
  }

  stopAll(): Promise<void> {
    this.stopped ??= (async () => {
      for (const stage of [STAGE.simulator, STAGE.service, STAGE.nats]) {
        await Promise.all(this.children.filter((c) => c.stage === stage).map((c) => terminate(c.proc, 5000)));
      }
      for (const fn of this.cleanups) await fn().catch(() => undefined);
    })();
    return this.stopped;
  }
}

function hostPortOf(url: string): { host: string; port: number } {
  const u = new URL(url.includes('://') ? url : `nats://${url}`);
  return { host: u.hostname === '' ? '127.0.0.1' : u.hostname, port: u.port === '' ? 4222 : Number(u.port) };
}

/** `--cluster` alone means {@link DEFAULT_MEMBERS}: node's parseArgs wants a value, so a bare flag gets it here. */
function withClusterDefault(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = argv[i + 1];
    if (a !== '--cluster') out.push(a);
    else if (next === undefined || (next.startsWith('-') && !/^-\d/.test(next))) out.push(`--cluster=${DEFAULT_MEMBERS}`);
    else {
      out.push(`--cluster=${next}`);
      i++;
    }
  }
  return out;
}

/** The nats-server binary; `why` says why one is needed, in the message when there is none. */
function natsBinary(env: Record<string, string | undefined>, why: string): string {
  const bin = natsServerBinary(env);
  if (bin === null) {
    throw new DemoStartError(`${why} and no nats-server binary: install it (Debian/Ubuntu: sudo apt-get install nats-server; macOS: brew install nats-server) or set NATS_SERVER_BIN`);
  }
  return bin;
}

/** `senpai-md demo`: resolves to the exit code once everything it started has stopped. */
export async function demoCommand(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const { values } = parseCommandArgs(withClusterDefault(argv), { rate: { type: 'string' }, symbols: { type: 'string' }, cluster: { type: 'string' } }, DEMO_USAGE, [0, 0]);
  if (values.help === true) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const members = numberFlag(values.cluster, '--cluster', DEMO_USAGE, (n) => Number.isInteger(n) && n >= 1 && n <= DEMO_PARTITIONS, `a member count from 1 to ${DEMO_PARTITIONS}`);
  const config = loadConfig(env);
  const simulate = { rate: typeof values.rate === 'string' ? values.rate : '300', symbols: typeof values.symbols === 'string' ? values.symbols : null };
  const demo = new DemoProcesses();
  try {
    if (members === undefined) await startSingle(demo, config, env, simulate);
    else await startCluster(demo, config, env, simulate, members);
  } catch (err) {
    if (!(err instanceof DemoStartError)) throw err;
    demo.fail(err.message);
  }
  return demo.finished;
}

interface SimulateArgs {
  readonly rate: string;
  readonly symbols: string | null;
}

function simulateArgs(s: SimulateArgs, defaultSymbols: string | null): string[] {
  const symbols = s.symbols ?? defaultSymbols;
  return ['simulate', '--rate', s.rate, ...(symbols === null ? [] : ['--symbols', symbols])];
}

/** One service against NATS_URL when a server answers there, else against a nats-server of its own. */
async function startSingle(demo: DemoProcesses, config: Readonly<Config>, env: Record<string, string | undefined>, simulate: SimulateArgs): Promise<void> {
  const childEnv: Record<string, string | undefined> = { ...env };
  let natsUrl = config.nats.servers[0]!;
  if (await reachable(hostPortOf(natsUrl))) {
    process.stdout.write(`demo: using the NATS server at ${natsUrl}\n`);
  } else {
    const server = await startServers(demo, natsBinary(env, `no NATS server at ${natsUrl} (set NATS_URL)`), { size: 1, partitions: 0 });
    if (server === null) return;
    natsUrl = server.url(0);
    process.stdout.write(`demo: started nats-server with JetStream at ${natsUrl} (pid ${server.processes[0]?.pid})\n`);
  }
  childEnv.NATS_URL = natsUrl;
  const httpPort = await freePort(config.http.port);
  if (httpPort !== config.http.port) process.stdout.write(`demo: port ${config.http.port} is in use; the service takes ${httpPort}\n`);
  childEnv.HTTP_PORT = String(httpPort);
  if (demo.stopping) return;
  demo.cli('service', ['run'], childEnv, STAGE.service);
  demo.cli('simulator', simulateArgs(simulate, null), childEnv, STAGE.simulator);

  const url = `http://127.0.0.1:${httpPort}/`;
  void (async () => {
    const deadline = Date.now() + 30_000;
    while (!demo.stopping && Date.now() < deadline) {
      if (await healthy(url)) {
        process.stdout.write(`\n  senpai-md demo is live: dashboard ${url}   (API: ${url}stats, ${url}features/latest?symbol=BTCUSDT)\n  Ctrl-C stops everything.\n\n`);
        return;
      }
      await sleep(200);
    }
  })();
}

/** nats-servers of the demo's own (in process groups of their own), supervised; null when a stop came first. */
async function startServers(demo: DemoProcesses, bin: string, shape: { size: number; partitions: number }): Promise<LocalNatsCluster | null> {
  let servers: LocalNatsCluster;
  try {
    servers = await LocalNatsCluster.start({ bin, ...shape, detached: true });
  } catch (err) {
    throw new DemoStartError(`nats-server did not start: ${(err as Error).message}`);
  }
  demo.onCleanup(() => servers.stop());
  servers.processes.forEach((proc, i) => demo.add(`nats-server ${servers.serverName(i)}`, proc, STAGE.nats));
  return demo.stopping ? null : servers;
}

/**
 * Cluster mode (SPEC §12): a three-node nats-server cluster of its own with
 * the partition mapping, the stream replicated 3× (the members create the
 * lease bucket with the stream's replicas), `members` members and the
 * simulator on the partitioned subjects.
 */
async function startCluster(demo: DemoProcesses, config: Readonly<Config>, env: Record<string, string | undefined>, simulate: SimulateArgs, members: number): Promise<void> {
  process.stdout.write(`demo: starting a three-node nats-server cluster (JetStream, partition mapping with P = ${DEMO_PARTITIONS})\n`);
  const cluster = await startServers(demo, natsBinary(env, '--cluster starts its own nats-servers'), { size: 3, partitions: DEMO_PARTITIONS });
  if (cluster === null) return;
  cluster.processes.forEach((proc, i) => process.stdout.write(`demo: nats-server ${cluster.serverName(i)} at ${cluster.url(i)} (pid ${proc.pid})\n`));
  try {
    await cluster.waitForJetStream();
    const nc = await cluster.connect({ name: 'senpai-md-demo' });
    try {
      const stream = new JetStreamSource(nc, { stream: config.jetstream.stream, durable: config.jetstream.durable, subject: config.nats.subject, maxAckPending: 1, replicas: 3 });
      await stream.ensureStream();
      if (stream.replicas !== 3) throw new Error(`stream ${config.jetstream.stream} has ${stream.replicas} replicas, not 3`);
    } finally {
      await nc.close();
    }
  } catch (err) {
    throw new DemoStartError(`the nats-server cluster did not become usable: ${(err as Error).message}`);
  }
  if (demo.stopping) return;

  const ports = await freePortsFrom(config.http.port, members);
  const urls: { id: string; url: string }[] = [];
  for (let i = 0; i < members; i++) {
    const id = `member-${i + 1}`;
    const port = ports[i]!;
    const url = `http://127.0.0.1:${port}/`;
    const proc = demo.cli(id, ['run'], {
      ...env,
      NATS_URL: cluster.urls.join(','),
      USE_JETSTREAM: 'true',
      CLUSTER_PARTITIONS: String(DEMO_PARTITIONS),
      CLUSTER_MEMBER_ID: id,
      CLUSTER_ADVERTISE_URL: `http://127.0.0.1:${port}`,
      HTTP_PORT: String(port),
      LOG_LEVEL: env.LOG_LEVEL ?? 'warn',
    }, STAGE.service);
    process.stdout.write(`demo: ${id} on ${url} (pid ${proc.pid})\n`);
    urls.push({ id, url });
  }
  demo.cli('simulator', simulateArgs(simulate, CLUSTER_SYMBOLS), { ...env, NATS_URL: cluster.urls.join(',') }, STAGE.simulator);

  void (async () => {
    const deadline = Date.now() + 120_000;
    while (!demo.stopping && Date.now() < deadline) {
      const view = await clusterSettled(urls.map((m) => m.url), members, env.HTTP_AUTH_TOKEN);
      if (view !== null) {
        const lines = urls.map(({ id, url }) => {
          const owned = view.partitions.filter((p) => p.owner === id).map((p) => p.partition);
          return `    ${id.padEnd(10)} dashboard ${url.padEnd(24)} partitions ${owned.join(',')}`;
        });
        process.stdout.write(
          `\n  senpai-md demo is live: ${members} member${members === 1 ? '' : 's'} sharing ${DEMO_PARTITIONS} partitions on three nats-servers (${cluster.urls.join(',')})\n` +
            `${lines.join('\n')}\n  Each dashboard shows its own symbols and, in its Cluster panel, who owns what (GET /cluster).\n  Ctrl-C stops everything.\n\n`,
        );
        return;
      }
      await sleep(500);
    }
  })();
}

async function healthy(url: string): Promise<boolean> {
  try {
    return (await fetch(`${url}health`)).ok;
  } catch {
    return false; // not listening yet
  }
}

/** The parts of the `GET /cluster` body read here (a member's own `partitions` list lags its leases by up to a refresh). */
interface ClusterBody {
  members: { id: string }[];
  partitions: { partition: number; owner: string | null }[];
}

/** The `GET /cluster` view once every member is healthy (warm) and every partition has an owner; else null. */
async function clusterSettled(urls: string[], members: number, token: string | undefined): Promise<ClusterBody | null> {
  for (const url of urls) if (!(await healthy(url))) return null;
  try {
    const res = await fetch(`${urls[0]}cluster`, { headers: token === undefined || token === '' ? {} : { Authorization: `Bearer ${token}` } });
    const view = (await res.json()) as ClusterBody;
    return view.members.length === members && view.partitions.every((p) => p.owner !== null) ? view : null;
  } catch {
    return null;
  }
}
