import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { UsageError } from '../domain/errors.js';

/**
 * Writing a command's output failed (disk full, the device gone, the reader of
 * a pipe gone): the command stops, and `main` prints the one line and exits 1
 * — or, for a pipe whose reader left (`compute … | head`), exits 0 quietly.
 */
export class OutputError extends Error {
  constructor(
    message: string,
    /** The reader of a pipe went away (EPIPE): not a failure of the command. */
    readonly brokenPipe: boolean,
  ) {
    super(message);
    this.name = 'OutputError';
  }
}

/** A system error's message, which names its code (`ENOENT: no such file or directory, open '…'`). */
function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Opens `path` for writing before the command does any work, so a path that
 * cannot be written (no such directory, a directory, no permission) is a usage
 * error (exit 2 with the usage line), not a crash after the work is done.
 */
export async function openOutputFile(path: string, usage: string, highWaterMark?: number): Promise<Writable> {
  const stream = createWriteStream(path, highWaterMark === undefined ? {} : { highWaterMark });
  try {
    await once(stream, 'open');
  } catch (err) {
    throw new UsageError(`cannot write ${JSON.stringify(path)}: ${reason(err)}`, usage);
  }
  return stream;
}

/**
 * Batches small writes into ~64 KiB chunks and honours the sink's backpressure,
 * so writing millions of records neither stalls on syscalls nor buffers without
 * bound. A write error of the sink is kept and thrown, as an
 * {@link OutputError}, by the next call: never an unhandled `'error'` event.
 */
export class BufferedWriter {
  private parts: string[] = [];
  private bytes = 0;
  /** The wait for the sink's `drain` while one is pending: shared, so writes while full add no listeners. */
  private draining: Promise<void> | null = null;
  /** The sink's write error, once it had one. */
  failure: OutputError | null = null;

  constructor(
    private readonly sink: Writable,
    private readonly chunkBytes = 64 * 1024,
    private readonly name = sink === process.stdout ? 'standard output' : 'the output',
  ) {
    sink.on('error', (err: NodeJS.ErrnoException) => {
      this.failure ??= new OutputError(`cannot write ${this.name}: ${reason(err)}`, err.code === 'EPIPE');
    });
  }

  /** Queues a line; await the result only when it is a promise (the sink is full). */
  writeLine(s: string): Promise<void> | undefined {
    if (this.failure !== null) throw this.failure;
    this.parts.push(s, '\n');
    this.bytes += s.length + 1;
    if (this.bytes >= this.chunkBytes) return this.flush();
    return undefined;
  }

  flush(): Promise<void> | undefined {
    if (this.failure !== null) throw this.failure;
    if (this.parts.length === 0) return undefined;
    const ok = this.sink.write(this.parts.join(''));
    this.parts = [];
    this.bytes = 0;
    return ok ? undefined : this.drained();
  }

  async end(): Promise<void> {
    await this.flush();
    if (this.sink === process.stdout || this.sink === process.stderr) return;
    this.sink.end();
    await this.settled('finish');
  }

  /** Resolves on the sink's `drain`; rejects with the {@link OutputError} when it fails instead. */
  private drained(): Promise<void> {
    if (this.draining === null) {
      const wait = this.settled('drain');
      this.draining = wait;
      // cleared once settled; a caller that drops the promise (a NATS callback) must not see an
      // unhandled rejection: the failure is kept in `failure` and thrown by the next call
      wait.then(
        () => (this.draining = null),
        () => (this.draining = null),
      );
    }
    return this.draining;
  }

  private async settled(event: string): Promise<void> {
    try {
      await once(this.sink, event);
    } catch {
      // the 'error' listener above has recorded it
    }
    if (this.failure !== null) throw this.failure;
  }
}
