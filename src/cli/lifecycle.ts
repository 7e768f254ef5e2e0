/** Process helpers for the long-running CLI tools. */

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Calls `stop` once on the first SIGINT or SIGTERM. */
export function onStopSignal(stop: () => void): void {
  let called = false;
  const once = () => {
    if (called) return;
    called = true;
    stop();
  };
  process.once('SIGINT', once);
  process.once('SIGTERM', once);
}
