import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../config/config.js';
import { parseCommandArgs } from './args.js';
import { onStopSignal, sleep } from './lifecycle.js';

export const DEMO_USAGE = 'usage: senpai-md demo [--rate EVENTS_PER_S] [--symbols LIST|N]';

const HELP = `${DEMO_USAGE}

Everything a newcomer needs in one command (npm run demo): uses NATS_URL when a
server answers there, otherwise starts a local nats-server with JetStream on
free ports (binary from NATS_SERVER_BIN, PATH or /usr/sbin/nats-server); then
the service and the simulator, and prints the dashboard URL. Ctrl-C stops
everything it started.`;

const CLI_MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

function reachable(hostPort: { host: string; port: number }, timeoutMs = 1000): Promise<boolean> {
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

function freePort(preferred: number): Promise<number> {
  const tryPort = (port: number) =>
    new Promise<number | null>((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(null));
      srv.listen(port, '0.0.0.0', () => {
        const addr = srv.address();
        const p = typeof addr === 'object' && addr !== null ? addr.port : null;
        srv.close(() => resolve(p));
      });
    });
  return tryPort(preferred).then(async (p) => p ?? (await tryPort(0)) ?? preferred);
}

function natsServerBinary(env: Record<string, string | undefined>): string | null {
  const fromEnv = env.NATS_SERVER_BIN;
  if (fromEnv !== undefined && fromEnv !== '') return existsSync(fromEnv) ? fromEnv : null;
  const which = spawnSync('sh', ['-c', 'command -v nats-server'], { encoding: 'utf8' });
  if (which.status === 0 && which.stdout.trim() !== '') return which.stdout.trim();
  return existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : null;
}

function hostPortOf(url: string): { host: string; port: number } {
  const u = new URL(url.includes('://') ? url : `nats://${url}`);
  return { host: u.hostname === '' ? '127.0.0.1' : u.hostname, port: u.port === '' ? 4222 : Number(u.port) };
}

/** `senpai-md demo`: resolves to the exit code once everything it started has stopped. */
export async function demoCommand(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const { values } = parseCommandArgs(argv, { rate: { type: 'string' }, symbols: { type: 'string' } }, DEMO_USAGE, [0, 0]);
  if (values.help === true) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const config = loadConfig(env);
  // Every child runs in a process group of its own (`detached`): Ctrl-C in a
  // terminal signals the foreground group, and if the children were in it the
  // nats-server would stop at the same moment as the tools still draining into
  // it (their drains then fail: stack traces, and the service waits out its
  // drain bound). Only this process gets the signal; it stops the children in
  // order. If it dies without stopping them, the exit hook still does.
  const children: { name: string; proc: ChildProcess }[] = [];
  process.once('exit', () => {
    for (const { proc } of children) if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
  });
  let tmp: string | null = null;
  const childEnv: Record<string, string | undefined> = { ...env };

  let natsUrl = config.nats.servers[0]!;
  if (await reachable(hostPortOf(natsUrl))) {
    process.stdout.write(`demo: using the NATS server at ${natsUrl}\n`);
  } else {
    const bin = natsServerBinary(env);
    if (bin === null) {
      process.stderr.write(
        `senpai-md demo: no NATS server at ${natsUrl} and no nats-server binary: install it (Debian/Ubuntu: sudo apt-get install nats-server; macOS: brew install nats-server) or set NATS_SERVER_BIN or NATS_URL\n`,
      );
      return 1;
    }
    tmp = mkdtempSync(join(tmpdir(), 'senpai-demo-'));
    const port = await freePort(0);
    const log = openSync(join(tmp, 'nats-server.log'), 'a');
    const proc = spawn(bin, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', join(tmp, 'js')], { stdio: ['ignore', log, log], detached: true });
    children.push({ name: 'nats-server', proc });
    natsUrl = `nats://127.0.0.1:${port}`;
    const deadline = Date.now() + 10_000;
    while (!(await reachable({ host: '127.0.0.1', port }, 200))) {
      if (proc.exitCode !== null || Date.now() > deadline) {
        process.stderr.write(`senpai-md demo: nats-server did not start (see ${join(tmp, 'nats-server.log')})\n`);
        return 1;
      }
      await sleep(50);
    }
    process.stdout.write(`demo: started nats-server with JetStream at ${natsUrl} (pid ${proc.pid})\n`);
  }
  childEnv.NATS_URL = natsUrl;
  const httpPort = await freePort(config.http.port);
  if (httpPort !== config.http.port) process.stdout.write(`demo: port ${config.http.port} is in use; the service takes ${httpPort}\n`);
  childEnv.HTTP_PORT = String(httpPort);

  const service = spawn(process.execPath, [CLI_MAIN, 'run'], { env: childEnv, stdio: ['ignore', 'inherit', 'inherit'], detached: true });
  children.push({ name: 'service', proc: service });
  const simArgs = ['simulate', '--rate', typeof values.rate === 'string' ? values.rate : '300'];
  if (typeof values.symbols === 'string') simArgs.push('--symbols', values.symbols);
  const simulator = spawn(process.execPath, [CLI_MAIN, ...simArgs], { env: childEnv, stdio: ['ignore', 'inherit', 'inherit'], detached: true });
  children.push({ name: 'simulator', proc: simulator });

  const url = `http://127.0.0.1:${httpPort}/`;
  let stopping = false;
  const stopAll = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    // simulator first, then the service (it drains), then the server they both use
    for (const { proc } of [...children].reverse()) {
      if (proc.exitCode !== null || proc.signalCode !== null) continue;
      const exited = new Promise<void>((r) => proc.once('exit', () => r()));
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    if (tmp !== null) rmSync(tmp, { recursive: true, force: true });
  };

  const finished = new Promise<number>((resolve) => {
    onStopSignal(() => {
      process.stdout.write('\ndemo: stopping\n');
      const t0 = Date.now();
      void stopAll().then(() => {
        process.stdout.write(`demo: stopped in ${Date.now() - t0} ms\n`);
        resolve(0);
      });
    });
    for (const { name, proc } of children) {
      proc.once('exit', (code, signal) => {
        if (stopping) return;
        process.stderr.write(`senpai-md demo: ${name} exited (${signal ?? code}); stopping the rest\n`);
        void stopAll().then(() => resolve(1));
      });
    }
  });

  void (async () => {
    const deadline = Date.now() + 30_000;
    while (!stopping && Date.now() < deadline) {
      try {
        if ((await fetch(`${url}health`)).ok) {
          process.stdout.write(`\n  senpai-md demo is live: dashboard ${url}   (API: ${url}stats, ${url}features/latest?symbol=BTCUSDT)\n  Ctrl-C stops everything.\n\n`);
          return;
        }
      } catch {
        // not listening yet
      }
      await sleep(200);
    }
  })();
  return finished;
}
