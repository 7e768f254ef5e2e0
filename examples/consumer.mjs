#!/usr/bin/env node
/**
 * An example consumer of senpai-md-consumer's output (docs/CONTRACT.md):
 * subscribes to senpai.signals.> and senpai.features.>, validates every
 * message against the JSON Schemas the package ships, and prints it.
 *
 *   NATS_URL=nats://127.0.0.1:4222 node examples/consumer.mjs [--count N] [--quiet-features]
 *
 * Needs `@nats-io/transport-node` (a dependency of this package) and `ajv` 8
 * (a devDependency here; in your own project: `npm i ajv @nats-io/transport-node`).
 * The schemas are read through the package's exports
 * (`senpai-md-consumer/schema/*.schema.json`), so this file works both in a
 * checkout and from an installed package. Exits 0 after --count valid
 * messages (or on Ctrl-C), 1 when a message failed validation.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);

const { values } = parseArgs({
  options: { count: { type: 'string' }, 'quiet-features': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
});
if (values.help) {
  process.stdout.write('usage: NATS_URL=nats://host:port node examples/consumer.mjs [--count N] [--quiet-features]\n');
  process.exit(0);
}
const maxMessages = values.count === undefined ? Infinity : Number(values.count);

let Ajv2020;
try {
  ({ default: Ajv2020 } = await import('ajv/dist/2020.js'));
} catch {
  process.stderr.write('consumer: this example validates with ajv 8: npm i ajv\n');
  process.exit(2);
}
const { connect } = await import('@nats-io/transport-node');

/** The shipped schemas, by file name, all added so that their $refs resolve. */
const ajv = new Ajv2020({ allErrors: true, allowUnionTypes: true });
for (const name of ['features', 'signal']) {
  const schema = JSON.parse(readFileSync(require.resolve(`senpai-md-consumer/schema/${name}.schema.json`), 'utf8'));
  ajv.addSchema(schema, name);
}
const validators = { features: ajv.getSchema('features'), signals: ajv.getSchema('signal') };

const servers = (process.env.NATS_URL ?? 'nats://127.0.0.1:4222').split(',');
const nc = await connect({ servers, name: 'senpai-example-consumer' });
process.stderr.write(`consumer: listening on ${servers.join(',')} for senpai.signals.> and senpai.features.>\n`);

let seen = 0;
let invalid = 0;
const fmt = (x, digits = 6) => (x === null ? '—' : Number(x.toPrecision(digits)));

const done = new Promise((resolve) => {
  const stop = () => resolve();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  for (const [subject, kind] of [
    ['senpai.signals.>', 'signals'],
    ['senpai.features.>', 'features'],
  ]) {
    nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err !== null || seen >= maxMessages) return;
        let payload;
        try {
          payload = msg.json();
        } catch {
          invalid++;
          process.stderr.write(`consumer: ${msg.subject}: not JSON\n`);
          return;
        }
        const validate = validators[kind];
        if (!validate(payload)) {
          invalid++;
          process.stderr.write(`consumer: ${msg.subject} does not match the schema: ${ajv.errorsText(validate.errors)}\n`);
          return;
        }
        // A consumer that trades would skip anything not warm: its window was not fully observed.
        if (kind === 'signals') {
          const s = payload;
          process.stdout.write(`SIGNAL ${s.direction.padEnd(5)} ${s.symbol} ts=${s.ts} warm=${s.warm} return_10s=${fmt(s.return_10s)} volume_10s=${fmt(s.trade_volume_10s)} spread_bps=${fmt(s.spread_bps, 4)}\n`);
        } else if (!values['quiet-features']) {
          const f = payload;
          process.stdout.write(`features ${f.symbol} ts=${f.ts} warm=${f.warm} mid=${fmt(f.mid)} vwap_10s=${fmt(f.trade_vwap_10s)} return_10s=${fmt(f.return_10s)} vol_60s=${fmt(f.realized_vol_60s)}\n`);
        }
        if (++seen >= maxMessages) stop();
      },
    });
  }
});

await done;
await nc.drain().catch(() => nc.close());
process.stderr.write(`consumer: ${seen} valid messages, ${invalid} invalid\n`);
process.exit(invalid > 0 ? 1 : 0);
