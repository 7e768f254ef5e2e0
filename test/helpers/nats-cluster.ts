/**
 * The tests' nats-server cluster: the repository's one cluster launcher
 * (src/cli/local-nats-cluster.ts, shared with `demo --cluster` and
 * bench/cluster.mjs) with the tests' nats-server binary. Free loopback ports,
 * temp stores; always `stop()` it.
 */
import { LocalNatsCluster } from '../../src/cli/local-nats-cluster.js';
import type { LocalClusterOptions } from '../../src/cli/local-nats-cluster.js';
import { natsServerBin } from './nats-server.js';

export type { NodeAddress } from '../../src/cli/local-nats-cluster.js';
export type TestNatsCluster = LocalNatsCluster;

/** The options of {@link TestNatsCluster.start}: the launcher's, the binary found as for every test server. */
export type ClusterOptions = Omit<LocalClusterOptions, 'bin'>;

export const TestNatsCluster = {
  /** Starts every node and waits until each accepts client connections. */
  start(opts: ClusterOptions): Promise<LocalNatsCluster> {
    return LocalNatsCluster.start({ bin: natsServerBin(), ...opts });
  },
};
