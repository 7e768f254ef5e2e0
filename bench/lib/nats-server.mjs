/**
 * The benchmark's nats-server: the repository's one launcher
 * (test/helpers/nats-server.mjs, shared with the tests) with the bench's
 * settings, and the binary found by the one rule the demo and the tests use
 * (src/cli/local-nats-cluster.ts, from dist: the bench runs after a build).
 * Free ports, JetStream in a temp store removed afterwards; never the server
 * someone else runs on 4222.
 */
import { natsServerCommand } from '../../dist/cli/local-nats-cluster.js';
import { TestNatsServer, freePort } from '../../test/helpers/nats-server.mjs';

export { freePort };

/**
 * The nats-server binary: NATS_SERVER_BIN, else PATH, else /usr/sbin/nats-server.
 * @returns {string}
 */
export function natsServerBin() {
  return natsServerCommand(process.env);
}

export const BenchNatsServer = {
  /**
   * Starts a server with the backlog limits raised (max_pending 1 GB, a 60 s
   * write deadline, large JetStream stores) so a burst of a million messages is
   * not cut short by slow-consumer protection, and a monitoring port for
   * `varz()`; the ceiling and the service get the same server.
   * @returns {Promise<TestNatsServer>}
   */
  start() {
    return TestNatsServer.start({ bin: natsServerBin(), jetstream: true, maxPayload: '1MB', monitor: true, highBacklog: true });
  },
};
