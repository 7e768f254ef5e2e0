import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

let files: string[] = [];
let project = '';

/**
 * What `npm pack` would ship, laid out as an installed dependency of an empty
 * project (no registry needed: the package's own runtime dependencies are not
 * installed, which also proves the entry point does not load them).
 */
beforeAll(() => {
  if (!existsSync(join(root, 'dist', 'index.d.ts'))) throw new Error('dist/ is missing or stale: run `npm run build` first (npm test does)');
  const res = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' });
  expect(res.status, res.stderr).toBe(0);
  files = (JSON.parse(res.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path).sort();
  project = mkdtempSync(join(tmpdir(), 'senpai-pkg-'));
  const installed = join(project, 'node_modules', 'senpai-md-consumer');
  for (const f of files) {
    mkdirSync(dirname(join(installed, f)), { recursive: true });
    cpSync(join(root, f), join(installed, f));
  }
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'scratch-consumer', private: true, type: 'module' }));
});
afterAll(() => {
  if (project !== '') rmSync(project, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('ships the CLI, the built code with its types, the schemas, the example, the contract and the licence — and no sources or tests', () => {
    for (const f of ['LICENSE', 'README.md', 'package.json', 'bin/senpai-md', 'bin/package.json', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'dist/http/dashboard/index.html', 'examples/consumer.mjs', 'docs/CONTRACT.md', 'schema/features.schema.json', 'schema/signal.schema.json', 'schema/alert.schema.json', 'schema/http-health.schema.json']) {
      expect(files, f).toContain(f);
    }
    expect(files.filter((f) => f.startsWith('src/') || f.startsWith('test/') || f.startsWith('bench/'))).toEqual([]);
  });

  it("compiles `import type { FeatureSnapshot } from 'senpai-md-consumer'` in a strict TypeScript project", () => {
    writeFileSync(
      join(project, 'consumer.ts'),
      `import type { FeatureSnapshot, Signal, Alert, AlertKind, HealthAnswer, StatsAnswer, StateLatestAnswer, ErrorAnswer, ClusterAnswer } from 'senpai-md-consumer';
import { RECORD_VERSION, normalizeSymbol } from 'senpai-md-consumer';

export function describe(f: FeatureSnapshot, s: Signal | null, a: Alert): string {
  const kind: AlertKind = a.kind;
  const mid: number | null = f.mid;
  return \`\${f.symbol} v\${RECORD_VERSION} warm=\${f.warm} mid=\${mid ?? 'n/a'} \${s?.direction ?? ''} \${kind} \${normalizeSymbol('btc/usdt') ?? ''}\`;
}
export type Answers = [HealthAnswer, StatsAnswer, StateLatestAnswer, ErrorAnswer, ClusterAnswer];
// @ts-expect-error warm is a boolean
export const wrong: FeatureSnapshot['warm'] = 'yes';
`,
    );
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { strict: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', noEmit: true, types: [], skipLibCheck: false }, files: ['consumer.ts'] }),
    );
    const res = spawnSync(process.execPath, [tsc, '-p', project], { cwd: project, encoding: 'utf8' });
    expect(res.stdout + res.stderr).toBe('');
    expect(res.status).toBe(0);
  });

  it('loads at run time without starting anything, and resolves the schemas through its exports', () => {
    const script = `
      import { createRequire } from 'node:module';
      const m = await import('senpai-md-consumer');
      const schema = createRequire(import.meta.url)('senpai-md-consumer/schema/features.schema.json');
      console.log(JSON.stringify({ v: m.RECORD_VERSION, kinds: m.ALERT_KINDS, sym: m.normalizeSymbol(' eth/usdt '), title: schema.title }));
    `;
    const res = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: project, encoding: 'utf8' });
    expect(res.stderr).toBe('');
    expect(JSON.parse(res.stdout)).toEqual({ v: 1, kinds: expect.arrayContaining(['cluster', 'latency']), sym: 'ETHUSDT', title: 'FeatureSnapshot' });
  });
});
