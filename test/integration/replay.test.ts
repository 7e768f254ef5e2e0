import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliProcess } from '../helpers/cli-process.js';
import { TestNatsServer } from '../helpers/nats-server.js';
import { Collector } from '../helpers/service.js';

let nats: TestNatsServer;
beforeAll(async () => {
  nats = await TestNatsServer.start({ jetstream: false });
});
afterAll(async () => {
  await nats?.stop();
});

const OLD = 1_760_000_000_000;
function recording(): string {
  const dir = mkdtempSync(join(tmpdir(), 'senpai-replay-'));
  const file = join(dir, 'in.jsonl');
  const lines = [
    JSON.stringify({ subject: 'md.events.trade.BTCUSDT', received_at: OLD + 20, data: { type: 'trade', symbol: 'BTCUSDT', price: 1, size: 1, ts_exchange: OLD, ts_recv: OLD + 20 } }),
    '{"type":"quote","symbol":"eth/usdt","bid":1,"ask":2,"ts_exchange":' + (OLD + 300) + ',"trade_id":12345678901234567891}',
    '',
    'not json',
    JSON.stringify({ type: 'heartbeat', provider: 'binance', ts_exchange: (OLD + 600) / 1000 }),
  ];
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

describe('replay', () => {
  it('publishes envelopes on their subject and bare events on md.events.{type}.{symbol}, shifting times to now, paced', async () => {
    const sub = await Collector.open(nats.url, ['md.events.>']);
    try {
      const started = Date.now();
      const p = CliProcess.start(['replay', recording()], { NATS_URL: nats.url });
      expect(await p.exited).toBe(0);
      const took = Date.now() - started;
      expect(p.output).toMatch(/replay: 3 published, 1 lines skipped/);
      await sub.nc.flush();
      expect(sub.messages.map((m) => m.subject)).toEqual(['md.events.trade.BTCUSDT', 'md.events.quote.ETHUSDT', 'md.events.heartbeat.__system__']);
      const [trade, quote, hb] = sub.messages.map((m) => m.data);
      expect(Math.abs(Number(trade!.ts_exchange) - started)).toBeLessThan(5_000);
      expect(Number(trade!.ts_recv) - Number(trade!.ts_exchange)).toBeCloseTo(20, 6);
      expect(Number(quote!.ts_exchange) - Number(trade!.ts_exchange)).toBeCloseTo(300, 6);
      expect(Number(hb!.ts_exchange) - Number(trade!.ts_exchange)).toBeCloseTo(600, 6);
      expect(took).toBeGreaterThanOrEqual(550); // recorded pace: 600 ms from first to last
    } finally {
      await sub.close();
    }
  });

  it('--keep-times --max publishes payloads unchanged, big integers exact', async () => {
    const raw: string[] = [];
    const { connect } = await import('@nats-io/transport-node');
    const nc = await connect({ servers: nats.url });
    nc.subscribe('md.events.>', { callback: (_e, m) => void raw.push(m.string()) });
    await nc.flush();
    const p = CliProcess.start(['replay', recording(), '--keep-times', '--max'], { NATS_URL: nats.url });
    expect(await p.exited).toBe(0);
    await nc.flush();
    await new Promise((r) => setTimeout(r, 100));
    expect(raw[1]).toBe('{"type":"quote","symbol":"eth/usdt","bid":1,"ask":2,"ts_exchange":' + (OLD + 300) + ',"trade_id":12345678901234567891}');
    expect(JSON.parse(raw[0]!).ts_exchange).toBe(OLD);
    await nc.close();
  });

  it('rejects bad arguments with a usage line', async () => {
    for (const args of [['replay'], ['replay', '/no/such'], ['replay', 'x', '--speed', '0'], ['replay', 'x', '--max', '--speed', '2']]) {
      const p = CliProcess.start(args, { NATS_URL: nats.url });
      expect(await p.exited, args.join(' ')).toBe(2);
      expect(p.output).toMatch(/usage: senpai-md replay/);
    }
  });
});
