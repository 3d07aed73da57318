/**
 * The offline world `driftwatch demo` watches: a Kubernetes apiserver (HTTPS, the embedded
 * demo-only certificate), an image registry, ConfigHub, and the relay's public endpoint — all on
 * 127.0.0.1, port 0, in this process. It is set up as seeds 000 and 004 begin: the ConfigHub
 * worker runs `confighub-worker:latest` (digest A) and is Ready; the relay DaemonSet still runs
 * v0.1.0 while `relay:latest` is labelled 0.2.0, so its endpoint serves no X-Relay-Version.
 * `startSandbox` returns a Driftwatch config wired to all of it; `story.ts` makes things happen.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig, type Config } from '../config.js';
import { startFakeApiserver, type FakeApiserver, type PatchRecord } from './apiserver.js';
import { NEVER_SEEN, startFakeConfigHub, type FakeConfigHub } from './confighub.js';
import { startEndpoint, type Endpoint } from './endpoint.js';
import { startDemoRegistry, type DemoImage, type DemoRegistry } from './registry.js';
import { crashLog, runningDigest } from './seed-pods.js';

export const DEMO_USER = 'U0DEMO';
export const DEMO_CLUSTER = 'demo';
export const DEMO_TOKEN_ENV = 'DRIFTWATCH_DEMO_CONFIGHUB_TOKEN';
export const WORKER = 'cost-optimizer-worker';
export const WORKER_NAMESPACE = 'confighub';
export const SPACE = 'sunrise-cub-cost-optimizer-base';
export const RELAY = { namespace: 'relay', kind: 'DaemonSet', name: 'relay', endpoint: 'relay-dfw1', header: 'X-Relay-Version' } as const;
export const RELAY_WORKLOAD = `${DEMO_CLUSTER}/${RELAY.namespace}/${RELAY.kind}/${RELAY.name}`;

const WORKER_REPO = 'confighubai/confighub-worker';
const RELAY_REPO = 'clevertree/relay';
const PLATFORMS = ['linux/amd64', 'linux/arm64'];

export interface SandboxImages {
  /** `127.0.0.1:PORT/confighubai/confighub-worker:latest` */
  workerRef: string;
  /** The worker build that works (seed 000's 8b96908d…) and the one that crashes (c4338b51…). */
  good: DemoImage;
  bad: DemoImage;
  relayLatestRef: string;
  relayOldRef: string;
  relayNewRef: string;
  relayOld: DemoImage;
  relayNew: DemoImage;
}

export interface Sandbox {
  config: Config;
  apiserver: FakeApiserver;
  registry: DemoRegistry;
  confighub: FakeConfigHub;
  relay: Endpoint;
  images: SandboxImages;
  /** The kubeconfig written for the demo cluster (KUBECONFIG points at it). */
  kubeconfigPath: string;
  /** Where the config, the kubeconfig and the store live. */
  dir: string;
  /** Subscribe to what the apiserver was asked to PATCH. */
  onPatch(listener: (patch: PatchRecord, status: number) => void): void;
  close(): Promise<void>;
}

export interface SandboxOptions {
  /** How long a rollout's new pods take to start (the apiserver's rollouts advance by themselves). Default 1.5 s. */
  rolloutMs?: number;
  /** How often Driftwatch polls the registry, ConfigHub and the endpoint. Default 2 s. */
  pollEvery?: string;
  /** The environment to point at the sandbox (KUBECONFIG, the ConfigHub token). Default process.env. */
  env?: NodeJS.ProcessEnv;
}

