import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import type { Config } from '../../src/config/config.js';
import { Service } from '../../src/app/service.js';
import { attachDashboard } from '../../src/http/dashboard.js';
import { TestNatsServer } from './nats-server.js';

/** An in-process service against a test nats-server, HTTP on a free port. */
export async function startService(
  natsUrl: string,
  env: Record<string, string> = {},
  overrides: Partial<Config> = {},
): Promise<{ service: Service; base: string; stop: () => Promise<void> }> {
  // overrides: settings below the ranges an operator may choose, so a test need not wait for them
  const config = { ...loadConfig({ NATS_URL: natsUrl, HTTP_HOST: '127.0.0.1', HTTP_PORT: '0', ...env }), ...overrides };
  const service = new Service(config, pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }), { defaultMetrics: true });
  const port = await service.listen();
  await service.start();
  return { service, base: `http://127.0.0.1:${port}`, stop: () => service.stop() };
}

/**
 * A service with the dashboard, built from `env` but never started: NATS is
 * never connected and nothing listens until the test calls `listen()`.
 */
export function offlineService(env: Record<string, string> = {}): Service {
  const config = loadConfig({ NATS_URL: 'nats://127.0.0.1:1', HTTP_HOST: '127.0.0.1', HTTP_PORT: '0', ...env });
  return new Service(config, pino({ level: 'silent' }), { defaultMetrics: false, extendHttp: attachDashboard });
}

/** Collects every message published on a subject pattern, decoded as JSON. */
export class Collector {
  readonly messages: { subject: string; data: Record<string, unknown> }[] = [];
  private constructor(readonly nc: NatsConnection) {}

  static async open(natsUrl: string, subjects: string[]): Promise<Collector> {
    const nc = await connect({ servers: natsUrl });
    const c = new Collector(nc);
    for (const s of subjects) {
      nc.subscribe(s, {
        callback: (_err, m) => {
          c.messages.push({ subject: m.subject, data: m.json<Record<string, unknown>>() });
        },
      });
    }
    await nc.flush();
    return c;
  }

  on(prefix: string): Record<string, unknown>[] {
    return this.messages.filter((m) => m.subject.startsWith(prefix)).map((m) => m.data);
  }

  close(): Promise<void> {
    return this.nc.close();
  }
}

export async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/**
 * A core nats-server (no JetStream) and a publishing connection for one test
 * file: started before its tests, stopped after them.
 */
export function coreNatsForFile(): { readonly nats: TestNatsServer; readonly pub: NatsConnection } {
  const ctx = {} as { nats: TestNatsServer; pub: NatsConnection };
  beforeAll(async () => {
    ctx.nats = await TestNatsServer.start({ jetstream: false });
    ctx.pub = await connect({ servers: ctx.nats.url });
  });
  afterAll(async () => {
    await ctx.pub?.close();
    await ctx.nats?.stop();
  });
  return ctx;
}
