import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { parseEnv } from 'node:util';
import { z } from 'zod';
import { ConfigError } from '../domain/errors.js';

/**
 * The service configuration (SPEC §9): one zod schema over the environment.
 * Nothing else in the code base reads `process.env`.
 */

const bool = z
  .string()
  .trim()
  .toLowerCase()
  .refine((s) => ['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'].includes(s), 'a boolean (true or false)')
  .transform((s) => ['true', '1', 'yes', 'on'].includes(s));

const INTEGER = /^[0-9]+$/;
const REAL = /^[0-9]+(\.[0-9]+)?$/;

/** A plain decimal integer (no sign, exponent, hex or `_`) in [min, max]. */
const int = (min: number, max: number) =>
  z
    .string()
    .trim()
    .refine((s) => INTEGER.test(s) && Number(s) >= min && Number(s) <= max, `an integer from ${min} to ${max}`)
    .transform(Number);

/** A plain decimal number (digits, optionally a fraction) in [min, max]. */
const real = (min: number, max: number) =>
  z
    .string()
    .trim()
    .refine((s) => REAL.test(s) && Number(s) >= min && Number(s) <= max, `a decimal number from ${min} to ${max}`)
    .transform(Number);

/**
 * What is wrong with one `NATS_URL` entry, said after "expected comma-separated
 * nats://host:port URLs; ", or null. The client would take an empty host or a
 * port outside 1–65535 and then fail every attempt for ever (`Invalid URL`,
 * `connection refused`).
 */
function natsUrlProblem(entry: string): string | null {
  const u = entry.trim();
  const shown = JSON.stringify(redactUrl(u));
  const full = /^(nats|tls|ws|wss):\/\/([^\s/]+)\/?$/i.exec(u);
  if (full === null && !/^[^\s:/@]+:\d{1,5}$/.test(u)) return `${shown} is not one`;
  // credentials end at the last @
  const authority = full === null ? u : full[2]!.slice(full[2]!.lastIndexOf('@') + 1);
  // a bare IPv6 address without a port (the client brackets it itself)
  if (/^[0-9a-f]*:[0-9a-f]*:[0-9a-f:.]*$/i.test(authority)) return null;
  const hostPort = /^(\[[^\]]*\]|[^:[\]]*)(?::(.*))?$/.exec(authority);
  if (hostPort === null) return `${shown} is not one (an IPv6 address with a port goes in brackets)`;
  const [, host = '', port] = hostPort;
  if (host === '' || host === '[]') return `${shown} has no host`;
  if (port !== undefined && !(INTEGER.test(port) && Number(port) >= 1 && Number(port) <= 65535)) return `${shown} has a port outside 1-65535`;
  return null;
}

const natsUrls = z
  .string()
  .trim()
  .superRefine((s, ctx) => {
    for (const entry of s.split(',')) {
      const problem = natsUrlProblem(entry);
      if (problem !== null) return ctx.addIssue({ code: 'custom', message: `comma-separated nats://host:port URLs; ${problem}` });
    }
  })
  .transform((s) => s.split(',').map((u) => u.trim()));

const subject = z
  .string()
  .trim()
  .refine((s) => /^[^\s.]+(\.[^\s.]+)*$/.test(s) && !/>./.test(s.replace(/\.>$/, '')), 'a NATS subject such as md.events.>');

const optionalString = z.string().optional().transform((s) => (s === undefined || s.trim() === '' ? undefined : s.trim()));

/** A file setting: empty, or the path of a readable file. */
const readableFile = optionalString.refine((p) => p === undefined || isReadableFile(p), 'the path of a readable file');

