import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findTool } from '../helpers/tools.js';

const root = join(import.meta.dirname, '..', '..');
const file = join(root, 'docker-compose.senpai.yml');
const text = readFileSync(file, 'utf8');

const compose1 = findTool('docker-compose');
const docker = findTool('docker');
const compose2 = docker !== null && spawnSync(docker, ['compose', 'version'], { encoding: 'utf8' }).status === 0 ? docker : null;

/** `… config` through one Compose implementation; the project name is given, as `name:` is not in the file. */
function config(cmd: string[], extra: string[] = []) {
  const r = spawnSync(cmd[0]!, [...cmd.slice(1), '-f', file, '-p', 'senpai', ...extra, 'config'], { cwd: root, encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

/** The service blocks of the file: name → its lines (two-space indented keys under `services:`). */
function services(): Map<string, string> {
  const body = text.slice(text.indexOf('\nservices:\n') + 1, text.indexOf('\nvolumes:\n'));
  const out = new Map<string, string>();
  let current: string | null = null;
  for (const line of body.split('\n')) {
    const start = /^ {2}([a-z-]+):$/.exec(line);
    if (start !== null) out.set((current = start[1]!), '');
    else if (current !== null && line.startsWith('    ')) out.set(current, `${out.get(current)!}${line}\n`);
  }
  return out;
}

describe('docker-compose.senpai.yml', () => {
  it('has no top-level name (docker-compose 1.29 rejects it) and builds every service that runs this repository', () => {
    expect(text).not.toMatch(/^name:/m);
    const s = services();
    expect([...s.keys()]).toEqual(['nats', 'senpai', 'simulator', 'prometheus', 'grafana']);
    for (const [name, body] of s) if (body.includes('image: senpai-md-consumer')) expect(body, name).toMatch(/^ {4}build: \.$/m);
    expect(s.get('prometheus')).toMatch(/profiles: \["monitoring"\]/);
    expect(s.get('grafana')).toMatch(/profiles: \["monitoring"\]/);
  });

  it('publishes no host port that a local NATS, Prometheus or Grafana holds, and only on 127.0.0.1', () => {
    const published = [...text.matchAll(/^\s+- "([^"]+)"$/gm)].map((m) => m[1]!).filter((p) => /:\d+$/.test(p));
    expect(published.length).toBe(5);
    for (const p of published) {
      expect(p, p).toMatch(/^127\.0\.0\.1:\$\{SENPAI_[A-Z_]+:-(\d+)\}:\d+$/);
      const host = Number(/:-(\d+)\}/.exec(p)![1]);
      expect([4222, 8222, 9090, 3000], p).not.toContain(host);
    }
  });

  it('mounts files that exist', () => {
    for (const m of text.matchAll(/- \.\/([^:]+):/g)) expect(existsSync(join(root, m[1]!)), m[1]).toBe(true);
  });

  it.skipIf(compose1 === null)(`is valid for docker-compose 1.29, with and without the monitoring profile${compose1 === null ? ' — skipped: docker-compose not installed (Debian: apt-get install docker-compose)' : ''}`, () => {
    for (const extra of [[], ['--profile', 'monitoring']]) {
      const r = config([compose1!], extra);
      expect(r.err).toBe('');
      expect(r.status).toBe(0);
      expect(r.out).toMatch(/127\.0\.0\.1:14222:4222/);
    }
  });

  it.skipIf(compose2 === null)(`is valid for Compose v2${compose2 === null ? ' — skipped: no `docker compose` plugin' : ''}`, () => {
    for (const extra of [[], ['--profile', 'monitoring']]) {
      const r = config([compose2!, 'compose'], extra);
      expect(r.status, r.err).toBe(0);
    }
  });
});
