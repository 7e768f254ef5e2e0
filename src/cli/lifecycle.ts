/** Process helpers for the long-running CLI tools. */
import type { NatsConnection } from '@nats-io/transport-node';
import type { ChildProcess } from 'node:child_process';

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Marks the stop handlers bin/senpai-md installs before the CLI's modules load. */
const EARLY_STOP = Symbol.for('senpai-md.earlyStop');

/**
 * Removes the handlers bin/senpai-md installs for `run` before loading the
 * CLI (a SIGINT/SIGTERM/SIGHUP then finds nothing started and exits 0; a
 * SIGUSR1 is ignored). `run` calls it right after installing its own, so one
 * signal is handled once, by the real handler. Nothing to do when the CLI was
 * started some other way.
 */
export function releaseEarlyStop(): void {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGUSR1'] as const) {
    for (const listener of process.listeners(signal)) {
      if ((listener as { [EARLY_STOP]?: boolean })[EARLY_STOP] === true) process.off(signal, listener);
    }
  }
}

/** Calls `stop` once on the first SIGINT or SIGTERM. */
export function onStopSignal(stop: () => void): void {
  let called = false;
  const once = () => {
    if (called) return;
    called = true;
    stop();
  };
  process.once('SIGINT', once);
  process.once('SIGTERM', once);
}

/**
 * Drains a tool's NATS connection, flushing what it published. When the server
 * is already gone (a demo's nats-server stopped first, an outage) the drain
 * fails with "connection disconnected": the end of a tool run, not a crash, so
 * the connection is closed and one line says what may not have been flushed.
 * Resolves to whether everything was flushed.
 */
export async function drainOrClose(nc: NatsConnection, tool: string): Promise<boolean> {
  try {
    await nc.drain();
    return true;
  } catch (err) {
    process.stderr.write(`${tool}: NATS connection lost before the last messages were flushed (${(err as Error).message})\n`);
    await nc.close().catch(() => undefined);
    return false;
  }
}

/**
 * Sends `signal` to a child process, SIGKILL if it is still there after
 * `graceMs`; resolves once it has exited (at once if it already had).
 */
export async function terminate(proc: ChildProcess, graceMs: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  proc.kill(signal);
  const t = setTimeout(() => proc.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(t);
}
