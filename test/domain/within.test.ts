import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { within } from '../../src/domain/within.js';

describe('within', () => {
  it("gives the promise's value when it settles in time", async () => {
    expect(await within(sleep(5, 'done'), 1000, 'late')).toBe('done');
  });

  it('gives the fallback when the time passes first', async () => {
    const t0 = performance.now();
    expect(await within(new Promise<string>(() => undefined), 30, 'late')).toBe('late');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(25);
  });

  it('rejects with the promise\'s error inside the time', async () => {
    await expect(within(Promise.reject(new Error('boom')), 1000, 'late')).rejects.toThrow('boom');
  });

  it('leaves no timer behind once settled', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    await within(Promise.resolve(1), 60_000, 0);
    await within(Promise.reject(new Error('x')), 60_000, 0).catch(() => undefined);
    expect(timers()).toBe(before);
  });
});
