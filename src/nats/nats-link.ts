import { readFileSync } from 'node:fs';
import { isIP, connect as tcpConnect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect as tlsConnect } from 'node:tls';
import { connect, credsAuthenticator } from '@nats-io/transport-node';
import type { NatsConnection, NodeConnectionOptions } from '@nats-io/transport-node';
import type { Config } from '../config/config.js';

/** Connection options from the config: reconnect forever with backoff, credentials and TLS. */
export function natsOptions(cfg: Config['nats'], name: string): NodeConnectionOptions {
  const opts: NodeConnectionOptions = {
    servers: [...cfg.servers],
    name,
    // the first connection is this module's own loop, so every failure is seen and logged
    waitOnFirstConnect: false,
    maxReconnectAttempts: -1,
    // a refused authentication must not end the reconnects: credentials may be fixed server-side
    ignoreAuthErrorAbort: true,
    reconnectTimeWait: 1000,
    reconnectJitter: 500,
    // a server that stops answering (frozen, its host lost without a reset) is given up after three
    // unanswered pings: 6–8 s, then the next server of the list (DECISIONS 100). A PONG queues behind
    // our pending data, which the server cuts anyway at 64 MB or a 10 s write deadline.
    pingInterval: 2_000,
    maxPingOut: 3,
    timeout: 5000,
  };
  if (cfg.user !== undefined) {
    opts.user = cfg.user;
    if (cfg.password !== undefined) opts.pass = cfg.password;
  }
  if (cfg.token !== undefined) opts.token = cfg.token;
  if (cfg.credsFile !== undefined) opts.authenticator = credsAuthenticator(new Uint8Array(readFileSync(cfg.credsFile)));
  if (cfg.tlsCa !== undefined || cfg.tlsCert !== undefined) {
    opts.tls = {
      ...(cfg.tlsCa !== undefined ? { caFile: cfg.tlsCa } : {}),
      ...(cfg.tlsCert !== undefined ? { certFile: cfg.tlsCert } : {}),
      ...(cfg.tlsKey !== undefined ? { keyFile: cfg.tlsKey } : {}),
    };
  }
  return opts;
}

/** The server's or the TLS layer's reason for a failed connection, one line, without credentials. */
export function connectionFailureReason(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e !== undefined && e !== null && depth < 4; depth++) {
    if (e instanceof Error) {
      const code = (e as NodeJS.ErrnoException).code;
      const msg = e.message.replace(/[a-z]+:\/\/[^@/\s]*@/gi, (m) => m.slice(0, m.indexOf('//') + 2)).replace(/\s+/g, ' ').trim();
      const line = code !== undefined && !msg.includes(String(code)) ? `${msg} (${String(code)})` : msg;
      if (line !== '' && !parts.includes(line)) parts.push(line);
      e = e.cause;
    } else {
      parts.push(String(e));
      break;
    }
  }
  return parts.join(': ') || 'unknown error';
}

/** Backoff of the connection attempts: 1, 2, 4 … 30 s, jittered by up to 20 %. */
export function backoffMs(attempt: number): number {
  const base = Math.min(30_000, 1000 * 2 ** Math.min(attempt, 5));
  return base * (1 + Math.random() * 0.2);
}

/** What a connection attempt loop reports. */
export interface ConnectAttemptListener {
  /** An attempt failed with `reason`; the next one starts in `retryInMs`. */
  failed(reason: string, attempt: number, retryInMs: number): void;
}

/**
 * Connects, retrying for ever with backoff, until connected or `signal`
 * aborts (then resolves null at once; a dial still in flight is closed when it
 * lands). Every failure is reported with its reason: a refused
 * authentication, a TLS failure or an unreachable server.
 */
