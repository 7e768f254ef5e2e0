/**
 * The tests' entry to the one nats-server launcher, `nats-server.mjs` (shared
 * with the benchmarks, which run it under plain node), with the binary found by
 * the repository's one rule (`natsServerCommand`, src/cli/local-nats-cluster.ts,
 * which `demo` uses too): test files keep importing `../helpers/nats-server.js`.
 */
import { natsServerCommand } from '../../src/cli/local-nats-cluster.js';
import { TestNatsServer as Launcher } from './nats-server.mjs';
import type { NatsServerOptions as LauncherOptions } from './nats-server.mjs';

export { freePort, waitFor } from './nats-server.mjs';

let bin: string | null = null;

/** The nats-server binary the tests run: NATS_SERVER_BIN, else PATH, else /usr/sbin/nats-server (looked up once). */
export function natsServerBin(): string {
  return (bin ??= natsServerCommand(process.env));
}

/** The launcher's options; the binary is {@link natsServerBin}. */
export type NatsServerOptions = Omit<LauncherOptions, 'bin'>;

export type TestNatsServer = Launcher;

export const TestNatsServer = {
  /** Writes the configuration and starts the server; resolves once it accepts clients. Always `stop()` it. */
  start(opts: NatsServerOptions = {}): Promise<Launcher> {
    return Launcher.start({ bin: natsServerBin(), ...opts });
  },
};
