import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { HttpCounters } from './http-counters.js';

/**
 * Connections kept open beyond `HTTP_MAX_CONNECTIONS` so that `/health` is
 * still answered when the limit is reached; on them every other request gets
 * a 503. While more are open, each connection accepted makes the oldest one
 * whose request was refused go at once (its held 503 is sent now), so a
 * flood's own connections are what gives way, never a fresh probe.
 */
export const HEALTH_RESERVE_CONNECTIONS = 64;
/**
 * Most connections open beyond `HTTP_MAX_CONNECTIONS`, those not read yet
 * included. Connections accepted in one turn of the event loop (up to the
 * listen backlog, 511) are all read before one is turned away for want of
 * room: which of them is a liveness probe shows only in its request. Past this
 * bound a connection is closed unread — one silent for {@link QUIET_GRACE_MS}
 * if there is one, else the one just accepted — which bounds memory under
 * any flood (a few KiB each).
 */
export const BEYOND_LIMIT_CEILING = 1024;
/** A connection that has sent no request for this long may be closed to make room (a client sends its request as soon as it connects). */
export const QUIET_GRACE_MS = 1000;
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
 * its first answer. Marked connections are bounded by
 * {@link HEALTH_RESERVE_CONNECTIONS} and {@link BEYOND_LIMIT_CEILING}, by
 * letting refused ones go early rather than refusing newcomers, because a
 * newcomer may be a liveness probe and cannot be told from a flood's
 * connection before its request is read.
 */
export class ConnectionLimit {
  private served = 0;
  /** Every connection accepted over the limit, also once let go (a request still in its buffer is not served). */
  private readonly marked = new WeakSet<Socket>();
  /** The marked connections still open and not let go, oldest first: when accepted, and whether a request came. */
  private readonly beyond = new Map<Socket, { readonly since: number; asked: boolean }>();
  /** Held refusals by connection, oldest first. */
  private readonly refusals = new Map<Socket, () => void>();
  private refusalTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly maxConnections: number,
    private readonly counters: HttpCounters,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Counts and marks the server's connections from now on. */
  attach(server: Server): void {
    server.on('connection', (socket: Socket) => {
      this.counters.connections++;
      const served = this.served < this.maxConnections;
      if (served) this.served++;
      socket.once('close', () => {
        this.counters.connections--;
        if (served) this.served--;
        this.beyond.delete(socket);
        this.refusals.delete(socket);
      });
      if (!served) this.admitBeyond(socket);
    });
  }

  /** Open connections accepted over the limit and not yet let go. */
  get beyondLimit(): number {
    return this.beyond.size;
  }

  private admitBeyond(socket: Socket): void {
    this.marked.add(socket);
    this.beyond.set(socket, { since: this.now(), asked: false });
    if (this.beyond.size <= HEALTH_RESERVE_CONNECTIONS) return;
    const refused = this.refusals.keys().next();
    if (refused.done !== true) {
      this.refuseNow(refused.value);
      return;
    }
    if (this.beyond.size <= BEYOND_LIMIT_CEILING) return;
    let victim = socket;
    const quietSince = this.now() - QUIET_GRACE_MS;
    for (const [s, c] of this.beyond) {
      if (c.since > quietSince) break; // oldest first: the rest are younger
      if (!c.asked) {
        victim = s;
        break;
      }
    }
    this.beyond.delete(victim);
    this.counters.reject('connections');
    victim.destroy();
  }

  private refuseNow(socket: Socket): void {
    const refuse = this.refusals.get(socket);
    this.refusals.delete(socket);
    this.beyond.delete(socket);
    refuse?.(); // answered with Connection: close, so it goes once written
  }

  /**
   * Notes a request on `socket` and answers whether its connection was
   * accepted over the limit (true also once it is let go): such a request is
   * answered only on `/health`. The note is a side effect: a connection over
   * the limit that has sent a request is not taken for a quiet one (silent
   * for {@link QUIET_GRACE_MS}) and closed to make room.
   */
  noteRequestIfBeyondLimit(socket: Socket | null | undefined): boolean {
    if (socket === null || socket === undefined || !this.marked.has(socket)) return false;
    const c = this.beyond.get(socket);
    if (c !== undefined) c.asked = true;
    return true;
  }

  /**
   * Runs `refuse` (which answers 503 with `Connection: close`) for this
   * connection with the other refusals of this period, at most
   * {@link REFUSAL_HOLD_MS} from now — sooner when its room is needed.
   */
  refuseSoon(socket: Socket, refuse: () => void): void {
    if (!this.beyond.has(socket)) {
      // already let go (a second request in the buffer of a connection let go): no hold
      refuse();
      return;
    }
    this.refusals.set(socket, refuse);
    this.refusalTimer ??= setTimeout(() => this.refuseAll(), REFUSAL_HOLD_MS);
  }

  /** Answers every held refusal now (the period is over, or the server is closing). */
  refuseAll(): void {
    if (this.refusalTimer !== null) clearTimeout(this.refusalTimer);
    this.refusalTimer = null;
    const due = [...this.refusals.keys()];
    for (const socket of due) this.refuseNow(socket);
  }
}
