import type { QuoteEvent, TradeEvent, BookEvent, HeartbeatEvent } from '../../src/domain/events.js';
import type { EngineConfig } from '../../src/engine/market-engine.js';
import type { RuleConfig } from '../../src/signals/rule-engine.js';

/** Builders for decoded events in engine tests. */
export function trade(ts: number, price: number, size = 1, extra: Partial<TradeEvent> = {}): TradeEvent {
  return { type: 'trade', provider: 'p', symbol: 'BTCUSDT', price, size, side: null, tradeId: null, tsExchange: ts, tsRecv: null, envelopeRecvAt: null, ...extra };
}
export function quote(ts: number, bid: number, ask: number, extra: Partial<QuoteEvent> = {}): QuoteEvent {
  return { type: 'quote', provider: 'p', symbol: 'BTCUSDT', bid, ask, bidSize: null, askSize: null, tsExchange: ts, tsRecv: null, envelopeRecvAt: null, ...extra };
}
export function book(ts: number, bid: number, ask: number, extra: Partial<BookEvent> = {}): BookEvent {
  return { type: 'book_l2', provider: 'p', symbol: 'BTCUSDT', bids: [[bid, 1]], asks: [[ask, 1]], tsExchange: ts, tsRecv: null, envelopeRecvAt: null, ...extra };
}
export function heartbeat(ts: number | null, extra: Partial<HeartbeatEvent> = {}): HeartbeatEvent {
  return { type: 'heartbeat', provider: 'p', symbol: null, tsExchange: ts, tsRecv: null, envelopeRecvAt: null, ...extra };
}

export function engineConfig(over: Omit<Partial<EngineConfig>, 'rules'> & { rules?: Partial<RuleConfig> } = {}): EngineConfig {
  return {
    windowMs: 60_000,
    maxSymbols: 10_000,
    maxFutureSkewMs: 60_000,
    ...over,
    rules: { returnThreshold: 0.003, volumeThreshold: 1, spreadMaxBps: 20, cooldownMs: 10_000, ...over.rules },
  };
}
