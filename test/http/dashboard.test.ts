import type { ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { FeatureSnapshot } from '../../src/domain/features.js';
import { DASHBOARD_HTML_CANDIDATES, DashboardStream, bucketQuantile, loadDashboardHtml } from '../../src/http/dashboard.js';
import type { DashboardSnapshot, DashboardStats } from '../../src/http/dashboard.js';
import { HttpCounters } from '../../src/http/http-counters.js';
import type { Service } from '../../src/app/service.js';
import { waitFor } from '../helpers/nats-server.js';
import { offlineService } from '../helpers/service.js';

/** The dashboard's routes and stream without NATS: the service is built but never started. */

/** A response whose peer reads nothing until released: everything written stays buffered. */
class StalledResponse extends Writable {
  readonly chunks: string[] = [];
  readonly socket = null;
  statusCode = 0;
  private readonly pending: (() => void)[] = [];
  private flowing = false;

  writeHead(status: number): this {
    this.statusCode = status;
    return this;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.chunks.push(chunk.toString());
    if (this.flowing) done();
    else this.pending.push(() => done());
  }

  release(): void {
    this.flowing = true;
    for (const done of this.pending.splice(0)) done();
  }

  events(name: string): string[] {
    return this.chunks
      .join('')
      .split('\n\n')
      .filter((b) => b.startsWith(`event: ${name}\n`))
      .map((b) => b.slice(b.indexOf('data: ') + 6));
  }
}

describe('GET / and routes', () => {
  let service: Service;
  beforeAll(() => {
    service = offlineService();
  });
  afterAll(async () => {
    await service.http.close();
  });

  it('serves the self-contained page with the test ids and a same-origin-only policy', async () => {
    const res = await service.http.inject({ method: 'GET', url: '/' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['content-security-policy']).toContain("connect-src 'self'");
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    for (const id of ['feed', 'nats-status', 'events-per-sec', 'queue-fill', 'stream-status', 'chart']) {
      expect(res.body).toContain(`data-testid="${id}"`);
    }
    // tile ids are built per symbol by the script
    expect(res.body).toContain("'tile-' + s.sym");
    expect(res.body).toContain("'feed-item'");
    // nothing to fetch from elsewhere: no external scripts, styles, fonts or images
    expect(res.body).not.toMatch(/<script[^>]+src=/i);
    expect(res.body).not.toMatch(/<link[^>]+rel="stylesheet"/i);
    expect(res.body).not.toMatch(/(src|href)="(https?:)?\/\//i);
    expect(res.body).not.toMatch(/url\(\s*['"]?(https?:)?\/\//i);
    expect(res.body).not.toMatch(/@import/i);
  });

  it('leaves the API and unknown paths as they were', async () => {
    const missing = await service.http.inject({ method: 'GET', url: '/nope' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({ error: 'no route GET /nope' });
    // the stream has no HEAD route on purpose (DECISIONS 65)
    const head = await service.http.inject({ method: 'HEAD', url: '/stream' });
    expect(head.statusCode).toBe(405);
    expect(head.headers.allow).toBe('GET');
    const health = await service.http.inject({ method: 'GET', url: '/health' });
    expect(health.statusCode).toBe(503);
  });

  it('finds the page beside the module, or reports none', () => {
    expect(loadDashboardHtml()).toContain('<!doctype html>');
    const nowhere = new URL('file:///nonexistent/senpai/index.html');
    expect(loadDashboardHtml([nowhere])).toBeNull();
    expect(loadDashboardHtml([nowhere, ...DASHBOARD_HTML_CANDIDATES])).toContain('data-testid="feed"');
    // from dist/http/ the fallback is the source tree, where the page lives
    const fromDist = new URL('../../src/http/dashboard/index.html', new URL('file:///app/dist/http/dashboard.js'));
    expect(fromDist.pathname).toBe('/app/src/http/dashboard/index.html');
  });
});

describe('GET /stream', () => {
  it('answers with an event stream whose first event is a snapshot, also before NATS is up', async () => {
    const service = offlineService();
    const port = await service.listen();
    try {
      const res = await fetch(`http://127.0.0.1:${port}/stream`);
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      expect(res.headers.get('x-accel-buffering')).toBe('no');
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      let text = '';
      while (!text.includes('event: snapshot\n') || !text.slice(text.indexOf('event: snapshot\n')).includes('\n\n')) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
      }
      expect(text.startsWith('retry: ')).toBe(true);
      const block = text.slice(text.indexOf('event: snapshot\n'));
      const snap = JSON.parse(block.slice(block.indexOf('data: ') + 6, block.indexOf('\n\n'))) as DashboardSnapshot;
      expect(snap).toMatchObject({ features: [], signals: [], alerts: [], history: {} });
      expect(snap.stats).toMatchObject({ nats_connected: false, symbols: 0, stream_dropped: 0, queue: { size: 0, capacity: 10_000, fill_ratio: 0 } });
      await reader.cancel();
    } finally {
      await service.http.close();
    }
  });
});

/** A canonical trade payload for `pipeline.offer`. */
function tradeBytes(symbol: string, n: number, ts: number): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ type: 'trade', provider: 'p', symbol, price: 100 + n, size: 1, trade_id: String(n), ts_exchange: ts }));
}

/** A service that is never started, its dashboard stream framing only when told, and one browser reading it. */
function openedStream(): { service: Service; stream: DashboardStream; res: StalledResponse } {
  const service = offlineService();
  const stream = new DashboardStream(service.views, undefined, { frameIntervalMs: 3_600_000 });
  const res = new StalledResponse();
  res.release();
  stream.open(res as unknown as ServerResponse);
  return { service, stream, res };
}

/** A browser shown AAA that then stops reading: a 128 KiB alert put it over its 64 KiB buffer limit (cut off only after an hour). */
async function congestedClient(): Promise<{ service: Service; stream: DashboardStream; res: StalledResponse }> {
  const service = offlineService();
  const stream = new DashboardStream(service.views, undefined, { frameIntervalMs: 3_600_000, maxBufferBytes: 64 * 1024, slowReaderCutoffMs: 3_600_000 });
  const res = new StalledResponse();
  stream.open(res as unknown as ServerResponse);
  service.pipeline.offer('md.events.trade.AAA', tradeBytes('AAA', 1, Date.now() - 1000), null);
  await service.pipeline.idle();
  service.pipeline.features.flush();
  stream.sendFrame(); // AAA shown
  service.alerts.raise({ kind: 'gap', level: 'warn', message: 'x'.repeat(128 * 1024), symbol: 'BIG', provider: null, value: null, threshold: null });
  stream.sendFrame();
  return { service, stream, res };
}

describe('DashboardStream', () => {
  it('makes room for new symbols once the ones it kept are forgotten (idle eviction), in the snapshot and the charts', async () => {
    const service = offlineService();
    const stream = new DashboardStream(service.views, undefined, { frameIntervalMs: 3_600_000 });
    const feed = async (symbols: string[], t: number): Promise<void> => {
      for (const [i, s] of symbols.entries()) service.pipeline.offer(`md.events.trade.${s}`, tradeBytes(s, i + 1, t + i), null);
      await service.pipeline.idle();
      service.pipeline.features.flush();
    };
    // more symbols than the snapshot (256) and the charts (64) keep
    const old = Array.from({ length: 300 }, (_, i) => `OLD${i}`);
    await feed(old, Date.now() - 2000);
    // 300 symbols, 256 listed: the snapshot cannot say what else a page shows is gone
    const early = new StalledResponse();
    early.release();
    stream.open(early as unknown as ServerResponse);
    expect(JSON.parse(early.events('snapshot')[0]!) as DashboardSnapshot).toMatchObject({ complete: false });
    expect(service.pipeline.evictIdle(Date.now() + 1000, 0)).toHaveLength(300); // all idle: forgotten
    const fresh = Array.from({ length: 10 }, (_, i) => `NEW${i}`);
    await feed(fresh, Date.now() - 1000);
    const res = new StalledResponse();
    res.release();
    stream.open(res as unknown as ServerResponse);
    const snap = JSON.parse(res.events('snapshot')[0]!) as DashboardSnapshot;
    expect(snap.features.map((f) => f.symbol)).toEqual(fresh);
    expect(Object.keys(snap.history).sort()).toEqual(fresh);
    expect(snap.complete).toBe(true); // all 10 listed: a page drops any other symbol it shows
    stream.close();
    await service.http.close();
  });

  it('tells the browsers once which symbols they were shown the engine forgot (a forget event)', async () => {
    const { service, stream, res } = openedStream();
    const t0 = Date.now() - 1000;
    for (const [i, s] of ['AAA', 'BBB'].entries()) service.pipeline.offer(`md.events.trade.${s}`, tradeBytes(s, i + 1, t0 + i), null);
    await service.pipeline.idle();
    service.pipeline.features.flush();
    stream.sendFrame(); // both shown
    expect(res.events('forget')).toEqual([]);
    await new Promise((r) => setTimeout(r, 5));
    const cut = Date.now(); // AAA's last event before it, BBB's after
    await new Promise((r) => setTimeout(r, 5));
    service.pipeline.offer('md.events.trade.BBB', tradeBytes('BBB', 9, t0 + 500), null); // BBB stays active
    await service.pipeline.idle();
    expect(service.pipeline.evictIdle(cut, 0)).toEqual(['AAA']);
    stream.sendFrame();
    expect(res.events('forget').map((d) => JSON.parse(d) as string[])).toEqual([['AAA']]);
    stream.sendFrame(); // said once
    expect(res.events('forget')).toHaveLength(1);
    stream.close();
    await service.http.close();
  });

  it('says what was forgotten in the next frame, ahead of the features of a symbol that came back since, and for a partition given away too', async () => {
    const { service, stream, res } = openedStream();
    const t0 = Date.now() - 1000;
    for (const [i, s] of ['AAA', 'BBB', 'CCC'].entries()) service.pipeline.offer(`md.events.trade.${s}`, tradeBytes(s, i + 1, t0 + i), null);
    await service.pipeline.idle();
    service.pipeline.features.flush();
    stream.sendFrame(); // all three shown, with the first stats
    const framed = (): string => res.chunks.join('');
    // AAA evicted, then back before the next frame: the page drops it, then shows it anew
    expect(service.pipeline.evictIdle(Date.now() + 1000, 0)).toEqual(['AAA', 'BBB', 'CCC']);
    service.pipeline.offer('md.events.trade.AAA', tradeBytes('AAA', 7, t0 + 500), null);
    await service.pipeline.idle();
    service.pipeline.features.flush();
    let before = framed().length;
    stream.sendFrame();
    let frame = framed().slice(before);
    expect(frame.indexOf('event: forget\ndata: ["AAA","BBB","CCC"]\n')).toBe(0);
    expect(frame).toContain('event: features\ndata: {"v":');
    expect(frame.indexOf('"symbol":"AAA"')).toBeGreaterThan(frame.indexOf('event: features'));
    // cluster mode: a partition moving away forgets its symbols through Pipeline.forget
    service.pipeline.forget(['AAA', 'NEVER_SEEN']);
    before = framed().length;
    stream.sendFrame();
    frame = framed().slice(before);
    expect(frame.split('event: stats')[0]).toBe('event: forget\ndata: ["AAA"]\n\n');
    stream.close();
    await service.http.close();
  });

  it('does not frame the features of a symbol forgotten before they went out (the page would keep a tile no forget removes)', async () => {
    const { service, stream, res } = openedStream();
    const t0 = Date.now() - 1000;
    service.pipeline.offer('md.events.trade.AAA', tradeBytes('AAA', 1, t0), null);
    await service.pipeline.idle();
    service.pipeline.features.flush();
    stream.sendFrame(); // AAA shown
    service.pipeline.offer('md.events.trade.AAA', tradeBytes('AAA', 2, t0 + 5), null);
    await service.pipeline.idle();
    service.pipeline.features.flush(); // newer features, not framed yet
    expect(service.pipeline.evictIdle(Date.now() + 1000, 0)).toEqual(['AAA']);
    const before = res.chunks.join('').length;
    stream.sendFrame();
    const frame = res.chunks.join('').slice(before);
    expect(frame).toContain('event: forget\ndata: ["AAA"]\n\n');
    expect(frame).not.toContain('event: features');
    stream.close();
    await service.http.close();
  });

  it('tells a browser of a forgotten symbol it knows from the snapshot’s chart history alone (more symbols than the snapshot lists)', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const service = offlineService();
      const stream = new DashboardStream(service.views, undefined, { frameIntervalMs: 3_600_000, pruneIntervalMs: 0 });
      const feed = async (symbols: string[], id: number): Promise<void> => {
        for (const [i, s] of symbols.entries()) service.pipeline.offer(`md.events.trade.${s}`, tradeBytes(s, id + i, Date.now() - 10), null);
        await service.pipeline.idle();
        service.pipeline.features.flush();
      };
      const all = Array.from({ length: 300 }, (_, i) => `S${String(i).padStart(3, '0')}`);
      await feed(all, 1); // the snapshot keeps the first 256, the charts the first 64
      vi.setSystemTime(Date.now() + 301_000); // every chart silent for its whole span
      await feed(['S299'], 1000); // a chart place (the silent ones freed), no snapshot place
      const res = new StalledResponse();
      res.release();
      stream.open(res as unknown as ServerResponse);
      const snap = JSON.parse(res.events('snapshot')[0]!) as DashboardSnapshot;
      expect(snap.features.map((f) => f.symbol)).not.toContain('S299');
      expect(Object.keys(snap.history)).toEqual(['S299']);
      service.pipeline.forget(['S299']);
      stream.sendFrame();
      expect(res.events('forget').map((d) => JSON.parse(d) as string[])).toEqual([['S299']]);
      stream.close();
      await service.http.close();
    } finally {
      vi.useRealTimers();
    }
  });

  it('tells a client resynced in the very frame of a forget what went, ahead of its snapshot', async () => {
    const { service, stream, res } = await congestedClient(); // over its buffer limit
    stream.sendFrame(); // skipped: it will need a resync
    res.release();
    await waitFor(() => res.writableLength === 0, 'the buffer drained', 5_000);
    // forgotten now: the frame that resyncs it is the one carrying the forget
    expect(service.pipeline.evictIdle(Date.now() + 1, 0)).toEqual(['AAA']);
    const before = res.chunks.join('').length;
    stream.sendFrame();
    const chunk = res.chunks.join('').slice(before);
    expect(chunk.indexOf('event: forget\ndata: ["AAA"]\n\n')).toBe(0);
    expect(chunk).toContain('event: snapshot\n');
    stream.close();
    await service.http.close();
  });

  it('sends one frame per tick with the newest features of each changed symbol, not every publish', async () => {
    const { service, stream, res } = openedStream();
    const t0 = Date.now() - 1000;
    for (let i = 1; i <= 20; i++) {
      service.pipeline.offer('md.events.trade.AAA', tradeBytes('AAA', i, t0 + i), null);
      if (i % 2 === 0) service.pipeline.offer('md.events.trade.BBB', tradeBytes('BBB', i, t0 + i), null);
      await service.pipeline.idle();
      service.pipeline.features.flush(); // a publish per event, as if the throttle allowed each
    }
    expect(service.telemetry.featuresPublishedTotal).toBe(30);
    const before = res.chunks.length;
    stream.sendFrame();
    const frame = res.chunks.slice(before).join('');
    const features = frame
      .split('\n\n')
      .filter((b) => b.startsWith('event: features\n'))
      .map((b) => JSON.parse(b.slice(b.indexOf('data: ') + 6)) as FeatureSnapshot);
    expect(features.map((f) => f.symbol).sort()).toEqual(['AAA', 'BBB']);
    expect(features.find((f) => f.symbol === 'AAA')!.trade_count_10s).toBe(20);
    expect(features.find((f) => f.symbol === 'BBB')!.trade_count_10s).toBe(10);
    // nothing changed since: the next frame carries no features
    const after = res.chunks.length;
    stream.sendFrame();
    expect(res.chunks.slice(after).join('')).not.toContain('event: features');
    stream.close();
    await service.http.close();
  });

  it('tells a client that missed frames what was forgotten meanwhile, before its resync snapshot', async () => {
    const { service, stream, res } = await congestedClient(); // over its buffer limit from here on
    expect(service.pipeline.evictIdle(Date.now() + 1, 0)).toEqual(['AAA']);
    stream.sendFrame(); // skipped for it: the forget with it
    expect(res.events('forget')).toEqual([]);
    res.release();
    await waitFor(() => res.writableLength === 0, 'the buffer drained', 5_000);
    stream.sendFrame();
    const text = res.chunks.join('');
    expect(res.events('forget').map((d) => JSON.parse(d) as string[])).toEqual([['AAA']]);
    expect(text.indexOf('event: forget\n')).toBeLessThan(text.lastIndexOf('event: snapshot\n'));
    // nothing of AAA left in it, chart history included, and it says it lists every symbol there is
    expect(JSON.parse(res.events('snapshot').at(-1)!) as DashboardSnapshot).toMatchObject({ features: [], history: {}, complete: true });
    stream.close();
    await service.http.close();
  });

  it('skips frames for a client that does not read instead of buffering them, then resyncs it', async () => {
    const service = offlineService();
    const stream = new DashboardStream(service.views, undefined, { frameIntervalMs: 3_600_000, maxBufferBytes: 64 * 1024, slowReaderCutoffMs: 3_600_000 });
    const res = new StalledResponse();
    stream.open(res as unknown as ServerResponse);
    expect(res.statusCode).toBe(200);
    expect(stream.clientCount).toBe(1);

    // ~2.6 MB of alerts (distinct symbols, so none is cooled down) go out in one frame
    const message = 'x'.repeat(64 * 1024);
    for (let i = 0; i < 40; i++) service.alerts.raise({ kind: 'gap', level: 'warn', message, symbol: `SYM${i}`, provider: null, value: null, threshold: null });
    stream.sendFrame();
    const buffered = res.writableLength;
    expect(buffered).toBeGreaterThan(40 * 64 * 1024);
    // the client reads nothing: later frames are skipped, not buffered
    for (let i = 40; i < 45; i++) {
      service.alerts.raise({ kind: 'gap', level: 'warn', message, symbol: `SYM${i}`, provider: null, value: null, threshold: null });
      stream.sendFrame();
    }
    expect(res.writableLength).toBe(buffered);

    res.release();
    // once it reads again it gets a fresh snapshot (the recent alerts, holes filled), then frames with its drop count
    await waitFor(() => res.writableLength === 0, 'the buffer drained', 5_000);
    stream.sendFrame();
    stream.sendFrame();
    const snapshots = res.events('snapshot');
    expect(snapshots.length).toBe(2);
    const resync = JSON.parse(snapshots[1]!) as DashboardSnapshot;
    expect(resync.alerts.map((a) => a.symbol)).toEqual(Array.from({ length: 45 }, (_, i) => `SYM${i}`));
    expect(resync.stats.stream_dropped).toBe(5);

    stream.close();
    expect(res.writableEnded).toBe(true);
    expect(stream.clientCount).toBe(0);
    // after close, new connections are refused rather than left hanging
    const late = new StalledResponse();
    late.release();
    stream.open(late as unknown as ServerResponse);
    expect(late.statusCode).toBe(503);
    await service.http.close();
  });

  it('disconnects a client that stays over its buffer limit past the cutoff, and refuses clients over the limit', async () => {
    const service = offlineService();
    const counters = new HttpCounters(10, 2);
    const stream = new DashboardStream(service.views, counters, { frameIntervalMs: 3_600_000, maxBufferBytes: 1024, slowReaderCutoffMs: 0 });
    const slow = new StalledResponse();
    const reader = new StalledResponse();
    reader.release();
    stream.open(slow as unknown as ServerResponse);
    stream.open(reader as unknown as ServerResponse);
    expect(counters.streamClients).toBe(2);
    const third = new StalledResponse();
    third.release();
    stream.open(third as unknown as ServerResponse);
    expect(third.statusCode).toBe(503);
    expect(counters.rejectedCount('stream_clients')).toBe(1);

    service.alerts.raise({ kind: 'gap', level: 'warn', message: 'y'.repeat(4096), symbol: 'S', provider: null, value: null, threshold: null });
    stream.sendFrame(); // the stalled client now holds more than 1 KiB
    stream.sendFrame(); // over the limit for 0 ms or more: cut off
    expect(slow.destroyed).toBe(true);
    expect(reader.destroyed).toBe(false);
    expect(counters.slowReadersDisconnected).toBe(1);
    await waitFor(() => counters.streamClients === 1, 'the slow client gone');
    stream.close();
    await service.http.close();
  });

  it('stats carry drops by reason, processing latency quantiles of the last seconds and each provider\'s last event', async () => {
    const service = offlineService();
    const stream = new DashboardStream(service.views, undefined, { frameIntervalMs: 3_600_000 });
    const res = new StalledResponse();
    res.release();
    const t0 = Date.now() - 1000;
    service.pipeline.offer('md.events.trade.AAA', tradeBytes('AAA', 1, t0), null);
    service.pipeline.offer('md.events.trade.AAA', tradeBytes('AAA', 1, t0), null); // duplicate
    service.pipeline.offer('md.events.trade.AAA', new TextEncoder().encode('{not json'), null);
    await service.pipeline.idle();
    stream.open(res as unknown as ServerResponse);
    const snap = JSON.parse(res.events('snapshot')[0]!) as DashboardSnapshot;
    const stats: DashboardStats = snap.stats;
    expect(stats.dropped_by_reason).toEqual({ duplicate: 1, parse_error: 1 });
    expect(stats.processing_latency_ms.count).toBe(3);
    expect(stats.processing_latency_ms.p50).toEqual(expect.any(Number));
    expect(stats.processing_latency_ms.p99!).toBeGreaterThanOrEqual(stats.processing_latency_ms.p50!);
    expect(stats.providers).toEqual([{ provider: 'p', last_seen_ms_ago: expect.any(Number), stale: false }]);
    expect(stats.stale_after_ms).toBe(10_000);
    stream.close();
    await service.http.close();
  });
});

describe('bucketQuantile', () => {
  const bounds = [1, 2, 5];
  it('interpolates inside the bucket that holds the rank, and answers the top bound above every bucket', () => {
    expect(bucketQuantile([0, 0, 0, 0], bounds, 0, 0.5)).toBeNull();
    expect(bucketQuantile([10, 0, 0, 0], bounds, 10, 0.5)).toBeCloseTo(0.5);
    expect(bucketQuantile([5, 5, 0, 0], bounds, 10, 0.75)).toBeCloseTo(1.5);
    expect(bucketQuantile([0, 0, 10, 0], bounds, 10, 0.99)).toBeCloseTo(4.97);
    expect(bucketQuantile([0, 0, 0, 4], bounds, 4, 0.5)).toBe(5);
  });
});
