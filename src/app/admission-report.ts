import { backpressureAlert } from '../alerts/alert-rules.js';
import type { AlertThrottle } from '../alerts/alert-throttle.js';
import type { EventTypeLabel } from '../domain/events.js';
import type { QueueView } from '../http/views.js';
import type { Telemetry } from '../obs/telemetry.js';
import type { Admission } from '../queue/event-queue.js';

/**
 * The counters and backpressure alerts of the queue's admission decisions
 * (SPEC §6), one copy for both ways a message is queued: the single-thread
 * pipeline and the I/O side of `ENGINE_THREAD=worker`. Under backpressure it
 * runs for every message, so each kind of alert is asked of the throttle
 * (whose cooldown would refuse the rest) once per millisecond of receive
 * time, not once per message.
 */
export class AdmissionReport {
  /** Wall-clock ms of the last backpressure or overflow drop (the stale alert holds off after one). */
  lastBackpressureDropMs = 0;
  private aboveHighWater = false;
  private dropAlertAttemptMs = Number.NaN;
  private overCapacityAlertAttemptMs = Number.NaN;
  private overflowAlertAttemptMs = Number.NaN;

  constructor(
    private readonly telemetry: Telemetry,
    private readonly alerts: AlertThrottle,
    private readonly queue: QueueView,
  ) {}

  /**
   * Counts and alerts one decision, made with the message now `queued` when
   * it was queued. Returns whether the message was refused (overflow or
   * backpressure): the caller then forgets it.
   */
  report(admission: Admission, subjectType: EventTypeLabel, recvMs: number): boolean {
    const q = this.queue;
    switch (admission) {
      case 'overflow':
        this.refused('overflow', subjectType, recvMs);
        if (recvMs !== this.overflowAlertAttemptMs) {
          this.overflowAlertAttemptMs = recvMs;
          this.alerts.raise(backpressureAlert({ kind: 'overflow', fill: q.fillRatio, highWater: q.highWater, bytes: q.bytes, maxBytes: q.maxBytes }));
        }
        return true;
      case 'dropped':
        this.refused('backpressure', subjectType, recvMs);
        if (recvMs !== this.dropAlertAttemptMs) {
          this.dropAlertAttemptMs = recvMs;
          this.alerts.raise(backpressureAlert({ kind: 'dropping', fill: q.fillRatio, highWater: q.highWater }));
        }
        return true;
      case 'queued_over_capacity':
        if (recvMs !== this.overCapacityAlertAttemptMs) {
          this.overCapacityAlertAttemptMs = recvMs;
          this.alerts.raise(backpressureAlert({ kind: 'over_capacity', fill: q.fillRatio, highWater: q.highWater, size: q.size, capacity: q.capacity }));
        }
        return false;
      case 'queued':
        if (!this.aboveHighWater && q.fillRatio >= q.highWater) {
          this.aboveHighWater = true;
          this.alerts.raise(backpressureAlert({ kind: 'crossed', fill: q.fillRatio, highWater: q.highWater }));
        }
        return false;
    }
  }

  /** After processing: below the high-water mark again, the next crossing is alerted anew. */
  drained(): void {
    if (this.aboveHighWater && this.queue.fillRatio < this.queue.highWater) this.aboveHighWater = false;
  }

  private refused(reason: 'overflow' | 'backpressure', subjectType: EventTypeLabel, recvMs: number): void {
    this.telemetry.countIn(subjectType, 'unknown', recvMs);
    this.telemetry.countDropped(reason, subjectType);
    this.lastBackpressureDropMs = recvMs;
  }
}
