import type { NatsConnection, NodeConnectionOptions } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { backoffMs, connectionFailureReason, probeConnection } from './nats-link.js';

/** The NATS connection as the rest of the service sees it: up or down, and why not. */
export type LinkState =
  | { readonly kind: 'connecting'; readonly error: string }
  | { readonly kind: 'connected' }
  | { readonly kind: 'reconnecting'; readonly since: number; readonly error: string }
  | { readonly kind: 'closed' };

/** What happens on the connection that the service acts on. */
export interface LinkListener {
  /** The connection went down (nats.js reconnects by itself). */
  disconnected(): void;
  /** It is back after `seconds`. */
  reconnected(seconds: number): void;
}

/** How often the link notes that this process runs (see {@link LinkStatus.lastAliveMs}). */
const ALIVE_EVERY_MS = 500;
/** A gap in those notes longer than this means the process did not run (stopped, suspended, blocked). */
const STALL_MS = 1500;
/**
 * A disconnect noticed this soon after such a gap is taken to have happened in it (on waking, the
 * client first reads what its socket still holds, then finds it closed).
 */
const STALL_BLAME_MS = 5000;

/**
 * Follows the connection (SPEC §9): failed first attempts, disconnects and
 * reconnects, each logged with its reason. nats.js keeps a failed dial's
 * reason to itself while reconnecting, so a probe connection dials with
 * backoff to learn it for the log and `/health`.
 *
 * A process that did not run for a while (SIGSTOP, a suspended VM, a blocked
 * event loop) learns of a disconnect only when it runs again, though the
 * server may have cut it off long before (a slow consumer past its write
 * deadline): the outage is then counted from the last moment it ran, not from
 * when it noticed (DECISIONS 91).
 */
export class LinkStatus {
  private state: LinkState = { kind: 'connecting', error: 'not connected yet' };
  /** The last time this process was seen running (a timer every {@link ALIVE_EVERY_MS}). */
  private lastAliveMs = Date.now();
  /** The last time it did not run for longer than {@link STALL_MS}: from, to. */
  private stall = { from: 0, to: 0 };
  private alive: NodeJS.Timeout | null = null;

  constructor(
    private readonly log: Logger,
    private readonly options: NodeConnectionOptions,
    private readonly onChange: (connected: boolean) => void = () => undefined,
  ) {}

  get connected(): boolean {
    return this.state.kind === 'connected';
  }

  /** Why the connection is not up (never with credentials), or null when it is. */
  get error(): string | null {
    const s = this.state;
    return s.kind === 'connecting' || s.kind === 'reconnecting' ? s.error : s.kind === 'closed' ? 'closed' : null;
  }

  /** A first-connection attempt failed (from the connect loop). */
  attemptFailed(reason: string, attempt: number, retryInMs: number): void {
    this.state = { kind: 'connecting', error: reason };
    this.log.warn({ servers: this.options.servers, reason, attempt, retry_in_s: Math.round(retryInMs / 100) / 10 }, `cannot connect to NATS: ${reason}`);
  }

  /** Connected for the first time: follows `nc` until it closes. */
  follow(nc: NatsConnection, listener: LinkListener): void {
    this.set({ kind: 'connected' });
    this.log.info({ server: nc.getServer() }, 'connected to NATS');
    this.lastAliveMs = Date.now();
    this.alive = setInterval(() => {
      const now = Date.now();
      if (now - this.lastAliveMs > STALL_MS) this.stall = { from: this.lastAliveMs, to: now };
      this.lastAliveMs = now;
    }, ALIVE_EVERY_MS);
    this.alive.unref();
    void this.watch(nc, listener);
  }

  closed(): void {
    if (this.alive !== null) clearInterval(this.alive);
    this.alive = null;
    this.set({ kind: 'closed' });
  }

  /**
   * When the connection may have gone: now, or, when this process did not run
   * for a while just before, the last moment it ran.
   */
  private lostSince(now: number): number {
    if (now - this.lastAliveMs > STALL_MS) return this.lastAliveMs; // noticed before the timer saw the gap
    return now - this.stall.to < STALL_BLAME_MS ? this.stall.from : now;
  }

  private set(s: LinkState): void {
    const was = this.connected;
    this.state = s;
    if (was !== this.connected) this.onChange(this.connected);
  }

  private async watch(nc: NatsConnection, listener: LinkListener): Promise<void> {
    for await (const s of nc.status()) {
      switch (s.type) {
        case 'disconnect':
          if (this.state.kind === 'connected') {
            const now = Date.now();
            const since = this.lostSince(now);
            this.set({ kind: 'reconnecting', since, error: 'disconnected; reconnecting' });
            if (since < now) this.log.warn({ server: s.server, not_running_s: (now - since) / 1000 }, 'NATS disconnected, noticed after this process did not run for a while; reconnecting');
            else this.log.warn({ server: s.server }, 'NATS disconnected; reconnecting');
            listener.disconnected();
            void this.diagnose(nc);
          }
          break;
        case 'reconnect': {
          const since = this.state.kind === 'reconnecting' ? this.state.since : this.lostSince(Date.now());
          const seconds = (Date.now() - since) / 1000;
          this.set({ kind: 'connected' });
          this.log.info({ server: s.server, seconds }, 'NATS reconnected');
          listener.reconnected(seconds);
          break;
        }
        case 'error': {
          // the server's own words (an authorization violation, a permission error)
          const reason = connectionFailureReason(s.error);
          if (this.state.kind === 'reconnecting') this.state = { ...this.state, error: reason };
          this.log.warn({ reason }, 'NATS error');
          break;
        }
        case 'slowConsumer':
          this.log.warn({ pending: s.pending }, 'NATS slow consumer');
          break;
        default:
          break;
      }
    }
  }

  private async diagnose(nc: NatsConnection): Promise<void> {
    for (let attempt = 0; this.state.kind === 'reconnecting' && !nc.isClosed(); attempt++) {
      const wait = backoffMs(attempt);
      await new Promise((r) => setTimeout(r, attempt === 0 ? 1000 : wait));
      if (this.state.kind !== 'reconnecting' || nc.isClosed()) return;
      const reason = await probeConnection(this.options);
      if (reason === null || this.state.kind !== 'reconnecting') continue;
      this.state = { ...this.state, error: reason };
      this.log.warn({ reason, attempt: attempt + 1, retry_in_s: Math.round(wait / 100) / 10 }, `NATS still unreachable: ${reason}`);
    }
  }
}
