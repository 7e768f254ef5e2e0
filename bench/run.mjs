/**
 * `npm run bench`: runs the benchmark sections, each in a child process of its
 * own, prints the table and writes BENCHMARKS.md and BENCHMARKS.json (the raw
 * figures) to bench-output/ (untracked). With --write (or BENCH_WRITE=1) it
 * writes them to docs/ instead, the report the repository keeps: a run on
 * some machine never rewrites tracked files unless asked. Every figure is
 * measured in the same run as its reference, side by side, so a ratio holds
 * on a noisy machine.
 *
 *   node bench/run.mjs [--only engine,growth,memory,nats,latency,warmup,http,cluster] [--quick] [--write]
 *   npm run bench -- --write
 *
 * With --only, the sections not run keep their figures from the last
 * BENCHMARKS.json in the output folder, else from docs/ (each section says
 * when it ran).
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, relative } from 'node:path';
import { fmt, parseArgs } from './lib/common.mjs';
import { natsServerBin } from './lib/nats-server.mjs';
import { renderMarkdown, renderTable } from './report.mjs';

const ROOT = new URL('..', import.meta.url).pathname;
const SECTIONS = ['engine', 'growth', 'memory', 'nats', 'latency', 'warmup', 'http', 'cluster'];
/** The file of each section, when it is not `bench/{section}.mjs`. */
const SCRIPTS = { http: 'http-load' };
const NEEDS_GC = new Set(['engine', 'growth', 'memory']);

function runSection(name, quick, dir) {
  const out = join(dir, `${name}.json`);
  const args = [...(NEEDS_GC.has(name) ? ['--expose-gc'] : []), join(ROOT, 'bench', `${SCRIPTS[name] ?? name}.mjs`), '--out', out, ...(quick ? ['--quick'] : [])];
  process.stderr.write(`▶ ${name}\n`);
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`bench/${name}.mjs exited with ${code}`));
      const result = JSON.parse(readFileSync(out, 'utf8'));
      resolve({ ...result, ranAt: new Date().toISOString(), sectionSeconds: (performance.now() - t0) / 1000, quick });
    });
  });
}

/** One figure of this machine's speed, so other machines can scale the table: JSON.parse of a canonical trade. */
function calibrate() {
  const text = '{"type":"trade","provider":"binance","symbol":"BTCUSDT","price":64012.3,"size":0.0512,"side":"buy","trade_id":"1234567","ts_exchange":1760000000123.123,"ts_recv":1760000000150.456}';
  let sink = 0;
  const runs = [];
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    for (let i = 0; i < 200_000; i++) sink += JSON.parse(text).price;
    runs.push(((performance.now() - t0) * 1e6) / 200_000);
  }
  runs.sort((a, b) => a - b);
  return { jsonParseNs: runs[2], sink: sink > 0 };
}

function machine() {
  let natsVersion = 'unknown';
  try {
    natsVersion = execFileSync(natsServerBin(), ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    // reported as unknown
  }
  const c = cpus();
  return { cpu: c[0]?.model ?? 'unknown', cores: c.length, memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version, nats: natsVersion, platform: `${process.platform} ${process.arch}` };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const quick = args.quick === true;
  const only = typeof args.only === 'string' ? args.only.split(',').map((s) => s.trim()) : SECTIONS;
  for (const s of only) if (!SECTIONS.includes(s)) throw new Error(`unknown section ${s}: one of ${SECTIONS.join(', ')}`);
  const write = args.write === true || process.env.BENCH_WRITE === '1';
  const outDir = write ? join(ROOT, 'docs') : join(ROOT, 'bench-output');
  mkdirSync(outDir, { recursive: true });
  const jsonPath = join(outDir, 'BENCHMARKS.json');
  const previousPath = [jsonPath, join(ROOT, 'docs', 'BENCHMARKS.json')].find((p) => existsSync(p));
  const previous = previousPath !== undefined ? JSON.parse(readFileSync(previousPath, 'utf8')) : { sections: {} };
  const results = { machine: machine(), calibration: calibrate(), sections: { ...previous.sections } };
  const dir = mkdtempSync(join(tmpdir(), 'senpai-bench-'));
  const t0 = performance.now();
  try {
    for (const name of SECTIONS) {
      if (!only.includes(name)) continue;
      results.sections[name] = await runSection(name, quick, dir);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  results.totalSeconds = (performance.now() - t0) / 1000;
  results.generatedAt = new Date().toISOString();
  process.stdout.write('\n' + renderTable(results) + '\n');
  writeFileSync(jsonPath, JSON.stringify(results, null, 2) + '\n');
  writeFileSync(join(outDir, 'BENCHMARKS.md'), renderMarkdown(results));
  const rel = relative(ROOT, outDir);
  process.stderr.write(
    `\nwrote ${rel}/BENCHMARKS.md and ${rel}/BENCHMARKS.json (${fmt.num(results.totalSeconds, 0)} s)${write ? '' : '; `npm run bench -- --write` updates docs/'}\n`,
  );
}

await main();
