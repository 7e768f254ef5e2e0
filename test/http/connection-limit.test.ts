import { EventEmitter } from 'node:events';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { BEYOND_LIMIT_CEILING, ConnectionLimit, HEALTH_RESERVE_CONNECTIONS, QUIET_GRACE_MS } from '../../src/http/connection-limit.js';
import { HttpCounters } from '../../src/http/http-counters.js';

/** Which connection the limit lets go, and when (over real sockets: test/http/connection-flood.test.ts). */

class FakeSocket extends EventEmitter {
  destroyed = false;
  destroy(): this {
    if (!this.destroyed) {
      this.destroyed = true;
      this.emit('close');
    }
    return this;
  }
}

function setUp(maxConnections = 1) {
  let now = 0;
  const server = new EventEmitter();
  const counters = new HttpCounters(maxConnections, 1);
  const limit = new ConnectionLimit(maxConnections, counters, () => now);
  limit.attach(server as unknown as Server);
  const accept = (): FakeSocket => {
    const s = new FakeSocket();
    server.emit('connection', s);
    return s;
  };
  for (let i = 0; i < maxConnections; i++) accept();
  return { limit, counters, accept, advance: (ms: number) => (now += ms), asSocket: (s: FakeSocket) => s as unknown as Socket };
}

describe('ConnectionLimit', () => {
  it('answers the oldest held refusal at once when a connection comes in beyond the reserve', () => {
    const { limit, accept, asSocket } = setUp();
    const beyond = Array.from({ length: HEALTH_RESERVE_CONNECTIONS }, accept);
    const refusals = beyond.map((s) => {
      expect(limit.noteRequestIfBeyondLimit(asSocket(s))).toBe(true);
      const refuse = vi.fn();
      limit.refuseSoon(asSocket(s), refuse);
      return refuse;
    });
    expect(limit.beyondLimit).toBe(HEALTH_RESERVE_CONNECTIONS);

    const probe = accept();
    expect(probe.destroyed).toBe(false);
    expect(refusals[0]).toHaveBeenCalledTimes(1); // the oldest, not the others
    expect(refusals.slice(1).every((r) => r.mock.calls.length === 0)).toBe(true);
    expect(limit.beyondLimit).toBe(HEALTH_RESERVE_CONNECTIONS);
    expect(beyond.every((s) => !s.destroyed)).toBe(true);

    limit.refuseAll();
    expect(refusals.every((r) => r.mock.calls.length === 1)).toBe(true);
    expect(limit.beyondLimit).toBe(1); // the probe
  });

  it('reads every connection of a burst up to the ceiling, then closes the newcomer, or a quiet one once there is one', () => {
    const { limit, counters, accept, advance, asSocket } = setUp();
    const burst = Array.from({ length: BEYOND_LIMIT_CEILING }, accept);
    expect(burst.some((s) => s.destroyed)).toBe(false);
    expect(limit.beyondLimit).toBe(BEYOND_LIMIT_CEILING);

    const late = accept();
    expect(late.destroyed).toBe(true);
    expect(limit.beyondLimit).toBe(BEYOND_LIMIT_CEILING);
    expect(counters.stats().rejected.connections).toBe(1);

    // the first two asked for /health; the third never sent anything
    limit.noteRequestIfBeyondLimit(asSocket(burst[0]!));
    limit.noteRequestIfBeyondLimit(asSocket(burst[1]!));
    advance(QUIET_GRACE_MS + 1);
    const next = accept();
    expect(next.destroyed).toBe(false);
    expect(burst[0]!.destroyed || burst[1]!.destroyed).toBe(false);
    expect(burst[2]!.destroyed).toBe(true);
    expect(limit.beyondLimit).toBe(BEYOND_LIMIT_CEILING);
    expect(counters.connections).toBe(1 + BEYOND_LIMIT_CEILING);
  });

  it('refuses at once, unheld, a request still in the buffer of a connection already let go', () => {
    const { limit, accept, asSocket } = setUp(1);
    const beyond = accept(); // setUp's is the one served
    expect(limit.noteRequestIfBeyondLimit(asSocket(beyond))).toBe(true);
    limit.refuseSoon(asSocket(beyond), vi.fn());
    limit.refuseAll();
    const again = vi.fn();
    expect(limit.noteRequestIfBeyondLimit(asSocket(beyond))).toBe(true);
    limit.refuseSoon(asSocket(beyond), again);
    expect(again).toHaveBeenCalledTimes(1);
  });
});
