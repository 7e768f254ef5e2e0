import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { subjectOf } from './subject-memo.js';

/** A core NATS subscription (SPEC §6 core mode): at most once, the queue absorbs bursts. */
export class CoreSource {
  private subscription: Subscription | null = null;

  constructor(
    private readonly nc: NatsConnection,
    private readonly subject: string,
  ) {}

  /** Subscribes; resolves once the server has the subscription. The callback must stay cheap. */
  async start(handler: (subject: string, data: Uint8Array) => void): Promise<void> {
    this.subscription = this.nc.subscribe(this.subject, {
      callback: (err, msg) => {
        if (err === null) handler(subjectOf(msg), msg.data);
      },
    });
    await this.nc.flush();
  }

  /** Stops receiving; what was delivered before is still processed. */
  async stop(): Promise<void> {
    const s = this.subscription;
    this.subscription = null;
    if (s !== null) await s.drain().catch(() => undefined);
  }
}
