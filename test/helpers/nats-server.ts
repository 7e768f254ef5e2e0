/**
 * The tests' entry to the one nats-server launcher, `nats-server.mjs` (shared
 * with the benchmarks, which run it under plain node), with the binary found by
 * the repository's one rule (`natsServerCommand`, src/cli/local-nats-cluster.ts,
 * which `demo` uses too): test files keep importing `../helpers/nats-server.js`.
 */
import { afterAll } from 'vitest';
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

/**
 * The servers a test file starts and the cleanups it registers, all stopped after its last test
 * (cleanups first, a failing one ignored, then the servers).
 */
export function stoppedAfterAll(): { servers: Launcher[]; cleanups: (() => Promise<unknown>)[] } {
  const servers: Launcher[] = [];
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of cleanups) await c().catch(() => undefined);
    for (const s of servers) await s.stop();
  });
  return { servers, cleanups };
}