/**
 * Starts every sandbox server on 127.0.0.1, seeds the seed-000 and seed-004 starting points,
 * writes a kubeconfig, sets KUBECONFIG and the ConfigHub token in `env`, and returns the config.
 */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const env = options.env ?? process.env;
  const every = options.pollEvery ?? '2s';
  const dir = mkdtempSync(join(tmpdir(), 'driftwatch-demo-'));
  const patchListeners: Array<(patch: PatchRecord, status: number) => void> = [];
  const started: Array<{ close(): Promise<void> }> = [];
  try {
    const registry = await startDemoRegistry();
    started.push(registry);
    const workerRef = `${registry.host}/${WORKER_REPO}:latest`;
    const images: SandboxImages = {
      workerRef,
      // B is built first and A pushed last, so :latest starts at A; the story moves it to B.
      bad: registry.push(WORKER_REPO, 'latest', { seed: 'c4338b51 bridge worker slug lookup', platforms: PLATFORMS }),
      good: registry.push(WORKER_REPO, 'latest', { seed: '8b96908d works', platforms: PLATFORMS }),
      relayLatestRef: `${registry.host}/${RELAY_REPO}:latest`,
      relayOldRef: `${registry.host}/${RELAY_REPO}:v0.1.0`,
      relayNewRef: `${registry.host}/${RELAY_REPO}:sha-39a4e17`,
      relayOld: registry.push(RELAY_REPO, 'v0.1.0', { seed: 'relay 0.1.0', version: '0.1.0' }),
      relayNew: registry.push(RELAY_REPO, 'sha-39a4e17', { seed: 'relay 0.2.0 39a4e17', version: '0.2.0' }),
    };
    registry.tag(RELAY_REPO, 'latest', images.relayNew.digest);

    const apiserver = await startFakeApiserver({
      autoAdvanceMs: options.rolloutMs ?? 1500,
      onPatch: (patch, status) => {
        for (const listener of patchListeners) listener(patch, status);
      },
      // Every worker pod that runs B crashes with seed 000's log, however it was created.
      logsFor: (pod) => (pod.metadata.labels?.app === WORKER && runningDigest(pod, 'worker') === images.bad.digest ? crashLog(new Date()) : undefined),
    });
    started.push(apiserver);
    apiserver.seedWorker({ name: WORKER, namespace: WORKER_NAMESPACE, image: workerRef, digest: images.good.digest });
    apiserver.setImageDigest(images.relayOldRef, images.relayOld.digest);
    apiserver.setImageDigest(images.relayNewRef, images.relayNew.digest);
    const relayLabels = { app: 'relay' };
    apiserver.upsert({
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: RELAY.name, namespace: RELAY.namespace, labels: relayLabels },
      spec: {
        selector: { matchLabels: relayLabels },
        updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
        template: {
          metadata: { labels: relayLabels },
          spec: { containers: [{ name: 'relay', image: images.relayOldRef, imagePullPolicy: 'Always', ports: [{ containerPort: 5001 }] }] },
        },
      },
    });

    const confighub = await startFakeConfigHub();
    started.push(confighub);
    confighub.addSpace(SPACE);
    confighub.addWorker(SPACE, WORKER, { condition: 'Ready', lastSeenAt: new Date().toISOString(), ipAddress: '10.244.0.7' });

    // v0.1.0 sends no version header at all (seed 004).
    const relay = await startEndpoint();
    started.push(relay);

    const context = 'demo-admin';
    const kubeconfigPath = join(dir, 'kubeconfig');
    writeFileSync(kubeconfigPath, apiserver.kubeconfig(context), { mode: 0o600 });
    env.KUBECONFIG = kubeconfigPath;
    env[DEMO_TOKEN_ENV] = confighub.token;

    const config = parseConfig(
      {
        console: { user: DEMO_USER },
        store: { path: join(dir, 'driftwatch.db') },
        server: { port: 0 },
        clusters: [{ name: DEMO_CLUSTER, context }],
        registries: { [registry.host]: { insecure: true } },
        confighub: { url: confighub.url, tokenEnv: DEMO_TOKEN_ENV, every },
        workers: [{ name: WORKER, cluster: DEMO_CLUSTER, namespace: WORKER_NAMESPACE, space: SPACE }],
        workloads: [{ cluster: DEMO_CLUSTER, namespace: RELAY.namespace, kind: RELAY.kind, name: RELAY.name }],
        // The relay's tags too, so /version status knows what each one should run.
        images: [{ ref: workerRef, every }, { ref: images.relayOldRef, every }, { ref: images.relayNewRef, every }],
        endpoints: [
          {
            name: RELAY.endpoint,
            service: 'relay',
            url: relay.url,
            headers: { 'X-Relay-Branch': 'main' },
            versionHeader: RELAY.header,
            expectFrom: { image: images.relayLatestRef },
            workload: RELAY_WORKLOAD,
            every,
          },
        ],
        access: {
          'worker pin': { users: [DEMO_USER] },
          'worker unpin': { users: [DEMO_USER] },
          'rollout restart': { users: [DEMO_USER] },
          'rollout undo': { users: [DEMO_USER] },
        },
        alerting: { failuresBeforeAlert: 2, recoveriesBeforeResolve: 2, healthyFor: '5s' },
      },
      'demo sandbox',
    );

    let closed = false;
    return {
      config,
      apiserver,
      registry,
      confighub,
      relay,
      images,
      kubeconfigPath,
      dir,
      onPatch: (listener) => void patchListeners.push(listener),
      async close() {
        if (closed) return;
        closed = true;
        await Promise.allSettled(started.reverse().map((server) => server.close()));
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await Promise.allSettled(started.reverse().map((server) => server.close()));
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`demo sandbox did not start: ${(error as Error).message}`, { cause: error });
  }
}

export { NEVER_SEEN };
