import Fastify, { LogController } from 'fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { normalizeSymbol } from '../domain/symbol.js';
import type { MarketEngine } from '../engine/market-engine.js';
import { computeFeatures } from '../features/feature-engine.js';
import type { Telemetry } from '../obs/telemetry.js';
import type { EventQueue } from '../queue/event-queue.js';
import type { SymbolState } from '../state/symbol-state.js';

/** What the HTTP API reads; it never writes. */
export interface HttpDeps {
  readonly engine: MarketEngine;
  readonly telemetry: Telemetry;
  readonly queue: EventQueue;
  readonly isNatsConnected: () => boolean;
  /** The last connection failure's reason while NATS is not connected (no credentials in it). */
  readonly natsError?: () => string | null;
  /** The warm-up in progress (SPEC §11), or null. */
  readonly warmup?: () => { messages: number; elapsed_s: number } | null;
  readonly log?: Logger;
  /** Extra routes (the dashboard) registered on the same server. */
  readonly extend?: (app: FastifyInstance) => void;
}

class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
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

function stateOf(deps: HttpDeps, req: FastifyRequest): SymbolState {
  const symbol = symbolParam(req);
  const s = deps.engine.symbols.get(symbol);
  if (s === undefined) throw new HttpError(404, `unknown symbol ${symbol}: no event seen for it`);
  return s;
}

/** The state/latest body (SPEC §7). */
export function latestState(s: SymbolState) {
  const t = s.lastTrade;
  const q = s.lastQuote;
  const b = s.lastBook;
  return {
    symbol: s.symbol,
    trade:
      t === null
        ? null
        : { price: t.event.price, size: t.event.size, side: t.event.side, trade_id: t.event.tradeId, provider: t.event.provider, ts_exchange: t.event.tsExchange, ts_recv: t.recvMs },
    quote:
      q === null
        ? null
        : { bid: q.event.bid, ask: q.event.ask, bid_size: q.event.bidSize, ask_size: q.event.askSize, provider: q.event.provider, ts_exchange: q.event.tsExchange, ts_recv: q.recvMs },
    book: b === null ? null : { bids: b.event.bids, asks: b.event.asks, provider: b.event.provider, ts_exchange: b.event.tsExchange, ts_recv: b.recvMs },
  };
}

/** The fastify app with the endpoints of SPEC §7; `inject()`-testable, no listening here. */
export function buildHttpApp(deps: HttpDeps): FastifyInstance {
  // typed as the base instance so routes can be added by modules that know nothing of pino
  const app = Fastify({
    ...(deps.log !== undefined ? { loggerInstance: deps.log.child({ component: 'http' }) } : { logger: false }),
    logController: new LogController({ disableRequestLogging: true }),
  }) as unknown as FastifyInstance;

  app.setErrorHandler((err: Error & { statusCode?: number }, req: FastifyRequest, reply: FastifyReply) => {
    const status = err instanceof HttpError ? err.statusCode : (err.statusCode ?? 500);
    if (status >= 500) {
      req.log.error({ err }, 'request failed');
      void reply.code(status).send({ error: 'internal server error' });
      return;
    }
    void reply.code(status).send({ error: err.message });
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({ error: `no route ${req.method} ${req.url.split('?')[0]}` });
  });

  app.get('/health', async (_req, reply) => {
    const connected = deps.isNatsConnected();
    const base = { nats_connected: connected, uptime_s: deps.telemetry.uptimeSeconds(), symbols: [...deps.engine.symbols.keys()].sort() };
    if (!connected) {
      return reply.code(503).send({ status: 'degraded', reasons: ['nats'], nats_error: deps.natsError?.() ?? 'not connected yet', ...base });
    }
    const warmup = deps.warmup?.() ?? null;
    if (warmup !== null) return reply.code(503).send({ status: 'warming', warmup, ...base });
    return reply.code(200).send({ status: 'ok', ...base });
  });

  app.get('/metrics', async (_req, reply) => {
    const body = await deps.telemetry.registry.metrics();
    return reply.type(deps.telemetry.registry.contentType).send(body);
  });

  app.get('/stats', async () => {
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
      symbols: deps.engine.symbols.size,
      uptime_s: t.uptimeSeconds(),
    };
  });

  app.get('/state/latest', async (req) => latestState(stateOf(deps, req)));
  app.get('/features/latest', async (req) => computeFeatures(stateOf(deps, req)));

  deps.extend?.(app);
  return app;
}
