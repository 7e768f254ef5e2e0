import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { alive } from '../helpers/cli-process.js';
import { freePort, natsServerBin, waitFor } from '../helpers/nats-server.js';

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
