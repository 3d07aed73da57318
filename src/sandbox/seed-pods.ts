/**
 * What the seed-000 worker's pods show in the sandbox: the log image B prints before it exits,
 * the digest a pod really runs, and the pod states the story sets (starting, crash-looping).
 * Pure: the story and the sandbox put these into the fake apiserver.
 */
import { digestOfImageId } from '../domain/image-ref.js';
import type { KubeObject } from './kube-objects.js';
import { timestamp } from './object-store.js';

/** What the worker image B prints before it exits (seed 000), with today's timestamps. */
export function crashLog(at: Date): string {
  const iso = timestamp(at);
  const go = iso.replace(/-/g, '/').replace('T', ' ').replace('Z', '');
  const error = 'failed to get bridge worker slug: server returned status 404: 404 Not Found';
  return [
    `${iso}\tINFO\tUsing dispatcher pattern for multi-worker support with unit-level serialization`,
    `${iso}\tINFO\tRegistered worker\t{"toolchainType": "Kubernetes/YAML", "providerType": "Kubernetes"}`,
    `${iso}\tINFO\tRegistered bridge worker\t{"workerType": "kubernetes", "toolchainType": "Kubernetes/YAML", "providerType": "Kubernetes"}`,
    `${go} Starting worker with ID: 82bde808-ce33-4e54-9646-0ff2d0ddf97c`,
    `${go} [ERROR] Failed to get bridge worker slug: server returned status 404: 404 Not Found`,
    `${go} Error starting worker: ${error}`,
    `${iso}\tINFO\tFailed to start worker\t{"error": "${error}"}`,
    `${iso}\tERROR\tfailed to execute command\t{"error": "${error}"}`,
    'main.main',
    '\t/go/src/app/public/cmd/cub-worker/main.go:503',
    '',
  ].join('\n');
}

/** `sha256:…` of what a pod's container really runs, from its imageID. */
export function runningDigest(pod: KubeObject, container: string): string | undefined {
  const status = (pod.status?.containerStatuses ?? []).find((candidate: { name?: string }) => candidate.name === container);
  return digestOfImageId(status?.imageID);
}

type PodContainer = { name: string; image: string };

/** A pod the kubelet is still starting: its containers are being created. */
export function startingPodStatus(containers: PodContainer[], at: string): KubeObject['status'] {
  return {
    phase: 'Pending',
    conditions: [
      { type: 'PodScheduled', status: 'True', lastTransitionTime: at },
      { type: 'Ready', status: 'False', lastTransitionTime: at, reason: 'ContainersNotReady', message: `containers with unready status: [${containers.map((c) => c.name).join(' ')}]` },
    ],
    hostIP: '10.0.0.10',
    startTime: at,
    containerStatuses: containers.map((c) => ({ name: c.name, image: c.image, imageID: '', ready: false, started: false, restartCount: 0, state: { waiting: { reason: 'ContainerCreating' } }, lastState: {} })),
  };
}

/** A pod whose containers pulled `imageId` and exit with code 1 right away: CrashLoopBackOff. */
export function crashLoopPodStatus(containers: PodContainer[], imageId: string, at: string, restarts: number, pod: string): KubeObject['status'] {
  const unready = { reason: 'ContainersNotReady', message: `containers with unready status: [${containers.map((c) => c.name).join(' ')}]` };
  return {
    phase: 'Running',
    conditions: [
      { type: 'PodScheduled', status: 'True', lastTransitionTime: at },
      { type: 'Ready', status: 'False', lastTransitionTime: at, ...unready },
      { type: 'ContainersReady', status: 'False', lastTransitionTime: at, ...unready },
    ],
    hostIP: '10.0.0.10',
    podIP: '10.244.0.42',
    startTime: at,
    containerStatuses: containers.map((c) => ({
      name: c.name,
      image: c.image,
      imageID: imageId,
      ready: false,
      started: false,
      restartCount: restarts,
      state: { waiting: { reason: 'CrashLoopBackOff', message: `back-off 10s restarting failed container=${c.name} pod=${pod}` } },
      lastState: { terminated: { exitCode: 1, reason: 'Error', startedAt: at, finishedAt: at } },
    })),
  };
}

export const isPodReady = (pod: KubeObject): boolean => (pod.status?.conditions ?? []).some((condition: { type?: string; status?: string }) => condition.type === 'Ready' && condition.status === 'True');
