import { existsSync, readFileSync } from 'node:fs';
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

const num = (what: string, check: (n: number) => boolean) =>
  z
    .string()
    .trim()
    .refine((s) => s !== '' && Number.isFinite(Number(s)) && check(Number(s)), what)
    .transform(Number);

const int = (what: string, min: number, max = Number.MAX_SAFE_INTEGER) =>
  num(what, (n) => Number.isInteger(n) && n >= min && n <= max);
const positive = num('a number > 0', (n) => n > 0);
const nonNegative = num('a number >= 0', (n) => n >= 0);

const natsUrls = z
  .string()
  .trim()
  .refine(
    (s) =>
      s.split(',').every((u) => /^(nats|tls|ws|wss):\/\/[^\s/]+$/.test(u.trim()) || /^[^\s:/]+:\d{1,5}$/.test(u.trim())),
    'a comma-separated list of nats://host:port URLs',
  )
  .transform((s) => s.split(',').map((u) => u.trim()));

const subject = z
  .string()
  .trim()
  .refine((s) => /^[^\s.]+(\.[^\s.]+)*$/.test(s) && !/>./.test(s.replace(/\.>$/, '')), 'a NATS subject such as md.events.>');

const optionalString = z.string().optional().transform((s) => (s === undefined || s.trim() === '' ? undefined : s.trim()));

/** A bearer token travels in an HTTP header: visible ASCII, no blanks. */
const bearerToken = z
  .string()
  .trim()
  .regex(/^[\x21-\x7e]+$/, 'visible ASCII characters without blanks (a bearer token, e.g. from `openssl rand -hex 32`)')
  .optional();

const schema = z.object({
  NATS_URL: natsUrls.default(['nats://127.0.0.1:4222']),
  NATS_SUBJECT: subject.default('md.events.>'),
  NATS_QUEUE_GROUP: optionalString,
  NATS_USER: optionalString,
  NATS_PASSWORD: optionalString,
  NATS_TOKEN: optionalString,
  NATS_CREDS_FILE: optionalString,
  NATS_TLS_CA: optionalString,
  NATS_TLS_CERT: optionalString,
  NATS_TLS_KEY: optionalString,
  USE_JETSTREAM: bool.default(false),
  JETSTREAM_STREAM: z.string().trim().regex(/^[A-Za-z0-9_-]+$/, 'a stream name of letters, digits, _ and -').default('MD_EVENTS'),
  JETSTREAM_DURABLE: z.string().trim().regex(/^[A-Za-z0-9_-]+$/, 'a consumer name of letters, digits, _ and -').default('senpai-md-consumer'),
  QUEUE_MAX_SIZE: int('an integer >= 1', 1, 10_000_000).default(10000),
  HTTP_HOST: z.string().trim().min(1, 'a host name or address').default('0.0.0.0'),
  HTTP_PORT: int('a port number from 0 to 65535', 0, 65535).default(8892),
  HTTP_MAX_CONNECTIONS: int('an integer from 1 to 100000', 1, 100_000).default(256),
  HTTP_MAX_STREAM_CLIENTS: int('an integer from 0 to 10000', 0, 10_000).default(32),
  HTTP_AUTH_TOKEN: bearerToken,
  METRICS_MAX_SYMBOLS: int('an integer from 0 to 10000', 0, 10_000).default(100),
  FEATURES_PUB_RATE_HZ: positive.default(10),
  ROLLING_WINDOW_SECONDS: positive.default(60),
  SIGNAL_RETURN_THRESHOLD: nonNegative.default(0.003),
  SIGNAL_VOLUME_THRESHOLD: nonNegative.default(1.0),
  SIGNAL_SPREAD_MAX_BPS: positive.default(20),
  SIGNAL_COOLDOWN_MS: nonNegative.default(10000),
  LATENCY_ALERT_MS: positive.default(2000),
  STALE_AFTER_MS: positive.default(10000),
  ALERT_COOLDOWN_MS: nonNegative.default(10000),
  MAX_SYMBOLS: int('an integer >= 1', 1).default(10000),
  MAX_FUTURE_SKEW_MS: nonNegative.default(60000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

type Raw = z.output<typeof schema>;

/** The validated configuration. */
export interface Config {
  readonly nats: {
    readonly servers: readonly string[];
    readonly subject: string;
    readonly queueGroup: string | undefined;
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
  readonly latencyAlertMs: number;
  readonly staleAfterMs: number;
  readonly alertCooldownMs: number;
  readonly maxSymbols: number;
  readonly maxFutureSkewMs: number;
  readonly logLevel: Raw['LOG_LEVEL'];
}

/** The variables the service reads, for `.env.example` and `--help`. */
export const CONFIG_VARIABLES = Object.keys(schema.shape);

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
    // a secret is never echoed, not even a malformed one
    const value = name === 'HTTP_AUTH_TOKEN' ? '(hidden)' : input[name];
    throw new ConfigError(`invalid ${name}=${JSON.stringify(value ?? '')}: expected ${issue.message}`);
  }
  const r = res.data;
  if ((r.NATS_TLS_CERT === undefined) !== (r.NATS_TLS_KEY === undefined)) {
    throw new ConfigError('invalid NATS_TLS_CERT/NATS_TLS_KEY: expected both or neither');
  }
  return Object.freeze({
    nats: {
      servers: r.NATS_URL,
      subject: r.NATS_SUBJECT,
      queueGroup: r.NATS_QUEUE_GROUP,
      user: r.NATS_USER,
      password: r.NATS_PASSWORD,
      token: r.NATS_TOKEN,
      credsFile: r.NATS_CREDS_FILE,
      tlsCa: r.NATS_TLS_CA,
      tlsCert: r.NATS_TLS_CERT,
      tlsKey: r.NATS_TLS_KEY,
    },
    jetstream: { enabled: r.USE_JETSTREAM, stream: r.JETSTREAM_STREAM, durable: r.JETSTREAM_DURABLE },
    queueMaxSize: r.QUEUE_MAX_SIZE,
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
    latencyAlertMs: r.LATENCY_ALERT_MS,
    staleAfterMs: r.STALE_AFTER_MS,
    alertCooldownMs: r.ALERT_COOLDOWN_MS,
    maxSymbols: r.MAX_SYMBOLS,
    maxFutureSkewMs: r.MAX_FUTURE_SKEW_MS,
    logLevel: r.LOG_LEVEL,
  });
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
