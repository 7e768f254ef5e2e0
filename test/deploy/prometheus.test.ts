import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { promtool } from '../helpers/tools.js';

const root = join(import.meta.dirname, '..', '..');
const promDir = join(root, 'deploy', 'prometheus');
const dashboardPath = join(root, 'deploy', 'grafana', 'dashboards', 'senpai-md-consumer.json');
const tool = promtool();
const skipReason = 'promtool not found (PROMTOOL, .ci/bin/promtool or PATH; .ci/run extracts it from Debian\'s prometheus package)';

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: { expr: string }[];
}
const dashboard = JSON.parse(readFileSync(dashboardPath, 'utf8')) as { uid: string; panels: Panel[]; templating: { list: { name: string }[] } };
const dashboardExprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));

/** Metric names an expression uses: what is left once selectors, ranges, groupings, functions and keywords are removed. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|on|without|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const m of bare.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()/g)) {
    if (!/^(and|or|unless|bool|offset|group_left|group_right|e)$/.test(m[1]!)) names.add(m[1]!);
  }
  return [...names];
}

/** The metric names docs/CONTRACT.md lists, plus Prometheus' `up` and the Node.js process defaults. */
function contractMetrics(): Set<string> {
  const doc = readFileSync(join(root, 'docs', 'CONTRACT.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## Metrics'), doc.indexOf('## How the tests'));
  const names = new Set([...section.matchAll(/`(senpai_[a-z_]+)`/g)].map((m) => m[1]!));
  for (const n of ['up', 'process_cpu_seconds_total', 'process_resident_memory_bytes']) names.add(n);
  return names;
}

function run(args: string[], cwd = promDir) {
  const r = spawnSync(tool!, args, { cwd, encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('Prometheus alert rules (deploy/prometheus)', () => {
  it.skipIf(tool === null)(`pass promtool check rules${tool === null ? ` — skipped: ${skipReason}` : ''}`, () => {
    const r = run(['check', 'rules', 'alerts.yml']);
    expect(r.out).toMatch(/SUCCESS: \d+ rules found/);
    expect(r.status).toBe(0);
  });

  it.skipIf(tool === null)(`pass their unit tests, promtool test rules alerts.test.yml${tool === null ? ` — skipped: ${skipReason}` : ''}`, () => {
    const r = run(['test', 'rules', 'alerts.test.yml']);
    expect(r.out).toMatch(/SUCCESS/);
    expect(r.status).toBe(0);
  });

  it.skipIf(tool === null)(`and the compose Prometheus configuration pass promtool check config${tool === null ? ` — skipped: ${skipReason}` : ''}`, () => {
    const r = run(['check', 'config', 'prometheus.yml']);
    expect(r.status, r.out).toBe(0);
  });

  it('have a unit test for every alert, and name only metrics of the contract', () => {
    const rules = readFileSync(join(promDir, 'alerts.yml'), 'utf8');
    const tests = readFileSync(join(promDir, 'alerts.test.yml'), 'utf8');
    const alerts = [...rules.matchAll(/- alert: (\w+)/g)].map((m) => m[1]!);
    expect(alerts.length).toBeGreaterThanOrEqual(10);
    for (const a of alerts) expect(tests, `a firing test of ${a}`).toMatch(new RegExp(`alertname: ${a}\\n\\s+exp_alerts:\\n\\s+- exp_labels`));
    for (const needed of ['SenpaiNatsDisconnected', 'SenpaiFeedStale', 'SenpaiEventsDroppedBackpressure', 'SenpaiEventsOverflow', 'SenpaiProcessingLatencyHigh', 'SenpaiWarmupTooLong']) expect(alerts).toContain(needed);
    const known = contractMetrics();
    const exprs = [...rules.matchAll(/expr: (?:\|\n((?:\s{10}.*\n)+)|(.*))/g)].map((m) => m[1] ?? m[2] ?? '');
    expect(exprs.length).toBe(alerts.length);
    const used = new Set<string>();
    for (const e of exprs)
      for (const n of metricNames(e.replace(/_bucket\b/g, ''))) {
        expect(known, `${n} in ${e.trim()}`).toContain(n);
        used.add(n);
      }
    expect([...used]).toEqual(expect.arrayContaining(['up', 'senpai_nats_connected', 'senpai_events_in_total', 'senpai_events_dropped_total', 'senpai_processing_latency_ms', 'senpai_warming', 'senpai_queue_fill_ratio']));
  });
});

describe('Grafana dashboard (deploy/grafana)', () => {
  it('has the panels operators need, each with a unique id, on a grid without overlaps', () => {
    const titles = dashboard.panels.map((p) => p.title);
    for (const t of ['NATS connected', 'Warming', 'Events in by type', 'Drops by reason', 'Queue fill ratio', 'Processing latency quantiles', 'Feature publishes per symbol (top 20)']) expect(titles).toContain(t);
    expect(new Set(dashboard.panels.map((p) => p.id)).size).toBe(dashboard.panels.length);
    const cells = new Set<string>();
    for (const p of dashboard.panels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++)
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          expect(cells.has(`${x},${y}`), `${p.title} overlaps at ${x},${y}`).toBe(false);
          cells.add(`${x},${y}`);
        }
    }
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(['datasource', 'instance']);
  });

  it('queries only metrics of the contract', () => {
    const known = contractMetrics();
    const used = new Set<string>();
    for (const { panel, expr } of dashboardExprs)
      for (const n of metricNames(expr.replace(/_(bucket|count)\b/g, ''))) {
        expect(known, `${n} in "${panel}"`).toContain(n);
        used.add(n);
      }
    expect(used.size).toBeGreaterThanOrEqual(12);
  });

  it.skipIf(tool === null)(`queries in valid PromQL (each checked by promtool as a recording rule)${tool === null ? ` — skipped: ${skipReason}` : ''}`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'senpai-dashboard-'));
    try {
      const rules = dashboardExprs.map(({ expr }, i) => `      - record: dashboard:panel_query_${i}\n        expr: ${JSON.stringify(expr.replaceAll('$__rate_interval', '1m').replaceAll('$instance', '.*'))}`);
      writeFileSync(join(dir, 'dashboard-queries.yml'), `groups:\n  - name: dashboard\n    rules:\n${rules.join('\n')}\n`);
      const r = run(['check', 'rules', 'dashboard-queries.yml'], dir);
      expect(r.out).toMatch(new RegExp(`SUCCESS: ${dashboardExprs.length} rules found`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
