/**
 * Pre-generated, pre-encoded market-data streams for the benchmarks, from the
 * project's own seeded MarketSimulator. Events come in chunks: each chunk is
 * encoded once into one buffer, with one plain Uint8Array view per payload (what
 * nats.js hands a subscription callback), its subject and its simulated receive
 * time. Chunks are generated outside every timed section.
 */
import { MarketSimulator, simulatorSymbols } from '../../dist/sim/market-simulator.js';
import { SeededRandom } from '../../dist/sim/random.js';

/** @typedef {import('../../dist/sim/market-simulator.js').SimulatedMessage} SimulatedMessage */
/** @typedef {ReturnType<typeof encodeMessages>} Chunk An encoded chunk of events. */

/**
 * The simulator picks each event's symbol with a linear walk over the symbols,
 * which makes generating 10,000-symbol streams slow. Same draw, same choice,
 * by binary search over the cumulative weights (generation speed only).
 * It reaches into the simulator's private members (`syms`, `rnd`, `totalWeight`,
 * `pickSymbol`), hence the casts and the expected error below.
 */
/**
 * @typedef {object} SimulatorInternals The private members of MarketSimulator read here.
 * @property {{ weight: number }[]} syms
 * @property {{ next(): number }} rnd
 * @property {number} totalWeight
 */
// @ts-expect-error -- overrides the private MarketSimulator.pickSymbol (see above)
class FastPickSimulator extends MarketSimulator {
  /** @param {ConstructorParameters<typeof MarketSimulator>[0]} opts */
  constructor(opts) {
    super(opts);
    const syms = this.#internals.syms;
    this.cumulative = new Float64Array(syms.length);
    let acc = 0;
    for (let i = 0; i < syms.length; i++) {
      acc += syms[i].weight;
      this.cumulative[i] = acc;
    }
  }

  /** @returns {SimulatorInternals} */
  get #internals() {
    return /** @type {SimulatorInternals} */ (/** @type {unknown} */ (this));
  }

  /** @override */
  pickSymbol() {
    const { rnd, totalWeight, syms } = this.#internals;
    const x = rnd.next() * totalWeight;
    const c = this.cumulative;
    let lo = 0;
    let hi = c.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (c[mid] > x) hi = mid;
      else lo = mid + 1;
    }
    return syms[lo];
  }
}

/**
 * An endless simulated stream with a chosen trade share: non-trades are kept
 * with the probability that brings trades to `tradeShare` (heartbeats always
 * kept), and the simulator runs faster to keep the requested event rate.
 */
export class SimulatedStream {
  /**
   * @param {{symbols: number, rate: number, seed?: number, startMs?: number, tradeShare?: number, symbolPrefix?: string}} o
   */
  constructor(o) {
    const seed = o.seed ?? 1;
    this.symbols = simulatorSymbols(String(o.symbols));
    const natural = naturalTradeShare(this.symbols, seed, o.rate);
    const want = o.tradeShare ?? 0.6;
    this.keepNonTrade = want <= natural ? 1 : (natural / (1 - natural)) * ((1 - want) / want);
    const keptFraction = natural + (1 - natural) * this.keepNonTrade;
    this.rate = o.rate;
    this.sim = new FastPickSimulator({ symbols: this.symbols, rate: o.rate / keptFraction, seed, startMs: o.startMs ?? 1_760_000_000_000 });
    this.filter = new SeededRandom(seed ^ 0x5eed);
    /** @type {Map<string, number>} */
    this.subjectIds = new Map();
    /** @type {string[]} */
    this.subjects = [];
    /** Event time of the last message handed out. */
    this.lastMs = o.startMs ?? 1_760_000_000_000;
  }

  /** The next kept simulator message: {subject, payload, atMs}. */
  next() {
    for (;;) {
      const m = this.sim.next();
      const type = m.payload.type;
      if (type !== 'trade' && type !== 'heartbeat' && this.keepNonTrade < 1 && this.filter.next() >= this.keepNonTrade) continue;
      this.lastMs = m.atMs;
      return m;
    }
  }

  /**
   * The interned subject string (NATS hands out one string per message; interning keeps chunks small).
   * @param {string} s
   * @returns {string}
   */
  subject(s) {
    let id = this.subjectIds.get(s);
    if (id === undefined) {
      id = this.subjects.length;
      this.subjects.push(s);
      this.subjectIds.set(s, id);
    }
    return /** @type {string} */ (this.subjects[id]);
  }

  /**
   * The next `n` simulator messages, not yet encoded.
   * @param {number} n
   * @returns {SimulatedMessage[]}
   */
  messages(n) {
    /** @type {SimulatedMessage[]} */
    const out = new Array(n);
    for (let i = 0; i < n; i++) out[i] = this.next();
    return out;
  }

  /**
   * Encodes the next `n` events into a chunk.
   * @param {number} n
   */
  chunk(n) {
    return encodeMessages(this.messages(n), (s) => this.subject(s));
  }

  /**
   * The next `n` events decoded by `normalize` (no JSON round trip), for filling windows fast.
   * @template E
   * @param {number} n
   * @param {(subject: string, payload: unknown) => E} normalize
   */
  decodedChunk(n, normalize) {
    /** @type {E[]} */
    const events = new Array(n);
    const recvMs = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const m = this.next();
      events[i] = normalize(m.subject, m.payload);
      recvMs[i] = m.atMs;
    }
    return { count: n, events, recvMs };
  }
}

/**
 * Encodes simulator messages: one latin1 copy of all JSON texts (the simulator
 * writes ASCII only), then a plain Uint8Array view per payload.
 * @param {readonly SimulatedMessage[]} msgs
 * @param {(s: string) => string} [intern]
 */
export function encodeMessages(msgs, intern = (s) => s) {
  const n = msgs.length;
  /** @type {string[]} */
  const texts = new Array(n);
  /** @type {string[]} */
  const subjects = new Array(n);
  const recvMs = new Float64Array(n);
  const types = new Uint8Array(n);
  let bytes = 0;
  let trades = 0;
  for (let i = 0; i < n; i++) {
    const m = msgs[i];
    const text = JSON.stringify(m.payload);
    texts[i] = text;
    bytes += text.length;
    subjects[i] = intern(m.subject);
    recvMs[i] = m.atMs;
    types[i] = TYPE_CODE[/** @type {keyof typeof TYPE_CODE} */ (m.payload.type)];
    if (m.payload.type === 'trade') trades++;
  }
  const buf = Buffer.from(texts.join(''), 'latin1');
  /** @type {Uint8Array[]} */
  const payloads = new Array(n);
  let off = 0;
  for (let i = 0; i < n; i++) {
    const len = texts[i].length;
    payloads[i] = new Uint8Array(buf.buffer, buf.byteOffset + off, len);
    off += len;
  }
  return { count: n, subjects, payloads, recvMs, types, trades, bytes, firstMs: recvMs[0], lastMs: recvMs[n - 1] };
}

/** Type codes in chunk.types. */
export const TYPE_CODE = { trade: 0, quote: 1, book_l2: 2, heartbeat: 3 };
export const TYPE_NAMES = ['trade', 'quote', 'book_l2', 'heartbeat'];

/**
 * The simulator's own trade share for these symbols, from a pilot run with the same seed.
 * @param {string[]} symbols
 * @param {number} seed
 * @param {number} rate
 */
function naturalTradeShare(symbols, seed, rate) {
  const sim = new FastPickSimulator({ symbols, rate, seed, startMs: 0 });
  let trades = 0;
  const n = 100_000;
  for (let i = 0; i < n; i++) if (sim.next().payload.type === 'trade') trades++;
  return trades / n;
}
