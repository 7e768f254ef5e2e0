#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { ConfigError, UsageError } from '../domain/errors.js';
import { readEnvironment } from '../config/config.js';
import { computeCommand } from './compute-command.js';
import { OutputError } from './output.js';

const USAGE = 'usage: senpai-md [run|compute|simulate|replay|record|demo] [options]   (senpai-md COMMAND --help for details)';

const HELP = `${USAGE}

  run        the service: NATS in, features/signals/alerts out, HTTP on :8892 (default)
  compute    the same engine offline over a JSONL file
  simulate   publish a synthetic md.events.* stream to NATS
  replay     publish a recorded JSONL file to NATS
  record     write md.events.> from NATS to a JSONL file of envelopes
  demo       the service and the simulator, with a nats-server of its own when none answers
             (--cluster: three members on a three-node nats-server cluster of its own)

  -V, --version  print the version
  -h, --help     this help`;

/** The package version, from the package.json two levels above (src/cli or dist/cli). */
function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}

type Command = (argv: string[], env: Record<string, string | undefined>) => Promise<number>;

const COMMANDS: Record<string, () => Promise<Command>> = {
  run: async () => (await import('./run-command.js')).runCommand,
  compute: async () => computeCommand,
  simulate: async () => (await import('./simulate-command.js')).simulateCommand,
  record: async () => (await import('./record-command.js')).recordCommand,
  replay: async () => (await import('./replay-command.js')).replayCommand,
  demo: async () => (await import('./demo-command.js')).demoCommand,
};

/** Commands whose pending network retries must not keep the process alive once they are done. */
const EXIT_WHEN_DONE = new Set(['run', 'simulate', 'record', 'replay', 'demo']);

/** Runs the CLI; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === '--help' || first === '-h' || first === 'help') {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  if (first === '--version' || first === '-V' || first === 'version') {
    process.stdout.write(packageVersion() + '\n');
    return 0;
  }
  const name = first === undefined || first.startsWith('-') ? 'run' : first;
  const args = first === undefined || first.startsWith('-') ? argv : rest;
  // started as `node dist/cli/main.js run` (not through bin/senpai-md): no inspector on a SIGUSR1 while
  // `run` loads; it installs its own answer (DECISIONS 89), and releaseEarlyStop removes this one
  if (name === 'run') process.on('SIGUSR1', Object.assign(() => undefined, { [Symbol.for('senpai-md.earlyStop')]: true }));
  const load = COMMANDS[name];
  const code = await runCommand(name, load, args);
  // a network client's pending retries must not keep the process alive, whatever the outcome
  if (EXIT_WHEN_DONE.has(name)) setImmediate(() => process.exit(code));
  return code;
}

/** Runs one command; resolves to its exit code, with the one-line answers to the errors users cause. */
async function runCommand(name: string, load: (() => Promise<Command>) | undefined, args: string[]): Promise<number> {
  try {
    if (load === undefined) throw new UsageError(`unknown command ${JSON.stringify(name)}`, USAGE);
    const env = readEnvironment(process.env, process.cwd());
    return await (await load())(args, env);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`senpai-md: ${err.message}\n${err.usage}\n`);
      return 2;
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`senpai-md: ${err.message}\n`);
      return 2;
    }
    if (err instanceof OutputError) {
      if (err.brokenPipe) return 0; // the reader of the pipe has what it wanted (`compute … | head`)
      process.stderr.write(`senpai-md: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

const code = await main(process.argv.slice(2));
process.exitCode = code;