export async function connectWithRetry(
  opts: NodeConnectionOptions,
  listener: ConnectAttemptListener,
  signal?: AbortSignal,
): Promise<NatsConnection | null> {
  const stopped = () => signal?.aborted === true;
  const aborted = new Promise<null>((resolve) => {
    if (stopped()) resolve(null);
    else signal?.addEventListener('abort', () => resolve(null), { once: true });
  });
  for (let attempt = 0; !stopped(); attempt++) {
    const dial = connect(opts);
    try {
      const nc = await Promise.race([dial, aborted]);
      if (nc === null) {
        dial.then((late) => late.close(), () => undefined).catch(() => undefined);
        return null;
      }
      if (stopped()) {
        await nc.close().catch(() => undefined);
        return null;
      }
      return nc;
    } catch (err) {
      const wait = backoffMs(attempt);
      listener.failed(await explainFailure(opts, connectionFailureReason(err)), attempt + 1, wait);
      await sleep(wait, undefined, { signal }).catch(() => undefined); // an abort ends the wait
    }
  }
  return null;
}

/**
 * While the client reconnects on its own, nats.js keeps a failed dial's reason
 * to itself: this probe dials once, without reconnecting, to learn it. Null
 * when the probe connects (the client will too).
 */
export async function probeConnection(opts: NodeConnectionOptions): Promise<string | null> {
  try {
    const nc = await connect({ ...opts, name: `${opts.name ?? 'senpai'}-probe`, reconnect: false, waitOnFirstConnect: false });
    await nc.close().catch(() => undefined);
    return null;
  } catch (err) {
    return explainFailure(opts, connectionFailureReason(err));
  }
}

/**
 * A server that rejects the client's certificate (or its absence) does so
 * after the TLS handshake, and nats.js then only sees a timeout: for a TLS
 * connection, a bare handshake with the same files learns the TLS layer's own
 * reason.
 */
async function explainFailure(opts: NodeConnectionOptions, reason: string): Promise<string> {
  if (opts.tls === undefined || opts.tls === null || !/timeout/i.test(reason)) return reason;
  const servers = Array.isArray(opts.servers) ? opts.servers : [opts.servers ?? ''];
  const tlsReason = await tlsHandshakeFailure(String(servers[0]), opts.tls as { caFile?: string; certFile?: string; keyFile?: string });
  return tlsReason === null ? reason : `${reason}: TLS: ${tlsReason}`;
}

/** Reads the server's INFO, upgrades to TLS with the given files, and reports the TLS layer's error, if any. */
function tlsHandshakeFailure(server: string, files: { caFile?: string; certFile?: string; keyFile?: string }): Promise<string | null> {
  const u = new URL(server.includes('://') ? server : `nats://${server}`);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const port = Number(u.port || 4222);
  return new Promise((resolve) => {
    const done = (r: string | null) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done(null), 3000);
    const socket = tcpConnect({ host, port });
    socket.once('error', (err) => done(connectionFailureReason(err)));
    socket.once('data', () => {
      try {
        const secure = tlsConnect({
          socket,
          ...(isIP(host) === 0 ? { servername: host } : {}),
          ...(files.caFile !== undefined ? { ca: readFileSync(files.caFile) } : {}),
          ...(files.certFile !== undefined ? { cert: readFileSync(files.certFile) } : {}),
          ...(files.keyFile !== undefined ? { key: readFileSync(files.keyFile) } : {}),
        });
        secure.once('error', (err) => done(connectionFailureReason(err)));
        // TLS 1.3: the server's verdict on the client certificate follows the handshake
        secure.once('secureConnect', () => setTimeout(() => done(null), 1000));
      } catch (err) {
        done(connectionFailureReason(err));
      }
    });
  });
}

/**
 * Connects a command-line tool (simulate, record, replay), waiting for the
 * server; each failed attempt prints one line with its reason on stderr.
 */
export async function connectNats(cfg: Config['nats'], name: string): Promise<NatsConnection> {
  const nc = await connectWithRetry(
    natsOptions(cfg, name),
    {
      failed: (reason, _attempt, retryInMs) =>
        process.stderr.write(`${name}: cannot connect to ${cfg.servers.join(',')}: ${reason}; retrying in ${(retryInMs / 1000).toFixed(1)} s\n`),
    },
  );
  return nc!;
}
