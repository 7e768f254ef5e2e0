import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv/dist/2020.js';

export const SCHEMA_DIR = join(import.meta.dirname, '..', '..', 'schema');

export type SchemaName =
  | 'features'
  | 'signal'
  | 'alert'
  | 'http-health'
  | 'http-stats'
  | 'http-state-latest'
  | 'http-features-latest'
  | 'http-error'
  | 'http-cluster';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Every shipped schema, by name (file name without `.schema.json`). */
export function loadSchemas(): Map<string, Record<string, Json>> {
  const out = new Map<string, Record<string, Json>>();
  for (const f of readdirSync(SCHEMA_DIR).sort()) {
    if (f.endsWith('.schema.json')) out.set(f.slice(0, -'.schema.json'.length), JSON.parse(readFileSync(join(SCHEMA_DIR, f), 'utf8')) as Record<string, Json>);
  }
  return out;
}

/**
 * The schemas as published, but closed: every object that allows extra
 * properties refuses properties no schema keyword describes. Consumers get
 * the open schemas; our own output is held to the closed ones, so that a field
 * the service publishes is never missing from the contract.
 */
function closed(node: Json): Json {
  if (Array.isArray(node)) return node.map(closed);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === 'additionalProperties' && v === true && 'properties' in node) out.unevaluatedProperties = false;
    else out[k] = closed(v);
  }
  return out;
}

function compiler(strictFields: boolean): Ajv2020 {
  // strict, except "required only of properties defined beside it": the health
  // schema's if/then clauses require properties defined at the top
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
  for (const [name, schema] of loadSchemas()) ajv.addSchema(strictFields ? (closed(schema) as object) : schema, name);
  return ajv;
}

const open = compiler(false);
const strict = compiler(true);

function validator(ajv: Ajv2020, name: SchemaName): ValidateFunction {
  const v = ajv.getSchema(name);
  if (v === undefined) throw new Error(`no schema ${name}`);
  return v;
}

/** Problems of `value` against the published schema `name` (empty when valid). */
export function schemaErrors(name: SchemaName, value: unknown, opts: { closed?: boolean } = {}): string[] {
  const ajv = opts.closed === true ? strict : open;
  const v = validator(ajv, name);
  if (v(value)) return [];
  return (v.errors ?? []).map((e) => `${name}${e.instancePath} ${e.message ?? ''}${e.params !== undefined ? ` ${JSON.stringify(e.params)}` : ''}`);
}

/** Holds `value` to the closed schema: valid, and no field left undescribed. */
export function contractErrors(name: SchemaName, value: unknown): string[] {
  return schemaErrors(name, value, { closed: true });
}
