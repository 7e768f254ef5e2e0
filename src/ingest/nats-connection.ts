import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator } from '@nats-io/transport-node';
import type { NatsConnection, NodeConnectionOptions } from '@nats-io/transport-node';
import type { Config } from '../config/config.js';

/** Connection options from the config: reconnect forever with backoff, credentials and TLS. */
export function natsOptions(cfg: Config['nats'], name: string): NodeConnectionOptions {
  const opts: NodeConnectionOptions = {
    servers: [...cfg.servers],
    name,
    waitOnFirstConnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1000,
    reconnectJitter: 500,
    pingInterval: 10_000,
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

/** Connects, retrying until the first connection succeeds. */
export function connectNats(cfg: Config['nats'], name: string): Promise<NatsConnection> {
  return connect(natsOptions(cfg, name));
}