function isReadableFile(path: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

const DAY_MS = 86_400_000;

/** A bearer token travels in an HTTP header: visible ASCII, no blanks. */
const bearerToken = z
  .string()
  .trim()
  .regex(/^[\x21-\x7e]+$/, 'visible ASCII characters without blanks (a bearer token, e.g. from `openssl rand -hex 32`)')
  .optional();

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
/** `LOG_LEVEL`: pino's levels. */
export type LogLevel = (typeof LOG_LEVELS)[number];

const schema = z.object({
  NATS_URL: natsUrls.default(['nats://127.0.0.1:4222']),
  NATS_SUBJECT: subject.default('md.events.>'),
  NATS_QUEUE_GROUP: optionalString,
  NATS_USER: optionalString,
  NATS_PASSWORD: optionalString,
  NATS_TOKEN: optionalString,
  NATS_CREDS_FILE: readableFile,
  NATS_TLS_CA: readableFile,
  NATS_TLS_CERT: readableFile,
  NATS_TLS_KEY: readableFile,
  USE_JETSTREAM: bool.default(false),
  JETSTREAM_STREAM: z.string().trim().regex(/^[A-Za-z0-9_-]+$/, 'a stream name of letters, digits, _ and -').default('MD_EVENTS'),
  JETSTREAM_DURABLE: z.string().trim().regex(/^[A-Za-z0-9_-]+$/, 'a consumer name of letters, digits, _ and -').default('senpai-md-consumer'),
  QUEUE_MAX_SIZE: int(1, 10_000_000).default(10000),
  QUEUE_MAX_BYTES: int(1_048_576, 68_719_476_736).default(268_435_456),
  HTTP_HOST: z.string().trim().min(1, 'a host name or address').default('0.0.0.0'),
  HTTP_PORT: int(0, 65535).default(8892),
  HTTP_MAX_CONNECTIONS: int(1, 100_000).default(256),
  HTTP_MAX_STREAM_CLIENTS: int(0, 10_000).default(32),
  HTTP_AUTH_TOKEN: bearerToken,
  METRICS_MAX_SYMBOLS: int(0, 10_000).default(100),
  FEATURES_PUB_RATE_HZ: real(0.1, 1000).default(10),
  ROLLING_WINDOW_SECONDS: int(10, 86_400).default(60),
  SIGNAL_RETURN_THRESHOLD: real(0, 10).default(0.003),
  SIGNAL_VOLUME_THRESHOLD: real(0, 1e15).default(1.0),
  SIGNAL_SPREAD_MAX_BPS: real(0, 100_000).default(20),
  SIGNAL_COOLDOWN_MS: int(0, DAY_MS).default(10000),
  SIGNAL_MAX_AGE_MS: int(0, DAY_MS).default(30000),
  LATENCY_ALERT_MS: int(1, DAY_MS).default(2000),
  STALE_AFTER_MS: int(100, DAY_MS).default(10000),
  ALERT_COOLDOWN_MS: int(0, DAY_MS).default(10000),
  MAX_SYMBOLS: int(1, 1_000_000).default(10000),
  MAX_FUTURE_SKEW_MS: int(0, DAY_MS).default(60000),
  SYMBOL_IDLE_EVICT_S: int(10, 30 * 86_400).default(3600),
  WARMUP: bool.default(true),
  WARMUP_MARGIN_S: int(0, 86_400).default(10),
  CLUSTER_PARTITIONS: int(0, 1024).default(0),
  CLUSTER_BUCKET: z.string().trim().regex(/^[A-Za-z0-9_-]+$/, 'a bucket name of letters, digits, _ and -').default('senpai_cluster'),
  CLUSTER_LEASE_MS: int(3000, 600_000).default(15000),
  CLUSTER_ADVERTISE_URL: optionalString.refine((u) => u === undefined || /^https?:\/\/[^\s/]+(\/\S*)?$/.test(u), 'an http:// or https:// URL'),
  CLUSTER_MEMBER_ID: optionalString.refine((id) => id === undefined || /^[A-Za-z0-9_=-]{1,64}$/.test(id), 'letters, digits, _, - and = (at most 64)'),
  ENGINE_THREAD: z
    .string()
    .trim()
    .toLowerCase()
    .refine((s) => s === 'main' || s === 'worker', 'main or worker')
    .transform((s) => s as EngineThreadMode)
    .default('main'),
  LOG_LEVEL: z
    .string()
    .trim()
    .pipe(z.enum(LOG_LEVELS, { error: `one of ${LOG_LEVELS.join(', ')}` }))
    .default('info'),
});

/** Where decode, engine, features and rules run: on the I/O thread (`main`) or on a worker thread of their own (`worker`). */
export type EngineThreadMode = 'main' | 'worker';

/** Cluster mode settings (SPEC §12). */
export interface ClusterConfig {
  /** P: the partition count of the server's subject mapping. */
  readonly partitions: number;
  /** The KV bucket holding members and leases. */
  readonly bucket: string;
  readonly leaseMs: number;
  /**
   * Where this member answers HTTP, for other members' 421 answers: `CLUSTER_ADVERTISE_URL`
   * as set; null when unset (the service then builds it from `HTTP_HOST` and the port it bound).
   */
  readonly advertiseUrl: string | null;
  /** Unique in the group. */
  readonly memberId: string;
}

/** The validated configuration. */
export interface Config {
  readonly nats: {
    /** Server URLs with any credentials removed (safe to show). */
    readonly servers: readonly string[];
    readonly subject: string;
    readonly user: string | undefined;
    readonly password: string | undefined;
    readonly token: string | undefined;
    readonly credsFile: string | undefined;
    readonly tlsCa: string | undefined;
    readonly tlsCert: string | undefined;
    readonly tlsKey: string | undefined;
  };
  readonly jetstream: { readonly enabled: boolean; readonly stream: string; readonly durable: string };
  readonly queueMaxSize: number;
  /** Hard bound on the queued payload bytes (core mode; SPEC §6). */
  readonly queueMaxBytes: number;
  readonly http: {
    readonly host: string;
    readonly port: number;
    /** Connections served; more get 503 (SPEC §7). */
    readonly maxConnections: number;
    /** Concurrent `/stream` clients; more get 503. */
    readonly maxStreamClients: number;
    /** Bearer token every endpoint but `/health` and `/` requires; undefined: open. */
    readonly authToken: string | undefined;
  };
  /** Symbols that keep their own `symbol` metric label; later ones are `other` (SPEC §8). */
  readonly metricsMaxSymbols: number;
  readonly featuresPubRateHz: number;
  readonly windowMs: number;
  readonly rules: {
    readonly returnThreshold: number;
    readonly volumeThreshold: number;
    readonly spreadMaxBps: number;
    readonly cooldownMs: number;
  };
  /** Live signals whose `t` is older than this against the wall clock are not published (SPEC §11). */
  readonly signalMaxAgeMs: number;
  readonly latencyAlertMs: number;
  readonly staleAfterMs: number;
  readonly alertCooldownMs: number;
  readonly maxSymbols: number;
  readonly maxFutureSkewMs: number;
  /** A symbol with no accepted event for this long (wall clock) is forgotten (SPEC §3). */
  readonly symbolIdleEvictMs: number;
  /** JetStream warm start (SPEC §11): on, and the history read beyond the window. */
  readonly warmup: { readonly enabled: boolean; readonly marginS: number };
  /** Cluster mode (SPEC §12); null when `CLUSTER_PARTITIONS=0`. */
  readonly cluster: ClusterConfig | null;
  /** `ENGINE_THREAD`: `worker` runs decode and the engine on a thread of their own, the I/O thread keeping NATS and admission. */
  readonly engineThread: EngineThreadMode;
  readonly logLevel: LogLevel;
  /** Non-fatal findings (unknown variables), for the caller to log. */
  readonly warnings: readonly string[];
}

/** The variables the service reads, for `.env.example` and `--help`. */
export const CONFIG_VARIABLES = Object.keys(schema.shape);

/** Variables with this service's prefixes that other parts of it read (not the service's config). */
const OTHER_KNOWN = ['NATS_SERVER_BIN'];
const PREFIXES = ['NATS_', 'SIGNAL_', 'HTTP_', 'QUEUE_', 'JETSTREAM_', 'CLUSTER_', 'WARMUP_', 'SENPAI_', 'ENGINE_'];
/** Names other software sets (proxies, Kubernetes service links). */
const EXEMPT = [/^HTTP_PROXY$/, /^NATS_SERVICE_/, /^NATS_PORT/];
/** Values never shown in a message. */
const SECRET = new Set(['NATS_PASSWORD', 'NATS_TOKEN', 'HTTP_AUTH_TOKEN']);

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/**
 * Whether `known` is close enough to `name` to be what was meant: a few
 * edits, a third of the longer name at most (2 for short names), so
 * `NATS_URLL` suggests `NATS_URL` but `SENPAI_FOO` suggests nothing.
 */
function closeEnough(name: string, known: string, edits: number): boolean {
  return edits <= Math.max(2, Math.floor(Math.max(name.length, known.length) / 3));
}

function unknownVariableWarnings(env: Readonly<Record<string, string | undefined>>): string[] {
  const known = [...CONFIG_VARIABLES, ...OTHER_KNOWN];
  const out: string[] = [];
  // names without the prefixes are everyone's: one is taken for a misspelling only when it is within
  // two edits of one of ours (ROLLING_WINDOW_SECOND, LOG_LEVLE), never for a name merely unknown
  const unprefixed = known.filter((k) => !PREFIXES.some((p) => k.startsWith(p)));
  for (const name of Object.keys(env).sort()) {
    if (!PREFIXES.some((p) => name.startsWith(p))) {
      if (known.includes(name) || name.length < 6) continue;
      let near: string | undefined;
      let nearEdits = 3;
      for (const k of unprefixed) {
        const edits = distance(name, k);
        if (edits < nearEdits) [near, nearEdits] = [k, edits];
      }
      if (near !== undefined) out.push(`unknown variable ${name} ignored; did you mean ${near}?`);
      continue;
    }
    if (known.includes(name) || EXEMPT.some((re) => re.test(name))) continue;
    let best = known[0]!;
    let bestEdits = distance(name, best);
    for (const k of known) {
      const edits = distance(name, k);
      if (edits < bestEdits) [best, bestEdits] = [k, edits];
    }
    out.push(closeEnough(name, best, bestEdits) ? `unknown variable ${name} ignored; did you mean ${best}?` : `unknown variable ${name} ignored`);
  }
  return out;
}

/** `nats://user:pass@host` → the URL without credentials (up to the last `@`, as URL parsers read it); others unchanged. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z]+:\/\/)[^/]*@/i, '$1');
}

/** Credentials written into the URLs (SPEC §9): one set for the whole list. */
function urlCredentials(urls: readonly string[]): { user?: string; password?: string; token?: string } | null {
  let found: { user?: string; password?: string; token?: string } | null = null;
  let foundKey = '';
  for (const u of urls) {
    if (!/^[a-z]+:\/\/[^@/]*@/i.test(u)) continue;
    let parsed: URL;
    try {
      parsed = new URL(u);
    } catch {
      throw new ConfigError(`invalid NATS_URL entry ${JSON.stringify(redactUrl(u))}: expected nats://[user:password@]host:port`);
    }
    const user = decodeURIComponent(parsed.username);
    const creds = parsed.password !== '' ? { user, password: decodeURIComponent(parsed.password) } : { token: user };
    const key = JSON.stringify(creds);
    if (found !== null && key !== foundKey) {
      throw new ConfigError('invalid NATS_URL: its URLs carry different credentials; use one set for the whole list');
    }
    found = creds;
    foundKey = key;
  }
  return found;
}

/**
 * Validates an environment; throws {@link ConfigError} naming the first bad
 * variable, its value and what is expected.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): Readonly<Config> {
  const input: Record<string, string> = {};
  for (const key of CONFIG_VARIABLES) {
    const v = env[key];
    if (v !== undefined && v !== '') input[key] = v;
  }
  const res = schema.safeParse(input);
  if (!res.success) {
    const issue = res.error.issues[0]!;
    const name = String(issue.path[0] ?? '?');
    const raw = input[name] ?? '';
    const shown = SECRET.has(name) ? '<redacted>' : name === 'NATS_URL' ? raw.split(',').map((u) => redactUrl(u.trim())).join(',') : raw;
    throw new ConfigError(`invalid ${name}=${JSON.stringify(shown)}: expected ${issue.message}`);
  }
  const r = res.data;
  if (r.NATS_QUEUE_GROUP !== undefined) {
    throw new ConfigError(
      'NATS_QUEUE_GROUP is not supported: a queue group splits one symbol\'s events across instances and every instance computes wrong windows; ' +
        'to share the symbols between instances use cluster mode (CLUSTER_PARTITIONS, docs/SCALING.md; SPEC §12)',
    );
  }
  if ((r.NATS_TLS_CERT === undefined) !== (r.NATS_TLS_KEY === undefined)) {
    throw new ConfigError('invalid NATS_TLS_CERT/NATS_TLS_KEY: expected both or neither');
  }
  if (r.SYMBOL_IDLE_EVICT_S < r.ROLLING_WINDOW_SECONDS) {
    throw new ConfigError(
      `invalid SYMBOL_IDLE_EVICT_S=${JSON.stringify(String(r.SYMBOL_IDLE_EVICT_S))}: expected at least ROLLING_WINDOW_SECONDS (${r.ROLLING_WINDOW_SECONDS})`,
    );
  }
  if (r.CLUSTER_PARTITIONS > 0 && !r.USE_JETSTREAM) {
    throw new ConfigError(`invalid CLUSTER_PARTITIONS=${JSON.stringify(String(r.CLUSTER_PARTITIONS))}: cluster mode requires USE_JETSTREAM=true (SPEC §12)`);
  }
  if (r.CLUSTER_PARTITIONS > 0 && r.ENGINE_THREAD === 'worker') {
    throw new ConfigError('invalid ENGINE_THREAD="worker": cluster mode (CLUSTER_PARTITIONS) runs the engine on the main thread only; set ENGINE_THREAD=main');
  }
  const fromUrl = urlCredentials(r.NATS_URL);
  const user = fromUrl === null ? r.NATS_USER : fromUrl.user;
  const password = fromUrl === null ? r.NATS_PASSWORD : fromUrl.password;
  const token = fromUrl === null ? r.NATS_TOKEN : fromUrl.token;
  return Object.freeze({
    nats: {
      servers: r.NATS_URL.map(redactUrl),
      subject: r.NATS_SUBJECT,
      user,
      password,
      token,
      credsFile: r.NATS_CREDS_FILE,
      tlsCa: r.NATS_TLS_CA,
      tlsCert: r.NATS_TLS_CERT,
      tlsKey: r.NATS_TLS_KEY,
    },
    jetstream: { enabled: r.USE_JETSTREAM, stream: r.JETSTREAM_STREAM, durable: r.JETSTREAM_DURABLE },
    queueMaxSize: r.QUEUE_MAX_SIZE,
    queueMaxBytes: r.QUEUE_MAX_BYTES,
    http: {
      host: r.HTTP_HOST,
      port: r.HTTP_PORT,
      maxConnections: r.HTTP_MAX_CONNECTIONS,
      maxStreamClients: r.HTTP_MAX_STREAM_CLIENTS,
      authToken: r.HTTP_AUTH_TOKEN,
    },
    metricsMaxSymbols: r.METRICS_MAX_SYMBOLS,
    featuresPubRateHz: r.FEATURES_PUB_RATE_HZ,
    windowMs: r.ROLLING_WINDOW_SECONDS * 1000,
    rules: {
      returnThreshold: r.SIGNAL_RETURN_THRESHOLD,
      volumeThreshold: r.SIGNAL_VOLUME_THRESHOLD,
      spreadMaxBps: r.SIGNAL_SPREAD_MAX_BPS,
      cooldownMs: r.SIGNAL_COOLDOWN_MS,
    },
    signalMaxAgeMs: r.SIGNAL_MAX_AGE_MS,
    latencyAlertMs: r.LATENCY_ALERT_MS,
    staleAfterMs: r.STALE_AFTER_MS,
    alertCooldownMs: r.ALERT_COOLDOWN_MS,
    maxSymbols: r.MAX_SYMBOLS,
    maxFutureSkewMs: r.MAX_FUTURE_SKEW_MS,
    symbolIdleEvictMs: r.SYMBOL_IDLE_EVICT_S * 1000,
    warmup: { enabled: r.WARMUP, marginS: r.WARMUP_MARGIN_S },
    cluster:
      r.CLUSTER_PARTITIONS === 0
        ? null
        : {
            partitions: r.CLUSTER_PARTITIONS,
            bucket: r.CLUSTER_BUCKET,
            leaseMs: r.CLUSTER_LEASE_MS,
            advertiseUrl: r.CLUSTER_ADVERTISE_URL ?? null,
            memberId: r.CLUSTER_MEMBER_ID ?? defaultMemberId(),
          },
    engineThread: r.ENGINE_THREAD,
    logLevel: r.LOG_LEVEL,
    warnings: unknownVariableWarnings(env),
  });
}

/** `{hostname}-{pid}-{random}`, reduced to the member id alphabet. */
function defaultMemberId(): string {
  const host = hostname().replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 40);
  return `${host}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/** The process environment over a `.env` file in `cwd` (the environment wins). */
export function readEnvironment(
  processEnv: Readonly<Record<string, string | undefined>>,
  cwd: string,
): Record<string, string | undefined> {
  const path = `${cwd}/.env`;
  if (!existsSync(path)) return { ...processEnv };
  let fromFile: Record<string, string>;
  try {
    fromFile = parseEnv(readFileSync(path, 'utf8')) as Record<string, string>;
  } catch (err) {
    throw new ConfigError(`cannot read ${path}: ${(err as Error).message}`);
  }
  return { ...fromFile, ...processEnv };
}
