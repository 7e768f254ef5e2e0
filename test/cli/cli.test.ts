import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { alive } from '../helpers/cli-process.js';
import { TestNatsServer, freePort, natsServerBin, waitFor } from '../helpers/nats-server.js';

const root = join(import.meta.dirname, '..', '..');
const bin = join(root, 'bin', 'senpai-md');
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;

const cli = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' }, cwd: tmpdir() });

describe('senpai-md top level', () => {
  it('prints the package version with --version and -V', () => {
    for (const flag of ['--version', '-V']) {
      const r = cli([flag]);
      expect(r.status, flag).toBe(0);
      expect(r.stdout).toBe(`${version}\n`);
    }
  });

  it('lists every command in --help', () => {
    const r = cli(['--help']);
    expect(r.status).toBe(0);
    for (const cmd of ['run', 'compute', 'simulate', 'replay', 'record', 'demo']) expect(r.stdout).toMatch(new RegExp(`^  ${cmd} `, 'm'));
    expect(r.stdout).toMatch(/--version/);
  });

  it('has a CommonJS launcher, which every Node 20 loads without a file extension (before 20.10 an extensionless ES module is refused)', () => {
    // require() loads CommonJS; the ES-module launcher this replaced failed here with ERR_REQUIRE_ASYNC_MODULE
    const r = spawnSync(process.execPath, ['-e', 'require(process.argv[1])', bin, '--version'], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' }, cwd: tmpdir() });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`${version}\n`);
  });
});

describe('senpai-md run: SIGINT/SIGTERM (SPEC §10), SIGHUP and SIGUSR1 (DECISIONS 89)', () => {
  const slowLoad = pathToFileURL(join(root, 'test', 'helpers', 'slow-cli-load.mjs')).href;

  /** `run` against a port where no NATS answers (it waits for it), or `natsUrl`, logging at info; `nodeArgs` go before the bin. */
  async function startRun(nodeArgs: string[] = [], natsUrl?: string) {
    const proc = spawn(process.execPath, [...nodeArgs, bin, 'run'], {
      env: { PATH: process.env.PATH ?? '', NATS_URL: natsUrl ?? `nats://127.0.0.1:${await freePort()}`, HTTP_HOST: '127.0.0.1', HTTP_PORT: String(await freePort()), LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: tmpdir(),
    });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
    return { proc, exited, output: () => out };
  }

  it.each(['SIGTERM', 'SIGINT', 'SIGHUP'] as const)('exits 0 on %s while its modules still load (nothing started yet)', async (signal) => {
    const run = await startRun(['--import', slowLoad]);
    try {
      await waitFor(() => run.output().includes('loading dist/cli/main.js'), 'the CLI module loading');
      run.proc.kill(signal);
      expect(await run.exited).toEqual({ code: 0, signal: null });
    } finally {
      run.proc.kill('SIGKILL');
    }
  });

  it.each(['SIGTERM', 'SIGINT', 'SIGHUP'] as const)('once started, %s goes to the service\'s own handler: "shutting down", "stopped", exit 0', async (signal) => {
    const run = await startRun();
    try {
      await waitFor(() => run.output().includes('"msg":"connecting to NATS"'), 'run waiting for NATS');
      run.proc.kill(signal);
      expect(await run.exited).toEqual({ code: 0, signal: null });
      expect(run.output()).toMatch(new RegExp(`"signal":"${signal}","msg":"shutting down"[\\s\\S]*"msg":"stopped"`));
    } finally {
      run.proc.kill('SIGKILL');
    }
  });

  it('a second SIGHUP during a slow stop (NATS gone, the drain waiting) does not end it: exit 0 with "stopped"', async () => {
    const nats = await TestNatsServer.start({ jetstream: false });
    const run = await startRun([], nats.url);
    try {
      await waitFor(() => run.output().includes('"msg":"subscribed"'), 'run subscribed');
      await nats.halt(); // the drain now waits for a server that is not there
      await waitFor(() => run.output().includes('NATS disconnected'), 'the disconnect seen');
      run.proc.kill('SIGHUP');
      await new Promise((r) => setTimeout(r, 300));
      run.proc.kill('SIGHUP');
      expect(await run.exited).toEqual({ code: 0, signal: null });
      expect(run.output()).toMatch(/"msg":"stopped"/);
    } finally {
      run.proc.kill('SIGKILL');
      await nats.stop();
    }
  }, 30_000);

  it('ignores SIGUSR1, while its modules load and once started: no inspector opens, a warn line says so, and it runs on', async () => {
    const run = await startRun(['--import', slowLoad]);
    try {
      await waitFor(() => run.output().includes('loading dist/cli/main.js'), 'the CLI module loading');
      run.proc.kill('SIGUSR1');
      await waitFor(() => run.output().includes('"msg":"connecting to NATS"'), 'run waiting for NATS');
      run.proc.kill('SIGUSR1');
      await waitFor(() => run.output().includes('"msg":"SIGUSR1 ignored'), 'the warn line');
      expect(run.proc.exitCode).toBeNull();
      run.proc.kill('SIGTERM');
      expect(await run.exited).toEqual({ code: 0, signal: null });
      expect(run.output()).not.toMatch(/Debugger listening/);
      expect(run.output().match(/SIGUSR1 ignored/g)).toHaveLength(1); // the one sent while loading was dropped quietly
    } finally {
      run.proc.kill('SIGKILL');
    }
  });
});

describe('senpai-md demo', () => {
  it('stops its simulator, service and nats-server in order on a terminal Ctrl-C, quietly and quickly', async () => {
    const [httpPort, deadPort] = [await freePort(), await freePort()];
    // its own process group, like a shell's foreground job: the signal below goes to every process in it
    const demo = spawn(process.execPath, [bin, 'demo', '--rate', '200'], {
      env: { PATH: process.env.PATH ?? '', NATS_URL: `nats://127.0.0.1:${deadPort}`, NATS_SERVER_BIN: natsServerBin(), HTTP_PORT: String(httpPort), HTTP_HOST: '127.0.0.1', LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    demo.stdout.on('data', (d: Buffer) => (out += d.toString()));
    demo.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => demo.once('exit', (code) => resolve(code)));
    try {
      await waitFor(() => out.includes('demo is live'), 'the demo to be live', 30_000);
      await waitFor(async () => ((await (await fetch(`http://127.0.0.1:${httpPort}/stats`)).json()) as { events_processed_total: number }).events_processed_total > 0, 'events flowing');
      const natsPid = Number(/nats-server with JetStream at \S+ \(pid (\d+)\)/.exec(out)?.[1]);
      expect(alive(natsPid)).toBe(true);

      const t0 = Date.now();
      process.kill(-demo.pid!, 'SIGINT'); // what a terminal does on Ctrl-C
      expect(await exited).toBe(0);
      expect(Date.now() - t0).toBeLessThan(3000);
      expect(alive(natsPid)).toBe(false);
      expect(out).toMatch(/demo: stopping\n[\s\S]*simulate: \d+ events published[\s\S]*demo: stopped in \d+ ms/);
      expect(out).not.toMatch(/Error|\n\s+at /);
    } finally {
      if (demo.exitCode === null) process.kill(-demo.pid!, 'SIGKILL');
    }
  });
});
