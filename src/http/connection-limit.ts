import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { HttpCounters } from './http-counters.js';

/**
 * Connections accepted beyond `HTTP_MAX_CONNECTIONS` so that `/health` is
 * still answered when the limit is reached; on them every other request gets
 * an immediate 503. Past this reserve the server drops new connections
 * unanswered (node's `maxConnections`), which bounds memory under a flood.
 */
export const HEALTH_RESERVE_CONNECTIONS = 64;
/**
 * Refusals on connections over the limit go out together once per this
 * period. A client that reconnects the moment it is refused (wrk, a retry
 * loop) would otherwise turn refusals into a CPU load of accepts, parses,
 * writes and closes; held this long, each such connection costs at most ten
 * refusals a second.
 */
export const REFUSAL_HOLD_MS = 100;

/**
 * Bounds the connections the HTTP API serves (SPEC §7). The first
 * `maxConnections` open connections are served; a connection accepted while
 * that many are open is marked, answered only on `/health`, and closed after
 * its first answer.
 */
export class ConnectionLimit {
  private served = 0;
  private readonly beyond = new WeakSet<Socket>();
  private refusals: (() => void)[] = [];
  private refusalTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly maxConnections: number,
    private readonly counters: HttpCounters,
  ) {}

  /** Counts and marks the server's connections from now on. */
  attach(server: Server): void {
    server.maxConnections = this.maxConnections + HEALTH_RESERVE_CONNECTIONS;
    server.on('drop', () => this.counters.reject('connections'));
    server.on('connection', (socket: Socket) => {
      this.counters.connections++;
      const served = this.served < this.maxConnections;
      if (served) this.served++;
      else this.beyond.add(socket);
      socket.once('close', () => {
        this.counters.connections--;
        if (served) this.served--;
      });
    });
  }

  /** Runs `refuse` (which answers 503) with the other refusals of this period, at most {@link REFUSAL_HOLD_MS} from now. */
  refuseSoon(refuse: () => void): void {
    this.refusals.push(refuse);
    this.refusalTimer ??= setTimeout(() => this.refuseAll(), REFUSAL_HOLD_MS);
  }

  /** Answers every held refusal now (the server is closing). */
  refuseAll(): void {
    if (this.refusalTimer !== null) clearTimeout(this.refusalTimer);
    this.refusalTimer = null;
    const due = this.refusals;
    this.refusals = [];
    for (const refuse of due) refuse();
  }

  /** Whether a request came on a connection accepted over the limit. */
  isBeyondLimit(socket: Socket | null | undefined): boolean {
    return socket !== null && socket !== undefined && this.beyond.has(socket);
  }
}
