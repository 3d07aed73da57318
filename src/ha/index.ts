/** Leader election and the dead-man's switch, built from the config for the runtime to wire in. */
import { CoordinationV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import { leaseIdentity, type HaConfig, type HeartbeatConfig } from '../config.js';
import type { Logger } from '../log.js';
import { LeaseElector } from './elector.js';
import { Heartbeat } from './heartbeat.js';
import { leaseMetrics } from './metrics.js';

export { LeaseElector, type ElectorStatus } from './elector.js';
export { Heartbeat, heartbeatBlocker, type HeartbeatInputs } from './heartbeat.js';
export { leaderCheck } from './readiness.js';

/** The elector for `ha`, talking to the apiserver of `kubeConfig` (the `ha.cluster`'s), its metrics on `registry`. Not started. */
export function electorFor(ha: HaConfig, kubeConfig: KubeConfig, registry: Registry, options: { env?: NodeJS.ProcessEnv; log?: Logger } = {}): LeaseElector {
  return new LeaseElector({
    api: kubeConfig.makeApiClient(CoordinationV1Api),
    namespace: ha.namespace,
    name: ha.lease,
    identity: leaseIdentity(ha, options.env),
    leaseDurationMs: ha.leaseDuration,
    renewDeadlineMs: ha.renewDeadline,
    retryPeriodMs: ha.retryPeriod,
    metrics: leaseMetrics(registry),
    ...(options.log ? { log: options.log } : {}),
  });
}

/** The heartbeat for `heartbeat`; `leading` is the elector's isLeader, or always true without `ha`. Not started. */
export function heartbeatFor(heartbeat: HeartbeatConfig, blocker: () => string | undefined, leading: () => boolean): Heartbeat {
  return new Heartbeat({ url: heartbeat.url, everyMs: heartbeat.every, blocker, leading });
}
