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

/**
 * Follows the connection (SPEC §9): failed first attempts, disconnects and
 * reconnects, each logged with its reason. nats.js keeps a failed dial's
 * reason to itself while reconnecting, so a probe connection dials with
 * backoff to learn it for the log and `/health`.
 */
export class LinkStatus {
  private state: LinkState = { kind: 'connecting', error: 'not connected yet' };

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
    void this.watch(nc, listener);
  }

  closed(): void {
    this.set({ kind: 'closed' });
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
            this.set({ kind: 'reconnecting', since: Date.now(), error: 'disconnected; reconnecting' });
            this.log.warn({ server: s.server }, 'NATS disconnected; reconnecting');
            listener.disconnected();
            void this.diagnose(nc);
          }
          break;
        case 'reconnect': {
          const since = this.state.kind === 'reconnecting' ? this.state.since : Date.now();
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
