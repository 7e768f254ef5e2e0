import { Counter, Gauge } from 'prom-client';
import type { Registry } from 'prom-client';

/**
 * The cluster-mode series (SPEC §12): partitions owned, live members and
 * rebalances (partitions acquired or given up). Plain numbers read at scrape
 * time; registered only in cluster mode, at 0 from the start.
 */
export class ClusterMetrics {
  partitionsOwned = 0;
  members = 0;
  rebalancesTotal = 0;

  constructor(registry: Registry) {
    const self = this; // eslint-disable-line @typescript-eslint/no-this-alias
    new Gauge({
      name: 'senpai_cluster_partitions_owned',
      help: 'Partitions this member owns and processes (SPEC §12).',
      registers: [registry],
      collect() {
        this.set(self.partitionsOwned);
      },
    });
    new Gauge({
      name: 'senpai_cluster_members',
      help: 'Live members of the cluster as this member sees them.',
      registers: [registry],
      collect() {
        this.set(self.members);
      },
    });
    new Counter({
      name: 'senpai_cluster_rebalances_total',
      help: 'Partitions this member acquired or gave up (rebalancing, failover, expiry).',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(self.rebalancesTotal);
      },
    });
  }
}
