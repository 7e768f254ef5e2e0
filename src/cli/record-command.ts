import { loadConfig } from '../config/config.js';
import { connectNats } from '../nats/nats-link.js';
import { numberFlag, parseCommandArgs } from './args.js';
import { drainOrClose, onStopSignal, sleep } from './lifecycle.js';
import { BufferedWriter, openOutputFile } from './output.js';

export const RECORD_USAGE = 'usage: senpai-md record OUTPUT [--subject SUBJECT] [--duration S] [--count N]';

const HELP = `${RECORD_USAGE}

Subscribes to md.events.> (or --subject) on NATS_URL and writes one envelope
per message to OUTPUT ("-" for stdout):
  {"subject":"md.events.trade.BTCUSDT","received_at":<local receive time, epoch ms>,"data":<payload as received>}
for later replay or compute. Offline, received_at is the receive time for latency,
so compute over a recording reproduces the live latency. Stops on Ctrl-C,
after --duration seconds or after --count messages.`;

const NEWLINE = /[\r\n]/g;

/** `senpai-md record`. */
export async function recordCommand(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    { subject: { type: 'string' }, duration: { type: 'string' }, count: { type: 'string' } },
    RECORD_USAGE,
    [1, 1],
  );
  if (values.help === true) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const duration = numberFlag(values.duration, '--duration', RECORD_USAGE, (n) => n > 0, 'seconds > 0');
  const count = numberFlag(values.count, '--count', RECORD_USAGE, (n) => Number.isInteger(n) && n > 0, 'an integer > 0');
  const subject = typeof values.subject === 'string' ? values.subject : 'md.events.>';
  const config = loadConfig(env);
  const path = positionals[0]!;
  const out = new BufferedWriter(path === '-' ? process.stdout : await openOutputFile(path, RECORD_USAGE), 16 * 1024);
  const decoder = new TextDecoder();

  const nc = await connectNats(config.nats, 'senpai-md-record');
  let n = 0;
  let stop = false;
  onStopSignal(() => (stop = true));
  const sub = nc.subscribe(subject, {
    callback: (_err, msg) => {
      if (stop || out.failure !== null) return; // a failed output ends the loop below
      const receivedAt = Date.now();
      // the payload goes in untouched; JSON never needs a raw newline, so folding them keeps JSONL intact
      const data = decoder.decode(msg.data).replace(NEWLINE, ' ');
      // a full sink is waited for by nobody here (the server cannot be paused); a failure is kept
      // by the writer and ends the loop below
      void out.writeLine(`{"subject":${JSON.stringify(msg.subject)},"received_at":${receivedAt},"data":${data.trim() === '' ? 'null' : data}}`);
      n++;
      if (count !== undefined && n >= count) stop = true;
    },
  });
  await nc.flush(); // the line below means the server has the subscription
  process.stderr.write(`record: ${subject} from ${config.nats.servers.join(',')} to ${path}\n`);
  const endAt = duration === undefined ? Number.POSITIVE_INFINITY : Date.now() + duration * 1000;
  while (!stop && out.failure === null && Date.now() < endAt) await sleep(50);
  stop = true;
  sub.unsubscribe();
  await drainOrClose(nc, 'record');
  await out.end();
  process.stderr.write(`record: ${n} messages\n`);
  return 0;
}
