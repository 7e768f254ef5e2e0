import { loadConfig } from '../config/config.js';
import { ClusterSettingsError, DurableInUseError, JetStreamUnavailableError } from '../domain/errors.js';
import { createLogger } from '../obs/logger.js';
import { attachDashboard } from '../http/dashboard.js';
import { DurableMismatchError } from '../nats/jetstream-source.js';
import { Service } from '../app/service.js';
import { scavengeOnOneThread } from '../app/scavenge.js';
import { parseCommandArgs } from './args.js';
import { releaseEarlyStop } from './lifecycle.js';

export const RUN_USAGE = 'usage: senpai-md run';

const RUN_HELP = `${RUN_USAGE}

Runs the service: consumes NATS_SUBJECT (default md.events.>) from NATS_URL,
publishes senpai.features.{symbol}, senpai.signals.{symbol} and senpai.alerts,
and serves HTTP on HTTP_HOST:HTTP_PORT (default 0.0.0.0:8892): /health,
/metrics, /stats, /state/latest?symbol=S, /features/latest?symbol=S and the
live dashboard at /. Configuration comes from the environment and .env (see
.env.example). It waits for NATS and never starts a server itself.
SIGINT, SIGTERM and SIGHUP drain NATS, flush pending publishes, close HTTP and
exit 0; SIGUSR1 is ignored (it does not open node's inspector).`;

/** `senpai-md run`: resolves to the exit code once the service has stopped. */
export async function runCommand(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const { values } = parseCommandArgs(argv, {}, RUN_USAGE, [0, 0]);
  if ((values as { help?: boolean }).help === true) {
    process.stdout.write(RUN_HELP + '\n');
    return 0;
  }
  const config = loadConfig(env);
  scavengeOnOneThread();
  const log = createLogger(config.logLevel);
  for (const w of config.warnings) log.warn(w);
  const service = new Service(config, log, { extendHttp: attachDashboard });

  try {
    const port = await service.listen();
    log.info({ url: `http://${config.http.host === '0.0.0.0' ? '127.0.0.1' : config.http.host}:${port}/` }, 'HTTP API listening');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    process.stderr.write(
      e.code === 'EADDRINUSE'
        ? `senpai-md: HTTP port ${config.http.port} on ${config.http.host} is in use: stop the other process or set HTTP_PORT\n`
        : `senpai-md: cannot listen on ${config.http.host}:${config.http.port}: ${e.message}\n`,
    );
    log.flush();
    return 1;
  }

  let stopping: Promise<void> | null = null;
  const done = new Promise<number>((resolve) => {
    const shutdown = (signal: string) => {
      if (stopping !== null) return;
      log.info({ signal }, 'shutting down');
      stopping = service.stop().then(
        () => resolve(0),
        (err: unknown) => {
          log.error({ err }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.once('SIGINT', () => shutdown('SIGINT'));
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    // a closed terminal (or its session leader) sends SIGHUP, maybe more than once: the same graceful
    // stop, not node's exit 129 (a second SIGINT/SIGTERM still ends the process at once, on purpose)
    process.on('SIGHUP', () => shutdown('SIGHUP'));
    // node would open its inspector on 127.0.0.1:9229 for any local user (DECISIONS 89)
    process.on('SIGUSR1', () => log.warn({ signal: 'SIGUSR1' }, 'SIGUSR1 ignored: the inspector stays closed (start node with --inspect to debug)'));
    releaseEarlyStop(); // from here on a signal stops the service gracefully
  });

  // a signal may arrive while still waiting for the first connection: race the two
  const started = service.start().then(
    () => done,
    async (err: unknown) => {
      if (err instanceof JetStreamUnavailableError || err instanceof DurableMismatchError || err instanceof DurableInUseError) {
        process.stderr.write(`senpai-md: ${err.message}\n`);
        await service.stop().catch(() => undefined);
        return 1;
      }
      if (err instanceof ClusterSettingsError) {
        process.stderr.write(`senpai-md: ${err.message}\n`);
        await service.stop().catch(() => undefined);
        return 2;
      }
      throw err;
    },
  );
  // ENGINE_THREAD=worker: a dead engine thread ends the process loudly (the thread logged why)
  const fatal = service.fatal.then(async () => {
    await service.stop().catch(() => undefined);
    return 1;
  });
  const code = await Promise.race([started, done, fatal]);
  log.info('stopped');
  log.flush();
  return code;
}
