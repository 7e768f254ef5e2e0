import { readFileSync } from 'node:fs';

/** A compute record: `{kind, line, ...}`. */
export type GoldenRecord = Record<string, unknown> & { kind: string; line: number };

export function readJsonl(path: string): GoldenRecord[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as GoldenRecord);
}

export function parseJsonl(text: string): GoldenRecord[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as GoldenRecord);
}

/** Tolerances of shared/golden/README.md, per key. */
function withinTolerance(key: string, actual: number, expected: number): boolean {
  const diff = Math.abs(actual - expected);
  if (key.startsWith('latency_ms_')) return diff <= Math.max(1, 0.01 * Math.abs(expected));
  const rel = key === 'realized_vol_60s' ? 1e-6 : 1e-9;
  return diff <= rel * Math.abs(expected) || diff <= 1e-12;
}

/**
 * Compares records matched by `(kind, line)`; keys the expected records do not
 * carry are ignored. Returns human-readable mismatches (empty when equal).
 */
export function compareGolden(actual: GoldenRecord[], expected: GoldenRecord[], limit = 20): string[] {
  const problems: string[] = [];
  const byKey = new Map<string, GoldenRecord>();
  for (const r of actual) byKey.set(`${r.kind}:${r.line}`, r);
  const expectedKeys = new Set<string>();
  for (const exp of expected) {
    const k = `${exp.kind}:${exp.line}`;
    expectedKeys.add(k);
    const act = byKey.get(k);
    if (act === undefined) {
      problems.push(`missing ${k}`);
      continue;
    }
    for (const [key, ev] of Object.entries(exp)) {
      const av = act[key];
      if (typeof ev === 'number' && typeof av === 'number') {
        if (!withinTolerance(key, av, ev)) problems.push(`${k} ${key}: got ${av}, expected ${ev}`);
      } else if (JSON.stringify(av) !== JSON.stringify(ev)) {
        problems.push(`${k} ${key}: got ${JSON.stringify(av)}, expected ${JSON.stringify(ev)}`);
      }
    }
    if (problems.length >= limit) return problems;
  }
  for (const k of byKey.keys()) if (!expectedKeys.has(k)) problems.push(`unexpected ${k}`);
  return problems.slice(0, limit);
}
