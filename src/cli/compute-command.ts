import { createReadStream, existsSync, statSync } from 'node:fs';
import { ConfigError, UsageError } from '../domain/errors.js';
import { loadConfig } from '../config/config.js';
import { parseCommandArgs } from './args.js';
import { runCompute } from './compute.js';
import { openOutputFile } from './output.js';

export const COMPUTE_USAGE =
  'usage: senpai-md compute INPUT [--output FILE] [--window-seconds S] [--return-threshold R] [--volume-threshold V] [--spread-max-bps B] [--cooldown-ms MS] [--verbose]';

const COMPUTE_HELP = `${COMPUTE_USAGE}

Runs the service's state, feature and rule engine offline over a JSONL file of
bare events or recorded envelopes ("-" reads stdin). Writes one
{"kind":"features","line":N,...} record per accepted non-heartbeat event and a
{"kind":"signal","line":N,...} record for each signal it raised; no throttling,
no alerts. The last stderr line is {"accepted":N,"rejected":{reason:count}}.

Window and thresholds come from ROLLING_WINDOW_SECONDS, SIGNAL_RETURN_THRESHOLD,
SIGNAL_VOLUME_THRESHOLD, SIGNAL_SPREAD_MAX_BPS, SIGNAL_COOLDOWN_MS (and .env);
flags win.

  -o, --output FILE        write records to FILE instead of stdout
      --window-seconds S   rolling window W in seconds (default 60)
      --return-threshold R signal |return_10s| threshold (default 0.003)
      --volume-threshold V signal trade_volume_10s threshold (default 1.0)
      --spread-max-bps B   signal maximum spread in bps (default 20)
      --cooldown-ms MS     signal cooldown per symbol and direction (default 10000)
  -v, --verbose            one stderr line per rejected input line
  -h, --help               this help`;

/** The variable each value flag stands for (the flag wins over the environment). */
const FLAG_VARIABLES = {
  'window-seconds': 'ROLLING_WINDOW_SECONDS',
  'return-threshold': 'SIGNAL_RETURN_THRESHOLD',
  'volume-threshold': 'SIGNAL_VOLUME_THRESHOLD',
  'spread-max-bps': 'SIGNAL_SPREAD_MAX_BPS',
  'cooldown-ms': 'SIGNAL_COOLDOWN_MS',
} as const;
type VariableFlag = keyof typeof FLAG_VARIABLES;
const VARIABLE_FLAGS = Object.keys(FLAG_VARIABLES) as VariableFlag[];

/** `senpai-md compute`: returns the process exit code. */
export async function computeCommand(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    {
      output: { type: 'string', short: 'o' },
      ...(Object.fromEntries(VARIABLE_FLAGS.map((f) => [f, { type: 'string' }])) as Record<VariableFlag, { type: 'string' }>),
      verbose: { type: 'boolean', short: 'v' },
    },
    COMPUTE_USAGE,
    [1, 1],
  );
  if (values.help) {
    process.stdout.write(COMPUTE_HELP + '\n');
    return 0;
  }
  const u = COMPUTE_USAGE;
  // each flag is its variable's value as written (flags win): the configuration checks both alike
  const flagEnv: Record<string, string> = {};
  for (const flag of VARIABLE_FLAGS) {
    const v = values[flag];
    if (v !== undefined) flagEnv[FLAG_VARIABLES[flag]] = v;
  }
  const merged = { ...env, ...flagEnv };
  let config;
  try {
    config = loadConfig(merged);
  } catch (err) {
    // a value from a flag is named by its flag, with the variable it stands for
    if (!(err instanceof ConfigError)) throw err;
    const message = err.message;
    const flag = VARIABLE_FLAGS.find((f) => flagEnv[FLAG_VARIABLES[f]] !== undefined && message.includes(`${FLAG_VARIABLES[f]}=`));
    if (flag === undefined) throw err;
    const name = FLAG_VARIABLES[flag];
    throw new UsageError(message.replace(`${name}=`, `--${flag} (${name})=`), u);
  }
  for (const w of config.warnings) process.stderr.write(`senpai-md: warning: ${w}\n`);

  const inputPath = positionals[0]!;
  if (inputPath !== '-' && !(existsSync(inputPath) && statSync(inputPath).isFile())) {
    throw new UsageError(`cannot read INPUT ${JSON.stringify(inputPath)}: ${existsSync(inputPath) ? 'not a file' : 'no such file'}`, u);
  }
  const input = inputPath === '-' ? process.stdin : createReadStream(inputPath, { highWaterMark: 256 * 1024 });
  if (inputPath !== '-' && values.output !== undefined && values.output !== '-' && existsSync(values.output)) {
    const a = statSync(inputPath);
    const b = statSync(values.output);
    if (a.dev === b.dev && a.ino === b.ino) throw new UsageError(`--output ${JSON.stringify(values.output)} is INPUT itself: it would be emptied before it is read`, u);
  }
  // opened before any input is read: a path that cannot be written is a usage error, found at once
  const output = values.output === undefined || values.output === '-' ? process.stdout : await openOutputFile(values.output, u, 1024 * 1024); // writes overlap the computing
  const verbose = values.verbose === true;
  const summary = await runCompute(input, output, {
    engine: { windowMs: config.windowMs, maxSymbols: config.maxSymbols, maxFutureSkewMs: config.maxFutureSkewMs, rules: config.rules },
    ...(verbose ? { onReject: (line, reason, detail) => process.stderr.write(`line ${line}: ${reason}: ${detail}\n`) } : {}),
  });
  process.stderr.write(JSON.stringify(summary) + '\n');
  return 0;
}
