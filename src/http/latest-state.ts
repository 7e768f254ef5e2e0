import type { SymbolState } from '../state/symbol-state.js';

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
