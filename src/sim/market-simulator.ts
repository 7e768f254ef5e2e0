import { SeededRandom } from './random.js';

/** One simulated message: where it goes, what it says, when it is "received". */
export interface SimulatedMessage {
  readonly subject: string;
  readonly payload: Record<string, unknown>;
  /** Simulated local receive time, epoch ms: when to publish it. */
  readonly atMs: number;
}

export interface SimulatorOptions {
  /** Symbols to simulate; known ones get realistic price levels. */
  readonly symbols: readonly string[];
  /** Mean events per second over all symbols. */
  readonly rate: number;
  readonly seed: number;
  /** Simulated clock start, epoch ms. */
  readonly startMs: number;
}

const KNOWN_LEVELS: Record<string, number> = {
  BTCUSDT: 64_000,
  ETHUSDT: 3_200,
  SOLUSDT: 150,
  BNBUSDT: 580,
  XRPUSDT: 0.52,
  AAPL: 190,
  MSFT: 415,
  NVDA: 120,
};
const STOCKS = new Set(['AAPL', 'MSFT', 'NVDA', 'TSLA', 'AMZN', 'GOOGL', 'META', 'SPY', 'QQQ']);
const HEARTBEAT_EVERY_MS = 1000;

type Regime = 'calm' | 'trend' | 'quiet';

interface SymbolSim {
  readonly symbol: string;
  readonly tradeProvider: string;
  readonly bookProvider: string;
  readonly tick: number;
  price: number;
  nextTradeId: number;
  regime: Regime;
  drift: number;
  regimeEndsMs: number;
  lastMs: number;
  /** Relative activity of the symbol: a few symbols carry most of the flow. */
  readonly weight: number;
}

/**
 * A realistic synthetic `md.events.*` stream: per-symbol price
 * levels, geometric random-walk prices with occasional jumps, trending bursts
 * (so the default signal rules fire within a minute), quiet stretches, quotes
 * and L2 snapshots around the price, per-provider heartbeats, and log-normal
 * exchange-to-receive latencies. Deterministic for a seed: the same seed gives
 * the same stream relative to its start time.
 */
export class MarketSimulator {
  private readonly rnd: SeededRandom;
  private readonly syms: SymbolSim[];
  private readonly totalWeight: number;
  private readonly providers: string[];
  private clockMs: number;
  private nextHeartbeatMs: number;
  private heartbeatQueue: string[] = [];

  constructor(private readonly opts: SimulatorOptions) {
    if (opts.symbols.length === 0) throw new RangeError('at least one symbol');
    if (!(opts.rate > 0)) throw new RangeError('rate must be > 0');
    this.rnd = new SeededRandom(opts.seed);
    this.clockMs = opts.startMs;
    this.nextHeartbeatMs = opts.startMs + HEARTBEAT_EVERY_MS;
    this.syms = opts.symbols.map((symbol, i) => {
      const stock = STOCKS.has(symbol);
      const level = KNOWN_LEVELS[symbol] ?? 10 ** (1 + this.rnd.next() * 3);
      return {
        symbol,
        tradeProvider: stock ? 'alpaca' : 'binance',
        bookProvider: stock ? 'alpaca' : 'bybit',
        tick: level >= 1000 ? 0.1 : level >= 10 ? 0.01 : 0.0001,
        price: level,
        // ten digits, past 2^31, as a busy pair's sequential trade ids become (DECISIONS 76)
        nextTradeId: 3_000_000_000 + Math.floor(this.rnd.next() * 5e9),
        regime: 'calm' as Regime,
        drift: 0,
        regimeEndsMs: opts.startMs + 2000 + this.rnd.next() * 8000,
        lastMs: opts.startMs,
        weight: 1 / (1 + i * 0.35),
      };
    });
    this.totalWeight = this.syms.reduce((a, s) => a + s.weight, 0);
    this.providers = [...new Set(this.syms.flatMap((s) => [s.tradeProvider, s.bookProvider]))];
  }

  /** The next message in time order. */
  next(): SimulatedMessage {
    if (this.heartbeatQueue.length > 0) return this.heartbeat(this.heartbeatQueue.shift()!);
    this.clockMs += this.rnd.exponential(1000 / this.opts.rate);
    if (this.clockMs >= this.nextHeartbeatMs) {
      this.nextHeartbeatMs += HEARTBEAT_EVERY_MS;
      this.heartbeatQueue = [...this.providers];
      return this.heartbeat(this.heartbeatQueue.shift()!);
    }
    const s = this.pickSymbol();
    this.evolve(s);
    const u = this.rnd.next();
    // quiet symbols send mostly quotes; trending ones trade hard
    const tradeShare = s.regime === 'trend' ? 0.7 : s.regime === 'quiet' ? 0.15 : 0.55;
    if (u < tradeShare) return this.trade(s);
    if (u < tradeShare + (1 - tradeShare) * 0.8) return this.quote(s);
    return this.book(s);
  }

  private pickSymbol(): SymbolSim {
    let x = this.rnd.next() * this.totalWeight;
    for (const s of this.syms) {
      x -= s.weight;
      if (x < 0) return s;
    }
    return this.syms[this.syms.length - 1]!;
  }

