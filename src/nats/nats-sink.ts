import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { Alert, FeatureSnapshot, Signal } from '../domain/features.js';
import type { PublishOutput } from '../obs/telemetry.js';
import type { OutputPort } from '../output/output-port.js';

/** The output subjects of SPEC §5. */
const SUBJECT_FEATURES = 'senpai.features.';
const SUBJECT_SIGNALS = 'senpai.signals.';
const SUBJECT_ALERTS = 'senpai.alerts';


/**
 * Publishes the outputs to NATS as JSON. Publishing never blocks processing:
 * nats.js buffers (also while reconnecting), and a publish that cannot be
 * made is counted and logged, never thrown.
 */
export class NatsSink implements OutputPort {
  private nc: NatsConnection | null = null;

  constructor(
    private readonly log: Logger,
    private readonly countError: (output: PublishOutput) => void,
  ) {}

  /** The connection to publish on (null: not connected yet, publishes are counted as errors). */
  attach(nc: NatsConnection | null): void {
    this.nc = nc;
  }

  features(f: FeatureSnapshot): void {
    this.publish('features', SUBJECT_FEATURES + f.symbol, JSON.stringify(f));
  }

  signal(s: Signal): void {
    this.publish('signals', SUBJECT_SIGNALS + s.symbol, JSON.stringify(s));
    this.log.info({ symbol: s.symbol, direction: s.direction, return_10s: s.return_10s, warm: s.warm }, 'signal');
  }

  alert(a: Alert): void {
    this.publish('alerts', SUBJECT_ALERTS, JSON.stringify(a));
    this.log.warn({ alert: a }, `alert ${a.kind}: ${a.message}`);
  }

  private publish(output: PublishOutput, subject: string, body: string): void {
    const nc = this.nc;
    if (nc === null || nc.isClosed()) {
      this.countError(output);
      return;
    }
    try {
      nc.publish(subject, body);
    } catch (err) {
      this.countError(output);
      this.log.warn({ err, subject }, 'publish failed');
    }
  }
}
