import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export const CLI = join(import.meta.dirname, '..', '..', 'bin', 'senpai-md');

/** Options of {@link CliProcess.start}. */
export interface CliProcessOptions {
  /** Characters of output kept, the newest (default 20000); a test that reads early lines keeps more. */
  readonly outputLimit?: number;
}

/** A `senpai-md` child process with its output (stdout and stderr, interleaved) kept for diagnosis. */
export class CliProcess {
  output = '';
  readonly exited: Promise<number | null>;
  private constructor(
    readonly proc: ChildProcess,
    outputLimit: number,
  ) {
    proc.stdout?.on('data', (d: Buffer) => (this.output = (this.output + d.toString()).slice(-outputLimit)));
    proc.stderr?.on('data', (d: Buffer) => (this.output = (this.output + d.toString()).slice(-outputLimit)));
    this.exited = new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
  }

  /** Runs `senpai-md args…` with only PATH, `LOG_LEVEL=warn` and `env` in its environment. */
  static start(args: string[], env: Record<string, string>, opts: CliProcessOptions = {}): CliProcess {
    const proc = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    return new CliProcess(proc, opts.outputLimit ?? 20_000);
  }

  /** The process id (set once spawned). */
  get pid(): number {
    return this.proc.pid!;
  }

  kill(signal: NodeJS.Signals): void {
    if (this.proc.exitCode === null) this.proc.kill(signal);
  }
}

/** Whether process `pid` exists (signal 0). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
