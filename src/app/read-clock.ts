/**
 * The receive times of the messages nats.js is delivering now. One socket
 * read hands over a run of messages synchronously, all received at once, so
 * the clocks are read once per run, at its first callback ({@link stamp});
 * a microtask ends the run.
 */
export class ReadClock {
  /** Wall-clock receive time, epoch ms. */
  recvMs = 0;
  /**
   * `performance.now()` at the first callback of the read: processing latency
   * starts there (SPEC §8), so neither a queue nor the messages ahead in the
   * same read can hide a wait.
   */
  t0 = 0;
  private inRun = false;
  private readonly endRun = () => {
    this.inRun = false;
  };

  /** Called from every NATS callback: reads the clocks at the first one of a read. */
  stamp(): void {
    if (this.inRun) return;
    this.recvMs = Date.now();
    this.t0 = performance.now();
    this.inRun = true;
    queueMicrotask(this.endRun);
  }
}
