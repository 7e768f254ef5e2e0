/** The field aliases of SPEC §2, in the order they are tried. */

export const TYPE_KEYS = ['type', 'event_type'] as const;
export const PROVIDER_KEYS = ['provider', 'source', 'exchange'] as const;
export const SYMBOL_KEYS = ['symbol', 'sym', 'instrument'] as const;
export const TS_EXCHANGE_KEYS = ['ts_exchange', 'exchange_ts', 'ts_event', 'timestamp', 'ts'] as const;
export const TS_RECV_KEYS = ['ts_recv', 'recv_ts', 'received_at', 'ts_received'] as const;
export const PRICE_KEYS = ['price', 'px', 'p'] as const;
export const SIZE_KEYS = ['size', 'qty', 'quantity', 'amount', 'volume', 'q'] as const;
export const SIDE_KEYS = ['side'] as const;
export const TRADE_ID_KEYS = ['trade_id', 'id', 'tid'] as const;
export const BID_KEYS = ['bid', 'bid_price', 'bid_px', 'bp'] as const;
export const ASK_KEYS = ['ask', 'ask_price', 'ask_px', 'ap'] as const;
export const BID_SIZE_KEYS = ['bid_size', 'bid_qty', 'bs'] as const;
export const ASK_SIZE_KEYS = ['ask_size', 'ask_qty', 'as'] as const;
export const BIDS_KEYS = ['bids', 'b'] as const;
export const ASKS_KEYS = ['asks', 'a'] as const;
/** Every timestamp field, for tools that rewrite times (replay). */
export const TIMESTAMP_KEYS: readonly string[] = [...TS_EXCHANGE_KEYS, ...TS_RECV_KEYS];
