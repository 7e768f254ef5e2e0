import Fastify, { LogController } from 'fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { ClusterAnswer } from '../domain/http-answers.js';
import { normalizeSymbol } from '../domain/symbol.js';
import { within } from '../domain/within.js';
import { computeFeatures } from '../features/feature-engine.js';
import type { Telemetry } from '../obs/telemetry.js';
import type { SymbolState } from '../state/symbol-state.js';
import { latestState } from './latest-state.js';
import { BearerToken, PUBLIC_ROUTES } from './bearer-token.js';
import { ConnectionLimit, HEALTH_RESERVE_CONNECTIONS } from './connection-limit.js';
import { answerConnect, answerExpectations, clientErrorAnswer, frameworkErrorAnswer, HTTP_SERVER_OPTIONS, missingHost, REQUEST_TIMEOUT_MS } from './early-errors.js';
import type { DegradedReason, WarmupProgress } from './health.js';
import { healthAnswer } from './health.js';
import { HttpCounters } from './http-counters.js';
import { MetricsCache } from './metrics-cache.js';
import type { RequestGateOptions } from './request-gate.js';
import { DEFAULT_GATE_OPTIONS, RequestGate } from './request-gate.js';
import type { EngineReads, HttpOptions, QueueView, SymbolStoreView } from './views.js';
import { SymbolList } from '../state/symbol-list.js';

export type { HttpOptions } from './views.js';
export { latestState } from './latest-state.js';

/** What the HTTP API reads (read-only views); it never writes. */
export interface HttpDeps {
  readonly symbols: SymbolStoreView;
  /** The engine's count of symbols added or forgotten (`MarketEngine.symbolChanges`): `/health`'s sorted list is rebuilt when it moved. */
  readonly symbolChanges: () => number;
  readonly telemetry: Telemetry;
  readonly queue: QueueView;
  readonly isNatsConnected: () => boolean;
  /** Limits and access; defaults: 256 connections, 32 streams, no token. */
  readonly http?: HttpOptions;
  /** The last NATS connection failure, credentials removed (SPEC §9); null when none. */
  readonly natsError?: () => string | null;
  /** JetStream: why the durable is not delivering (it or its stream disappeared); null while it is. */
  readonly consumerError?: () => string | null;
  /** The warm-up in progress (SPEC §11), null when not warming. */
  readonly warmup?: () => WarmupProgress | null;
  /** Wall-clock ms of the last event dropped for backpressure or overflow. */
  readonly lastBackpressureDropMs?: () => number;
  /** Overrides of the request gate's budgets (tests). */
  readonly gate?: Partial<RequestGateOptions>;
  readonly log?: Logger;
  /** Cluster mode (SPEC §12): `GET /cluster`, owned partitions in `/health`, 421 for symbols owned elsewhere; absent when off. */
  readonly cluster?: () => ClusterRoutes | null;
  /**
   * ENGINE_THREAD=worker: the engine runs on its own thread; state reads ask
   * it and `/stats`, `/metrics` and `/health` bring the counters up to date
   * first (`symbols` is then unused). Absent: the engine is `symbols`' owner, read directly.
   */
  readonly engine?: EngineReads;
  /** Extra routes (the dashboard) registered on the same server, with the layer's counters. */
  readonly extend?: (app: FastifyInstance, counters: HttpCounters) => void;
}

/** A degradation is reported for this long after its last sign, so a scrape every 15 s still sees it. */
export const DEGRADED_HOLD_MS = 10_000;

const DEFAULT_HTTP: HttpOptions = { maxConnections: 256, maxStreamClients: 32, authToken: undefined };

/** What the HTTP API reads of a cluster member. */
export interface ClusterRoutes {
  /** The `GET /cluster` body. */
  view(): ClusterAnswer;
  owned(): number[];
  /** Who answers for a symbol: here, another member, or nobody yet (its partition is being taken over). */
  route(symbol: string): { kind: 'here' } | { kind: 'elsewhere'; owner: string; httpUrl: string } | { kind: 'unowned'; partition: number };
}

class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    /** More fields of the answer (421: owner, http_url; 503 engine: reasons, engine_error). */
    readonly fields: Record<string, string | readonly string[]> = {},
  ) {
    super(message);
  }
}

