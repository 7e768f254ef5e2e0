import { createReadStream, existsSync, statSync } from 'node:fs';
import { UsageError } from '../domain/errors.js';
import { isRejection } from '../domain/events.js';
import { loadConfig } from '../config/config.js';
import { normalize } from '../decode/decode.js';
import { ExactInteger } from '../decode/exact-integer.js';
import { timestampValue } from '../decode/fields.js';
import type { JsonObject } from '../decode/fields.js';
import { MAX_PAYLOAD_BYTES, parsePayload } from '../decode/payload.js';
import { TIMESTAMP_KEYS } from '../decode/aliases.js';
import { isPlainObject, readEnvelope } from '../decode/envelope.js';
import { connectNats } from '../nats/nats-link.js';
import { numberFlag, parseCommandArgs } from './args.js';
import { forEachLine, isBlank } from './jsonl.js';
import { drainOrClose, onStopSignal, sleep } from './lifecycle.js';

export const REPLAY_USAGE = 'usage: senpai-md replay INPUT [--speed X | --max] [--keep-times]';

const HELP = `${REPLAY_USAGE}

Publishes a recorded JSONL file (envelopes from record, or bare events) to
NATS_URL: envelopes on their subject, bare events on md.events.{type}.{symbol}.
Paced as recorded (by received_at, else the event time) times --speed, or as
fast as possible with --max. By default every timestamp is shifted so the first
event is "now" (written back as epoch ms); --keep-times publishes the payloads
as they are.

      --speed X      pace multiplier (default 1; 10 = ten times faster)
      --max          no pacing
      --keep-times   do not shift timestamps
  -h, --help         this help`;

const MARKER = `\u0000replay-int-${process.pid}:`;

/** JSON text with long integer literals written back exactly. */
function stringifyExact(v: unknown): string {
  const text = JSON.stringify(v, (_k, x: unknown) => (x instanceof ExactInteger ? MARKER + x.literal : x));
  return text.includes(MARKER) ? text.replace(new RegExp(`"${MARKER}(-?\\d+)"`, 'g'), '$1') : text;
}

/** `senpai-md replay`. */
export async function replayCommand(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    { speed: { type: 'string' }, max: { type: 'boolean' }, 'keep-times': { type: 'boolean' } },
    REPLAY_USAGE,
    [1, 1],
  );
  if (values.help === true) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const speed = numberFlag(values.speed, '--speed', REPLAY_USAGE, (n) => n > 0, 'a number > 0') ?? 1;
  if (values.max === true && values.speed !== undefined) throw new UsageError('--speed and --max exclude each other', REPLAY_USAGE);
  const path = positionals[0]!;
  if (path !== '-' && !(existsSync(path) && statSync(path).isFile())) throw new UsageError(`cannot read INPUT ${JSON.stringify(path)}: ${existsSync(path) ? 'not a file' : 'no such file'}`, REPLAY_USAGE);
  const config = loadConfig(env);
  const nc = await connectNats(config.nats, 'senpai-md-replay');
  let stop = false;
  onStopSignal(() => (stop = true));

  const keepTimes = values['keep-times'] === true;
  let delta: number | null = keepTimes ? 0 : null;
  let firstAt: number | null = null;
  const wallStart = Date.now();
  let published = 0;
  let skipped = 0;
  const handle = async (bytes: Buffer): Promise<void> => {
    if (isBlank(bytes)) return;
    const parsed = parsePayload(bytes);
    if (!parsed.ok || !isPlainObject(parsed.value)) {
      skipped++;
      return;
    }
    const envelope = readEnvelope(parsed.value);
    let subject: string | null = envelope?.subject ?? null;
    const data: JsonObject = envelope?.data ?? parsed.value;
    let at: number | null = envelope?.receivedAt ?? null;
    const ev = normalize(subject ?? '', data);
    if (subject === null) {
      if (isRejection(ev) || ev.type === 'heartbeat') subject = isRejection(ev) ? null : 'md.events.heartbeat.__system__';
      else subject = `md.events.${ev.type}.${ev.symbol}`;
    }
    if (subject === null) {
      skipped++; // a bare line that names no event: no subject to publish it on
      return;
    }
    if (at === null && !isRejection(ev)) at = ev.tsExchange ?? ev.tsRecv;
    if (at !== null && delta === null) delta = wallStart - at;
    if (!keepTimes && delta !== null) {
      for (const k of TIMESTAMP_KEYS) {
        const ms = data[k] == null ? null : timestampValue(data[k]);
        if (ms !== null) data[k] = Math.round((ms + delta) * 1000) / 1000;
      }
    }
    if (values.max !== true && at !== null) {
      if (firstAt === null) firstAt = at;
      const due = wallStart + (at - firstAt) / speed;
      const wait = due - Date.now();
      if (wait > 1) await sleep(wait);
    }
    nc.publish(subject, keepTimes && subject !== null && data === parsed.value ? bytes : stringifyExact(data));
    if (++published % 10_000 === 0) await nc.flush();
  };
  await forEachLine(path === '-' ? process.stdin : createReadStream(path), (_line, bytes) => (stop ? false : handle(bytes)), {
    maxBytes: MAX_PAYLOAD_BYTES, // no event is longer (SPEC §2): such a line is skipped unread
    onOversize: () => {
      skipped++;
      return stop ? false : undefined;
    },
  });
  const flushed = await drainOrClose(nc, 'replay');
  process.stderr.write(`replay: ${published} published${skipped > 0 ? `, ${skipped} lines skipped (not an event)` : ''}\n`);
  return flushed ? 0 : 1;
}