  /** Advances a symbol's price by geometric Brownian motion over the time since its last update. */
  private evolve(s: SymbolSim): void {
    const now = this.clockMs;
    if (now >= s.regimeEndsMs) {
      const r = this.rnd.next();
      s.regime = r < 0.35 ? 'trend' : r < 0.5 ? 'quiet' : 'calm';
      s.drift = s.regime === 'trend' ? (this.rnd.next() < 0.5 ? -1 : 1) * (0.0004 + this.rnd.next() * 0.0006) : 0; // per second
      s.regimeEndsMs = now + (s.regime === 'trend' ? 8_000 + this.rnd.next() * 12_000 : 5_000 + this.rnd.next() * 20_000);
    }
    const dt = Math.max(0, now - s.lastMs) / 1000;
    s.lastMs = now;
    const sigma = s.regime === 'quiet' ? 0.00005 : 0.00025; // per sqrt(second)
    let logStep = s.drift * dt + sigma * Math.sqrt(dt) * this.rnd.normal();
    if (this.rnd.next() < 0.0005) logStep += (this.rnd.next() < 0.5 ? -1 : 1) * 0.004; // a jump
    s.price = Math.max(s.tick, s.price * Math.exp(logStep));
  }

  private stamp(): { ts_exchange: number; ts_recv: number; atMs: number } {
    const latency = Math.min(2000, this.rnd.logNormal(25, 0.5));
    const atMs = this.clockMs;
    return { ts_exchange: round3(atMs - latency), ts_recv: round3(atMs), atMs };
  }

  private round(p: number, tick: number): number {
    return Math.round(p / tick) * tick;
  }

  private trade(s: SymbolSim): SimulatedMessage {
    const { ts_exchange, ts_recv, atMs } = this.stamp();
    const buy = s.drift !== 0 ? this.rnd.next() < (s.drift > 0 ? 0.7 : 0.3) : this.rnd.next() < 0.5;
    const size = round6(this.rnd.logNormal(s.price > 1000 ? 0.05 : s.price > 10 ? 2 : 500, 1.0));
    const price = round6(this.round(s.price * (1 + (buy ? 1 : -1) * 0.00005), s.tick));
    if (this.rnd.next() < 0.002) s.nextTradeId += 1 + Math.floor(this.rnd.next() * 3); // a rare feed gap
    const id = s.nextTradeId++;
    return {
      subject: `md.events.trade.${s.symbol}`,
      payload: { type: 'trade', provider: s.tradeProvider, symbol: s.symbol, price, size, side: buy ? 'buy' : 'sell', trade_id: String(id), ts_exchange, ts_recv },
      atMs,
    };
  }

  private quote(s: SymbolSim): SimulatedMessage {
    const { ts_exchange, ts_recv, atMs } = this.stamp();
    const half = Math.max(s.tick, s.price * (0.5 + this.rnd.next() * 2) * 1e-4);
    const bid = round6(this.round(s.price - half, s.tick));
    const ask = round6(Math.max(bid + s.tick, this.round(s.price + half, s.tick)));
    return {
      subject: `md.events.quote.${s.symbol}`,
      payload: {
        type: 'quote',
        provider: s.tradeProvider,
        symbol: s.symbol,
        bid,
        ask,
        bid_size: round6(this.rnd.logNormal(1, 0.8)),
        ask_size: round6(this.rnd.logNormal(1, 0.8)),
        ts_exchange,
        ts_recv,
      },
      atMs,
    };
  }

  private book(s: SymbolSim): SimulatedMessage {
    const { ts_exchange, ts_recv, atMs } = this.stamp();
    const half = Math.max(s.tick, s.price * (0.5 + this.rnd.next() * 2) * 1e-4);
    const bids: [number, number][] = [];
    const asks: [number, number][] = [];
    for (let i = 0; i < 5; i++) {
      bids.push([round6(this.round(s.price - half - i * s.tick * 5, s.tick)), round6(this.rnd.logNormal(2, 0.8))]);
      asks.push([round6(this.round(s.price + half + i * s.tick * 5, s.tick)), round6(this.rnd.logNormal(2, 0.8))]);
    }
    if (asks[0]![0] <= bids[0]![0]) asks[0]![0] = round6(bids[0]![0] + s.tick);
    return { subject: `md.events.book_l2.${s.symbol}`, payload: { type: 'book_l2', provider: s.bookProvider, symbol: s.symbol, bids, asks, ts_exchange, ts_recv }, atMs };
  }

  private heartbeat(provider: string): SimulatedMessage {
    const { ts_exchange, ts_recv, atMs } = this.stamp();
    return { subject: 'md.events.heartbeat.__system__', payload: { type: 'heartbeat', provider, ts_exchange, ts_recv }, atMs };
  }
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

/** Symbols for `--symbols`: a list, or a count drawn from the known ones and then SYM001…. */
export function simulatorSymbols(spec: string): string[] {
  if (/^\d+$/.test(spec)) {
    const n = Number(spec);
    const known = Object.keys(KNOWN_LEVELS).filter((s) => !STOCKS.has(s));
    return Array.from({ length: n }, (_, i) => known[i] ?? `SYM${String(i + 1).padStart(4, '0')}`);
  }
  return spec
    .split(',')
    .map((s) => s.trim().toUpperCase())
    .filter((s) => s !== '');
}
