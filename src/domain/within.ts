/**
 * `promise`'s outcome, or `fallback` once `ms` have passed first. The timer is
 * cleared either way, so it never outlives the race or holds the process
 * open after it. A rejection of `promise` inside the time rejects.
 */
export async function within<T, F>(promise: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<F>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}
