import { describe, expect, it } from 'vitest';
import { RequestGate } from '../../src/http/request-gate.js';
import { waitFor } from '../helpers/nats-server.js';

/** A clock that moves only when a request "works": each run advances it by its cost. */
class WorkClock {
  t = 0;
  readonly now = () => this.t;
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('RequestGate', () => {
  it('runs requests in later turns, priority first, in order, and skips abandoned ones', async () => {
    const clock = new WorkClock();
    const gate = new RequestGate({ sliceMs: 1, share: 1, burstMs: 100, maxWaiting: 10, overheadMs: 0 }, (err) => { throw err; }, clock.now);
    const ran: string[] = [];
    gate.enter(() => ran.push('a'), () => false);
    gate.enter(() => ran.push('gone'), () => true);
    gate.enter(() => ran.push('b'), () => false);
    gate.enter(() => ran.push('health'), () => false, true);
    expect(ran).toEqual([]); // never inside the caller's turn
    expect(gate.waiting).toBe(4);
    await waitFor(() => gate.waiting === 0, 'the gate to empty');
    expect(ran).toEqual(['health', 'a', 'b']);
  });

  it('spends at most one slice per turn', async () => {
    const clock = new WorkClock();
    const gate = new RequestGate({ sliceMs: 1, share: 1, burstMs: 100, maxWaiting: 100, overheadMs: 0 }, (err) => { throw err; }, clock.now);
    let ran = 0;
    for (let i = 0; i < 10; i++) gate.enter(() => { ran++; clock.t += 0.3; }, () => false);
    await nextTurn();
    // 0.3 ms each: the fourth crosses the 1 ms slice, the rest wait for the next turn
    expect(ran).toBe(4);
    await waitFor(() => ran === 10, 'every request');
  });

  it('keeps to its share of time: the banked burst, then what the passing time earns', async () => {
    const clock = new WorkClock();
    const gate = new RequestGate({ sliceMs: 100, share: 0.25, burstMs: 2, maxWaiting: 100, overheadMs: 0 }, (err) => { throw err; }, clock.now);
    let ran = 0;
    for (let i = 0; i < 20; i++) gate.enter(() => { ran++; clock.t += 1; }, () => false);
    await nextTurn();
    // 2 ms banked, 1 ms each: two run in the first turn; the rest must wait for time to pass
    expect(ran).toBe(2);
    for (let k = 1; k <= 5; k++) {
      const before = ran;
      clock.t += 4; // 4 ms of wall time earn 1 ms of handling at 25 %
      await waitFor(() => ran > before, `progress after ${4 * k} ms more`);
      // never more than the burst plus the share of the time that passed, plus the one request that went into debt
      expect(gate.handledMs).toBeLessThanOrEqual(2 + 0.25 * clock.t + 1);
    }
    expect(ran).toBeLessThan(20);
  });

  it('charges each request its overhead on top of the time it measured', async () => {
    const clock = new WorkClock();
    const gate = new RequestGate({ sliceMs: 100, share: 0.25, burstMs: 1, maxWaiting: 100, overheadMs: 0.5 }, (err) => { throw err; }, clock.now);
    let ran = 0;
    for (let i = 0; i < 5; i++) gate.enter(() => { ran++; }, () => false); // free to run, but each costs 0.5 ms of budget
    await nextTurn();
    expect(ran).toBe(2);
    // the clock stands still: nothing more is earned, whatever the turns and timers
    const timerTurn = () => new Promise<void>((resolve) => setTimeout(resolve, 5));
    for (let i = 0; i < 3; i++) await timerTurn();
    expect(ran).toBe(2);
    clock.t += 2; // 0.5 ms earned: one more
    await waitFor(() => ran === 3, 'one more request');
  });

  it('refuses when the waiting room is full, except priority requests, and runs everything at close', async () => {
    const gate = new RequestGate({ sliceMs: 1, share: 1, burstMs: 1, maxWaiting: 2, overheadMs: 0 }, (err) => { throw err; });
    const ran: number[] = [];
    expect(gate.enter(() => ran.push(1), () => false)).toBe(true);
    expect(gate.enter(() => ran.push(2), () => false)).toBe(true);
    expect(gate.enter(() => ran.push(3), () => false)).toBe(false);
    expect(gate.enter(() => ran.push(4), () => false, true)).toBe(true);
    gate.close();
    expect(ran).toEqual([4, 1, 2]);
    gate.enter(() => ran.push(5), () => false);
    expect(ran).toEqual([4, 1, 2, 5]);
  });

  it('reports a failing request and carries on', async () => {
    const errors: unknown[] = [];
    const gate = new RequestGate({ sliceMs: 1, share: 1, burstMs: 1, maxWaiting: 10, overheadMs: 0 }, (err) => errors.push(err));
    let ran = false;
    gate.enter(() => { throw new Error('boom'); }, () => false);
    gate.enter(() => { ran = true; }, () => false);
    await waitFor(() => ran, 'the second request');
    expect(errors.map((e) => (e as Error).message)).toEqual(['boom']);
  });
});
