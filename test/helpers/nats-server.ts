/**
 * The tests' entry to the one nats-server launcher, `nats-server.mjs` (shared
 * with the benchmarks, which run it under plain node): this file only
 * re-exports it, so test files keep importing `../helpers/nats-server.js`.
 */
export { TestNatsServer, canConnect, freePort, natsServerBin, waitFor } from './nats-server.mjs';
export type { NatsServerOptions } from './nats-server.mjs';
