import { loadConfig } from '../config/config.js';
import { UsageError } from '../domain/errors.js';
import { normalizeSymbol } from '../domain/symbol.js';
import { connectNats } from '../nats/nats-link.js';
import { MarketSimulator, simulatorSymbols } from '../sim/market-simulator.js';
import { numberFlag, parseCommandArgs } from './args.js';
import { drainOrClose, onStopSignal, sleep } from './lifecycle.js';

export const SIMULATE_USAGE = 'usage: senpai-md simulate [--symbols LIST|N] [--rate EVENTS_PER_S] [--duration S] [--seed N]';

const HELP = `${SIMULATE_USAGE}

Publishes a realistic synthetic md.events.* stream to NATS_URL: random-walk
prices with trends, jumps and quiet stretches, trades, quotes, L2 snapshots
and per-provider heartbeats with realistic exchange-to-receive latencies.

      --symbols LIST|N  comma-separated symbols, or a count (default BTCUSDT,ETHUSDT,SOLUSDT)
      --rate R          mean events per second over all symbols (default 200)
      --duration S      stop after S seconds (default 0: until Ctrl-C)
      --seed N          random seed: the same seed gives the same stream (default 1)
  -h, --help            this help`;

/** `senpai-md simulate`. */
export async function simulateCommand(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const { values } = parseCommandArgs(
    argv,
    { symbols: { type: 'string' }, rate: { type: 'string' }, duration: { type: 'string' }, seed: { type: 'string' } },
    SIMULATE_USAGE,
    [0, 0],
  );
  if (values.help === true) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const u = SIMULATE_USAGE;
  const rate = numberFlag(values.rate, '--rate', u, (n) => n > 0 && n <= 1e7, 'a number of events per second > 0') ?? 200;
  const duration = numberFlag(values.duration, '--duration', u, (n) => n >= 0, 'seconds >= 0') ?? 0;
  const seed = numberFlag(values.seed, '--seed', u, (n) => Number.isInteger(n), 'an integer') ?? 1;
  const listed = simulatorSymbols(typeof values.symbols === 'string' ? values.symbols : 'BTCUSDT,ETHUSDT,SOLUSDT');
  if (listed.length === 0 || listed.length > 100_000) throw new UsageError('--symbols: give 1 to 100000 symbols', u);
  // each as the service will read it (SPEC §2: BTC/USDT is BTCUSDT); one it would refuse is refused here, not published
  const symbols = [
    ...new Set(
      listed.map((s) => {
        const symbol = normalizeSymbol(s);
        if (symbol === null) throw new UsageError(`--symbols: ${JSON.stringify(s)} is not a symbol (letters, digits, "_" and "-", up to 32)`, u);
        return symbol;
      }),
    ),
  ]; // btc/usdt and BTCUSDT are one symbol
  const config = loadConfig(env);

  const nc = await connectNats(config.nats, 'senpai-md-simulate');
  const start = Date.now();
  const sim = new MarketSimulator({ symbols, rate, seed, startMs: start });
  const endAt = duration > 0 ? start + duration * 1000 : Number.POSITIVE_INFINITY;
  let stop = false;
  onStopSignal(() => (stop = true));
  process.stderr.write(`simulate: ${symbols.join(',')} at ${rate} events/s to ${config.nats.servers.join(',')}${duration > 0 ? ` for ${duration} s` : ''}\n`);
  let sent = 0;
  let pending = sim.next();
  let lastReport = start;
  while (!stop) {
    const now = Date.now();
    if (now >= endAt) break;
    while (pending.atMs <= now) {
      nc.publish(pending.subject, JSON.stringify(pending.payload));
      sent++;
      pending = sim.next();
    }
    if (now - lastReport >= 10_000) {
      lastReport = now;
      process.stderr.write(`simulate: ${sent} events published\n`);
    }
    await sleep(Math.min(50, Math.max(1, pending.atMs - Date.now())));
  }
  await drainOrClose(nc, 'simulate');
  process.stderr.write(`simulate: ${sent} events published\n`);
  return 0;
}

