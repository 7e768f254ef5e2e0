import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareGolden, parseJsonl, readJsonl } from './helpers/golden.js';

const root = join(import.meta.dirname, '..');
const golden = join(root, 'test', 'fixtures', 'golden');
const cli = join(root, 'bin', 'senpai-md');
const EXPECTED_SUMMARY = { accepted: 5870, rejected: { duplicate: 48, invalid: 67, late: 23, parse_error: 7 } };

function compute(args: string[], env: Record<string, string> = {}) {
  const res = spawnSync(process.execPath, [cli, 'compute', join(golden, 'events.jsonl'), ...args], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    env: { PATH: process.env.PATH ?? '', ...env },
    cwd: golden, // no .env here
  });
  const stderrLines = res.stderr.trim().split('\n');
  return { status: res.status, records: parseJsonl(res.stdout), summary: JSON.parse(stderrLines[stderrLines.length - 1]!) as unknown };
}

describe('golden vectors (senpai-md compute)', () => {
  it('reproduces expected.jsonl with the default settings', () => {
    const { status, records, summary } = compute([]);
    expect(status).toBe(0);
    expect(summary).toEqual(EXPECTED_SUMMARY);
    expect(compareGolden(records, readJsonl(join(golden, 'expected.jsonl')))).toEqual([]);
  });

  it('reproduces expected-w30.jsonl with the w30 settings from the environment', () => {
    const { status, records, summary } = compute([], {
      ROLLING_WINDOW_SECONDS: '30',
      SIGNAL_RETURN_THRESHOLD: '0.002',
      SIGNAL_VOLUME_THRESHOLD: '0.5',
      SIGNAL_SPREAD_MAX_BPS: '10',
      SIGNAL_COOLDOWN_MS: '3000',
    });
    expect(status).toBe(0);
    expect(summary).toEqual(EXPECTED_SUMMARY);
    expect(compareGolden(records, readJsonl(join(golden, 'expected-w30.jsonl')))).toEqual([]);
  });

  it('reproduces expected-w30.jsonl with the w30 settings as flags, which win over the environment', () => {
    const { records } = compute(
      ['--window-seconds', '30', '--return-threshold', '0.002', '--volume-threshold', '0.5', '--spread-max-bps', '10', '--cooldown-ms', '3000'],
      { ROLLING_WINDOW_SECONDS: '90', SIGNAL_COOLDOWN_MS: '1' },
    );
    expect(compareGolden(records, readJsonl(join(golden, 'expected-w30.jsonl')))).toEqual([]);
  });
});
