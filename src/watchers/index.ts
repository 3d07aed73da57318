import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { KubeCluster } from '../clients/kube.js';
import type { RegistryClient } from '../clients/registry.js';
import { ConfigHubClient } from '../clients/confighub.js';
import { ConfigHubWatcher } from './confighub.js';
import { RegistryWatcher } from './registry.js';
import { EndpointWatcher } from './endpoints.js';
import { Prober } from '../clients/probe.js';
import { KubeWatcher } from './kube.js';
import type { ObservationSink, Watcher } from './types.js';

export interface WatcherDeps {
  config: Config;
  sink: ObservationSink;
  log: Logger;
  metrics: Metrics;
  cluster: (name: string) => KubeCluster;
  registry: () => RegistryClient;
  kubeRecheckMs?: number;
}

/** The watchers a config asks for, each with its clients. */
export function createWatchers(deps: WatcherDeps): Watcher[] {
  const { config, sink, log } = deps;
  const watchers: Watcher[] = [];
  const usesImages = config.images.length > 0 || config.workers.length > 0 || config.workloads.length > 0 || config.discover.length > 0 || config.endpoints.some((endpoint) => endpoint.expectFrom && 'image' in endpoint.expectFrom);
  if (usesImages) watchers.push(new RegistryWatcher({ config, sink, client: deps.registry(), log: log.child({ component: 'registry' }) }));
  if (config.workers.length > 0 || config.workloads.length > 0 || config.discover.length > 0) {
    watchers.push(new KubeWatcher({ config, sink, cluster: deps.cluster, log: log.child({ component: 'kube' }), onWatchRestart: (cluster) => deps.metrics.watchRestarts.inc({ cluster }), ...(deps.kubeRecheckMs ? { recheckEveryMs: deps.kubeRecheckMs } : {}) }));
  }
  if (config.endpoints.length > 0) watchers.push(new EndpointWatcher({ config, sink, prober: new Prober(), log: log.child({ component: 'endpoints' }) }));
  if (config.confighub && config.workers.some((worker) => worker.space)) {
    const token = process.env[config.confighub.tokenEnv] ?? '';
    if (!token) log.warn(`confighub: ${config.confighub.tokenEnv} is not set; ConfigHub will refuse the requests`);
    watchers.push(new ConfigHubWatcher({ config, sink, client: new ConfigHubClient({ url: config.confighub.url, token }), log: log.child({ component: 'confighub' }) }));
  }
  return watchers;
}
