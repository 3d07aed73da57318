import { Counter, Gauge, type Registry } from 'prom-client';
import type { LeaseMetrics } from './elector.js';

/** `driftwatch_leader` (1 while this replica leads) and `driftwatch_lease_transitions_total`, on `registry`. */
export function leaseMetrics(registry: Registry): LeaseMetrics {
  const leader = new Gauge({ name: 'driftwatch_leader', help: '1 while this replica holds the Lease and acts, else 0', registers: [registry] });
  const transitions = new Counter({ name: 'driftwatch_lease_transitions_total', help: 'Changes of the Lease holder this replica saw (its own acquisitions included)', registers: [registry] });
  leader.set(0);
  return {
    leader: (leading) => leader.set(leading ? 1 : 0),
    transition: () => transitions.inc(),
  };
}
