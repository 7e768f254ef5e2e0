import type { AlertKind, AlertLevel } from '../domain/features.js';

/**
 * The alert rules of SPEC §5, pure: each says whether a condition is an
 * alert, and which, from the figures it is given. Raising, cooling down and
 * escalating is the {@link AlertThrottle}'s business; no clock, no I/O here.
 */

/** An alert to raise: everything but the time it goes out. */
export interface AlertSpec {
  readonly kind: AlertKind;
  readonly level: AlertLevel;
  readonly message: string;
  readonly symbol: string | null;
  readonly provider: string | null;
  readonly value: number | null;
  readonly threshold: number | null;
}

function spec(kind: AlertKind, level: AlertLevel, message: string, o: Partial<Omit<AlertSpec, 'kind' | 'level' | 'message'>> = {}): AlertSpec {
  return { kind, level, message, symbol: o.symbol ?? null, provider: o.provider ?? null, value: o.value ?? null, threshold: o.threshold ?? null };
}

/** `latency`: a symbol's p95 over the limit; critical above 5×. */
export function latencyAlert(symbol: string, p95: number | null, limitMs: number): AlertSpec | null {
  if (p95 === null || !(p95 > limitMs)) return null;
  return spec('latency', p95 > 5 * limitMs ? 'critical' : 'warn', `${symbol} latency p95 ${p95.toFixed(1)} ms over ${limitMs} ms`, { symbol, value: p95, threshold: limitMs });
}

/** `gap`: trade ids skipped for a provider and symbol. */
export function gapAlert(symbol: string, provider: string, missing: number): AlertSpec | null {
  if (!(missing > 0)) return null;
  return spec('gap', 'warn', `${missing} trade ids missing from ${provider} for ${symbol}`, { symbol, provider, value: missing, threshold: 0 });
}

/**
 * `stale`: providers with no accepted event for longer than `staleAfterMs`;
 * none while backpressure has been dropping events (it would be our silence,
 * not theirs).
 */
export function staleAlerts(nowMs: number, lastSeen: ReadonlyMap<string, number>, staleAfterMs: number, lastBackpressureDropMs: number): AlertSpec[] {
  if (nowMs - lastBackpressureDropMs < staleAfterMs) return [];
  const out: AlertSpec[] = [];
  for (const [provider, last] of lastSeen) {
    const since = nowMs - last;
    if (since > staleAfterMs) out.push(spec('stale', 'warn', `no events from ${provider} for ${(since / 1000).toFixed(1)} s`, { provider, value: since, threshold: staleAfterMs }));
  }
  return out;
}

/** What the bounded queue is doing (SPEC §6), for the `backpressure` alert. */
export type QueuePressure =
  | { readonly kind: 'crossed'; readonly fill: number; readonly highWater: number }
  | { readonly kind: 'dropping'; readonly fill: number; readonly highWater: number }
  | { readonly kind: 'over_capacity'; readonly fill: number; readonly highWater: number; readonly size: number; readonly capacity: number }
  | { readonly kind: 'overflow'; readonly fill: number; readonly highWater: number; readonly bytes: number; readonly maxBytes: number };

/** `backpressure`: warn from 90 % fill and while dropping; critical when trades pass the capacity or the byte bound drops them. */
export function backpressureAlert(p: QueuePressure): AlertSpec {
  const o = { value: p.fill, threshold: p.highWater };
  switch (p.kind) {
    case 'crossed':
      return spec('backpressure', 'warn', `queue crossed ${p.highWater * 100} % fill`, o);
    case 'dropping':
      return spec('backpressure', 'warn', `queue at ${(p.fill * 100).toFixed(0)} %: dropping quotes, books and heartbeats`, o);
    case 'over_capacity':
      return spec('backpressure', 'critical', `queue over capacity (${p.size}/${p.capacity}): trades admitted beyond the bound`, o);
    case 'overflow':
      return spec('backpressure', 'critical', `queue holds ${p.bytes} bytes, and an event would take it past QUEUE_MAX_BYTES (${p.maxBytes}): dropping events, trades included`, o);
  }
}

/** `symbol_limit`: an event for a new symbol while MAX_SYMBOLS are tracked. */
export function symbolLimitAlert(symbol: string, provider: string, tracked: number, limit: number, detail: string): AlertSpec {
  return spec('symbol_limit', 'critical', detail, { symbol, provider, value: tracked, threshold: limit });
}

/** `nats`: the connection is back after `seconds` (published once it can be). */
export function natsRestoredAlert(seconds: number): AlertSpec {
  return spec('nats', 'warn', `NATS connection was lost for ${seconds.toFixed(1)} s and is restored`, { value: seconds, threshold: null });
}

/**
 * `nats`, for JetStream: the durable (or its stream) disappeared under the
 * running service and was recreated after `seconds`; `gap` when events may
 * have been lost meanwhile (the stream itself was recreated).
 */
export function consumerRestoredAlert(durable: string, seconds: number, gap: boolean): AlertSpec {
  const lost = gap ? '; events stored before it was recreated may be lost' : '';
  return spec('nats', 'warn', `JetStream durable ${durable} was missing for ${seconds.toFixed(1)} s and is recreated${lost}`, { value: seconds, threshold: null });
}

/**
 * `cluster` (SPEC §12): a partition moved to `newOwner` after being unowned
 * for `unownedS` seconds (null: unknown); the threshold is the lease.
 */
export function partitionMovedAlert(partition: number, newOwner: string, previousOwner: string, unownedS: number | null, leaseS: number): AlertSpec {
  const after = unownedS === null ? '' : ` after ${unownedS.toFixed(1)} s unowned`;
  return spec('cluster', 'warn', `partition ${partition} moved from ${previousOwner} to ${newOwner}${after}`, { value: unownedS, threshold: leaseS });
}
