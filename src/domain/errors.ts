/** One error class per failure kind, each with a stable `name` and optional `cause`. */

/** An invalid configuration value: start-up stops with exit code 2. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Bad command-line arguments: exit code 2 with a usage line. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  constructor(
    message: string,
    readonly usage: string,
  ) {
    super(message);
  }
}

/** The NATS server lacks JetStream while `USE_JETSTREAM=true`: exit code 1. */
export class JetStreamUnavailableError extends Error {
  override readonly name = 'JetStreamUnavailableError';
}

/** Another running instance consumes the same JetStream durable: exit code 1 (DECISIONS 90). */
export class DurableInUseError extends Error {
  override readonly name = 'DurableInUseError';
}

/** A cluster member whose settings conflict with a running member of its group: exit code 2 (DECISIONS 94). */
export class ClusterSettingsError extends Error {
  override readonly name = 'ClusterSettingsError';
}
