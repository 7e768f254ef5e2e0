import { once } from 'node:events';
import type { Writable } from 'node:stream';

/**
 * Batches small writes into ~64 KiB chunks and honours the sink's backpressure,
 * so writing millions of records neither stalls on syscalls nor buffers without
 * bound.
 */
export class BufferedWriter {
  private parts: string[] = [];
  private bytes = 0;

  constructor(
    private readonly sink: Writable,
    private readonly chunkBytes = 64 * 1024,
  ) {}

  /** Queues a line; await the result only when it is a promise (the sink is full). */
  writeLine(s: string): Promise<void> | undefined {
    this.parts.push(s, '\n');
    this.bytes += s.length + 1;
    if (this.bytes >= this.chunkBytes) return this.flush();
    return undefined;
  }

  flush(): Promise<void> | undefined {
    if (this.parts.length === 0) return undefined;
    const ok = this.sink.write(this.parts.join(''));
    this.parts = [];
    this.bytes = 0;
    return ok ? undefined : once(this.sink, 'drain').then(() => undefined);
  }

  async end(): Promise<void> {
    await this.flush();
    if (this.sink === process.stdout || this.sink === process.stderr) return;
    this.sink.end();
    await once(this.sink, 'finish');
  }
}
