import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

// the built module, as bin/senpai-md runs it (`npm test` builds first)
const scavengeModule = pathToFileURL(join(import.meta.dirname, '..', '..', 'dist', 'app', 'scavenge.js')).href;

/**
 * `senpai-md run` sets V8's young-generation collection to one thread at start
 * (DECISIONS 87): checked on V8's own trace, in a child process that imports the
 * function as `run` does, then allocates enough short-lived objects to scavenge.
 */
function scavengeTrace(nodeArgs: string[], call: boolean): { set: string; lines: string[] } {
  const script = `
    const { scavengeOnOneThread } = await import(${JSON.stringify(scavengeModule)});
    console.log('set=' + ${call ? 'scavengeOnOneThread()' : 'null'});
    // young objects of which enough survive a scavenge or two for V8 to share the copying out
    let keep = [];
    for (let i = 0; i < 4e6; i++) { const o = { i, s: 'x' + (i & 7) }; if ((i & 7) === 0) keep.push(o); if (keep.length > 50000) keep = []; }`;
  const r = spawnSync(process.execPath, [...nodeArgs, '--trace-gc-nvp', '--input-type=module', '-e', script], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  const lines = r.stdout.split('\n');
  const at = lines.findIndex((l) => l.startsWith('set='));
  // the scavenges after the call (loading the service's modules scavenged before it)
  return { set: lines[at]!.slice(4), lines: lines.slice(at).filter((l) => / gc=s /.test(l)) };
}

/** The number of scavenges that used a helper thread (V8's `scavenge.parallel` work off the main thread). */
function helped(lines: string[]): number {
  return lines.filter((l) => {
    const m = / background\.scavenge\.parallel=([0-9.]+)/.exec(l);
    return m !== null && Number(m[1]) > 0;
  }).length;
}

describe('scavengeOnOneThread', () => {
  it('turns parallel scavenges off for the rest of the process', () => {
    const on = scavengeTrace([], false);
    const off = scavengeTrace([], true);
    expect(off.set).toBe('true');
    expect(on.lines.length).toBeGreaterThan(5);
    expect(off.lines.length).toBeGreaterThan(5);
    expect(helped(on.lines)).toBeGreaterThan(0); // the same work, left to V8, shares the copying
    expect(helped(off.lines)).toBe(0);
  });

  it('leaves the choice to an explicit node flag', () => {
    const explicit = scavengeTrace(['--parallel-scavenge'], true);
    expect(explicit.set).toBe('false');
    expect(helped(explicit.lines)).toBeGreaterThan(0);
  });
});