function symbolParam(req: FastifyRequest): string {
  const raw = (req.query as Record<string, unknown>).symbol;
  if (raw === undefined || raw === '') throw new HttpError(400, 'missing query parameter "symbol"');
  if (typeof raw !== 'string') throw new HttpError(400, 'query parameter "symbol" must be given once');
  const symbol = normalizeSymbol(raw);
  if (symbol === null) throw new HttpError(400, `invalid symbol ${JSON.stringify(raw)}: expected letters, digits, _ or - (at most 32)`);
  return symbol;
}

/** The symbol asked for, once the cluster (if any) says it is answered here. */
function routedSymbol(deps: HttpDeps, req: FastifyRequest): string {
  const symbol = symbolParam(req);
  const route = deps.cluster?.()?.route(symbol);
  if (route !== undefined && route.kind === 'elsewhere') {
    throw new HttpError(421, `symbol ${symbol} is owned by cluster member ${route.owner}`, { owner: route.owner, http_url: route.httpUrl });
  }
  if (route !== undefined && route.kind === 'unowned') {
    throw new HttpError(503, `symbol ${symbol} is in partition ${route.partition}, which no cluster member owns right now (being taken over); retry shortly`);
  }
  return symbol;
}

function unknownSymbol(symbol: string): HttpError {
  return new HttpError(404, `unknown symbol ${symbol}: no event seen for it`);
}

function stateOf(deps: HttpDeps, req: FastifyRequest): SymbolState {
  const symbol = routedSymbol(deps, req);
  const s = deps.symbols.get(symbol);
  if (s === undefined) throw unknownSymbol(symbol);
  return s;
}

/** ENGINE_THREAD=worker: the engine thread died, so what only it knows cannot be answered: 503, the reason as `/health` gives it. */
function engineUnavailable(failure: Error): HttpError {
  return new HttpError(503, `the engine thread is not running, so the engine's state cannot be read: ${failure.message}`, {
    reasons: ['engine'],
    engine_error: failure.message,
  });
}

/** ENGINE_THREAD=worker: a symbol's answer from the engine thread, 404 when it does not know the symbol, 503 when it died. */
async function engineRead(engine: EngineReads, deps: HttpDeps, req: FastifyRequest, read: (symbol: string) => Promise<object | null>): Promise<object> {
  const symbol = routedSymbol(deps, req);
  const before = engine.failure();
  if (before !== null) throw engineUnavailable(before);
  let body: object | null;
  try {
    body = await read.call(engine, symbol);
  } catch (err) {
    // it died while the question was out (the question is failed with its error)
    const failure = engine.failure();
    throw failure !== null ? engineUnavailable(failure) : err;
  }
  if (body === null) throw unknownSymbol(symbol);
  return body;
}

/** How long `/health` waits for the engine thread's answer before saying it does not answer. */
const ENGINE_HEALTH_TIMEOUT_MS = 2000;

/** The engine thread's symbol list, or why there is none (it failed, or it does not answer in time). */
async function engineSymbols(engine: EngineReads): Promise<{ symbols: readonly string[]; error: string | null }> {
  const failed = engine.failure();
  if (failed !== null) return { symbols: [], error: failed.message };
  try {
    const symbols = await within(engine.symbols(), ENGINE_HEALTH_TIMEOUT_MS, null);
    return symbols === null ? { symbols: [], error: `the engine thread has not answered for ${ENGINE_HEALTH_TIMEOUT_MS} ms` } : { symbols, error: null };
  } catch (err) {
    return { symbols: [], error: (err as Error).message };
  }
}

/**
 * The fastify app with the endpoints of SPEC §7; `inject()`-testable, no
 * listening here. Every request passes, in order: the connection limit (503,
 * within 100 ms, on a connection accepted over it; `/health` excepted), the
 * request gate (its turn behind ingestion; 503 when too many wait), the bearer
 * token (401), then its route. Routes are synchronous up to their answer, so
 * the gate measures what each costs.
 */
