#!/usr/bin/env node
/**
 * What `decode()` costs per canonical trade, with millisecond timestamps (as
 * the benchmarks' feed and SPEC §2's examples) and with 19-digit nanosecond
 * ones (as many exchange recordings): 100k distinct payloads each, best of
 * `--rounds` passes, ns per decode. With `--base DIR` (another checkout,
 * built) the two builds alternate, pass by pass.
 *
 *   npm run build && node bench/tools/decode-cost.mjs [--base /tmp/base] [--rounds 15]
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from '../lib/common.mjs';

const args = parseArgs(process.argv.slice(2));
const rounds = Number(args.rounds ?? 15);
const N = 100_000;
const dirs = [resolve('.'), ...(typeof args.base === 'string' ? [resolve(args.base)] : [])];
/** @type {((subject: string, payload: Uint8Array) => unknown)[]} */
const decoders = [];
for (const dir of dirs) decoders.push((await import(pathToFileURL(`${dir}/dist/decode/decode.js`).href)).decode);

/**
 * @param {(i: number) => [string, string]} stamps ts_exchange and ts_recv literals of payload i
 * @returns {Uint8Array[]}
 */
function payloads(stamps) {
  const out = [];
  for (let i = 0; i < N; i++) {
    const [ex, recv] = stamps(i);
    const price = (64000 + (i % 1000) / 10).toFixed(1);
    out.push(Buffer.from(`{"type":"trade","provider":"binance","symbol":"BTCUSDT","price":${price},"size":0.0${(i % 97) + 1},"side":"buy","trade_id":"${5831613246 + i}","ts_exchange":${ex},"ts_recv":${recv}}`));
  }
  return out;
}
const feeds = {
  ms: payloads((i) => [String(1760000000000 + i * 0.05), String(1760000000020 + i * 0.05)]),
  ns: payloads((i) => [String(1760000000000000000n + BigInt(i) * 50123n), String(1760000000000000000n + BigInt(i) * 50123n + 20000000n)]),
};
const subject = 'md.events.trade.BTCUSDT';
for (const [name, feed] of Object.entries(feeds)) {
  const best = dirs.map(() => Number.POSITIVE_INFINITY);
  for (let r = 0; r < rounds; r++) {
    for (let d = 0; d < dirs.length; d++) {
      const decode = decoders[d];
      const t = performance.now();
      let sink = 0;
      for (const p of feed) sink += /** @type {{tsExchange: number}} */ (decode(subject, p)).tsExchange;
      if (!(sink > 0)) throw new Error('decode failed');
      best[d] = Math.min(best[d], ((performance.now() - t) * 1e6) / N);
    }
  }
  console.log(`${name} timestamps: ${dirs.map((dir, d) => `${dir} ${best[d].toFixed(0)} ns`).join(', ')} per decode (best of ${rounds})`);
}