export function buildHttpApp(deps: HttpDeps): FastifyInstance {
  const http = deps.http ?? DEFAULT_HTTP;
  // typed as the base instance so routes can be added by modules that know nothing of pino
  const app = Fastify({
    ...(deps.log !== undefined ? { loggerInstance: deps.log.child({ component: 'http' }) } : { logger: false }),
    logController: new LogController({ disableRequestLogging: true }),
    http: HTTP_SERVER_OPTIONS,
    requestTimeout: REQUEST_TIMEOUT_MS,
    clientErrorHandler: clientErrorAnswer,
    frameworkErrors: frameworkErrorAnswer,
  }) as unknown as FastifyInstance;
  answerExpectations(app.server);
  answerConnect(app.server);

  const counters = new HttpCounters(http.maxConnections, http.maxStreamClients);
  counters.register(deps.telemetry.registry);
  const connections = new ConnectionLimit(http.maxConnections, counters);
  connections.attach(app.server);
  const gate = new RequestGate(
    { ...DEFAULT_GATE_OPTIONS, maxWaiting: 4 * (http.maxConnections + HEALTH_RESERVE_CONNECTIONS), ...deps.gate },
    (err) => app.log.error({ err }, 'request handling failed'),
  );
  counters.requestsWaiting = () => gate.waiting;
  const token = new BearerToken(http.authToken);
  const metrics = new MetricsCache(deps.telemetry.registry);
  const symbolList = new SymbolList(deps.symbols, deps.symbolChanges);

  app.setErrorHandler((err: Error & { statusCode?: number }, req: FastifyRequest, reply: FastifyReply) => {
    const status = err instanceof HttpError ? err.statusCode : (err.statusCode ?? 500);
    if (err instanceof HttpError && status === 503) {
      void reply.code(503).header('Retry-After', '1').send({ error: err.message, ...err.fields });
      return;
    }
    if (status >= 500) {
      req.log.error({ err }, 'request failed');
      void reply.code(status).send({ error: 'internal server error' });
      return;
    }
    void reply.code(status).send({ error: err.message, ...(err instanceof HttpError ? err.fields : {}) });
  });
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0]!;
    // every route is a fixed path: the router says which methods it has (the dashboard's included), for 405's Allow
    const allow = app.supportedMethods.filter((method) => app.hasRoute({ method, url: path })).sort();
    if (allow.length > 0) {
      void reply
        .code(405)
        .header('Allow', allow.join(', '))
        .send({ error: `method ${req.method} not allowed on ${path}: use ${allow.join(' or ')}` });
      return;
    }
    void reply.code(404).send({ error: `no route ${req.method} ${path}` });
  });

  app.addHook('onRequest', (req, reply, done) => {
    const noHost = missingHost(req.raw);
    if (noHost !== null) {
      void reply.code(400).header('Connection', 'close').send({ error: noHost });
      return;
    }
    const route = req.routeOptions.url;
    const isHealth = route === '/health';
    const socket = req.raw.socket;
    if (connections.noteRequestIfBeyondLimit(socket)) {
      // answer once, then let the slot go
      void reply.header('Connection', 'close');
      if (!isHealth) {
        counters.reject('connections');
        connections.refuseSoon(socket, () => {
          if (req.raw.destroyed) return;
          void reply
            .code(503)
            .header('Retry-After', '1')
            .send({ error: `too many connections: at most ${http.maxConnections} are served (HTTP_MAX_CONNECTIONS)` });
        });
        return;
      }
    }
    const queued = gate.enter(
      () => {
        if (route !== undefined && PUBLIC_ROUTES.has(route)) return done();
        if (!token.allows(req.headers.authorization)) {
          counters.reject('unauthorized');
          void reply
            .code(401)
            .header('WWW-Authenticate', 'Bearer realm="senpai-md-consumer"')
            .send({ error: 'missing or wrong bearer token: send "Authorization: Bearer <HTTP_AUTH_TOKEN>"' });
          return;
        }
        done();
      },
      () => req.raw.destroyed || req.raw.socket?.destroyed === true,
      isHealth,
    );
    if (!queued) {
      counters.reject('overload');
      void reply.code(503).header('Retry-After', '1').send({ error: 'too many requests waiting; try again shortly' });
    }
  });
  // open streams are ended by the dashboard's own preClose; waiting requests get their turn now
  app.addHook('preClose', (done) => {
    gate.close();
    connections.refuseAll();
    done();
  });

  const degraded = (nowMs: number): DegradedReason[] => {
    const out: DegradedReason[] = [];
    const q = deps.queue;
    const lastDrop = deps.lastBackpressureDropMs?.() ?? Number.NEGATIVE_INFINITY;
    if (q.fillRatio >= q.highWater || nowMs - lastDrop < DEGRADED_HOLD_MS) out.push('backpressure');
    if (nowMs - counters.lastOverloadMs < DEGRADED_HOLD_MS) out.push('http_overload');
    return out;
  };

  const engine = deps.engine;
  const health = (now: number, symbols: readonly string[], engineError: string | null) =>
    healthAnswer({
      natsConnected: deps.isNatsConnected(),
      natsError: deps.natsError?.() ?? null,
      consumerError: deps.consumerError?.() ?? null,
      warmup: deps.warmup?.() ?? null,
      degraded: degraded(now),
      uptimeS: deps.telemetry.uptimeSeconds(),
      symbols,
      partitions: deps.cluster?.()?.owned() ?? null,
      engineError,
    });
  if (engine !== undefined) {
    app.get('/health', async (_req, reply) => {
      const { symbols, error } = await engineSymbols(engine);
      const { statusCode, body } = health(Date.now(), symbols, error);
      return reply.code(statusCode).send(body);
    });
  } else {
    app.get('/health', (_req, reply) => {
      const now = Date.now();
      const { statusCode, body } = health(now, symbolList.get(), null);
      void reply.code(statusCode).send(body);
    });
  }

  app.get('/metrics', (_req, reply) => {
    const text = metrics.fresh();
    if (text !== null) {
      void reply.type(metrics.contentType).send(text);
      return reply;
    }
    // ENGINE_THREAD=worker: the engine thread's counts up to now first (a failed thread: what came before)
    const synced = engine === undefined || engine.failure() !== null ? Promise.resolve() : engine.sync().catch(() => undefined);
    synced.then(() => metrics.get()).then(
      (t) => void reply.type(metrics.contentType).send(t),
      (err: unknown) => void reply.send(err),
    );
    return reply;
  });

  const stats = (symbols: number) => {
    const t = deps.telemetry;
    return {
      queue: { size: deps.queue.size, capacity: deps.queue.capacity, fill_ratio: deps.queue.fillRatio, bytes: deps.queue.bytes, max_bytes: Number.isFinite(deps.queue.maxBytes) ? deps.queue.maxBytes : null },
      events_in_total: t.eventsInTotal,
      events_processed_total: t.eventsProcessedTotal,
      events_dropped_total: t.eventsDroppedTotal,
      dropped_by_reason: t.droppedByReasonObject(),
      events_per_sec: t.eventsPerSecond(),
      features_published_total: t.featuresPublishedTotal,
      signals_emitted_total: t.signalsEmittedTotal,
      symbols,
      uptime_s: t.uptimeSeconds(),
      http: counters.stats(),
    };
  };
  if (engine !== undefined) {
    app.get('/stats', async () => {
      if (engine.failure() === null) await engine.sync().catch(() => undefined);
      return stats(engine.symbolCount);
    });
  } else {
    app.get('/stats', (_req, reply) => {
      void reply.send(stats(deps.symbols.size));
    });
  }

  app.get('/cluster', (_req, reply) => {
    const cluster = deps.cluster?.() ?? null;
    if (cluster === null) void reply.code(404).send({ error: 'cluster mode off' });
    else void reply.send(cluster.view());
  });

  if (engine !== undefined) {
    app.get('/state/latest', (req) => engineRead(engine, deps, req, engine.latestState));
    app.get('/features/latest', (req) => engineRead(engine, deps, req, engine.features));
  } else {
    app.get('/state/latest', (req, reply) => {
      void reply.send(latestState(stateOf(deps, req)));
    });
    app.get('/features/latest', (req, reply) => {
      void reply.send(computeFeatures(stateOf(deps, req)));
    });
  }

  deps.extend?.(app, counters);
  return app;
}
