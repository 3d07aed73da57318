/**
 * The script the demo sandbox plays, on timers the test can drive. Seed 000: a little after the
 * start `confighub-worker:latest` moves from A to B, the worker pod is rescheduled and pulls B,
 * crashes with the 404 log, and ConfigHub shows the worker Disconnected, never seen. Seed 004:
 * from the start the relay endpoint serves no X-Relay-Version while `relay:latest` says 0.2.0.
 * The world then follows its pods: when the worker runs Ready again (someone pinned it back to A),
 * ConfigHub shows it Ready, and a while later the relay's pending apply finally happens, so the
 * endpoint serves 0.2.0. Narrator lines (`[demo] …`) say what happens and what to type.
 */
import { imageWithoutTag, shortDigest } from '../domain/image-ref.js';
import type { KubeObject, PatchRecord } from './apiserver.js';
import { randomBytes } from 'node:crypto';
import { NEVER_SEEN, RELAY, SPACE, WORKER, WORKER_NAMESPACE, type Sandbox } from './sandbox.js';
import { crashLoopPodStatus, isPodReady, runningDigest, startingPodStatus } from './seed-pods.js';
import { timestamp } from './object-store.js';

export interface StoryTimings {
  /** From start until the tag moves and the worker pod is rescheduled onto B. */
  tagMoveAfterMs: number;
  /** From the worker running Ready again until the relay's pending apply happens. */
  applyAfterRecoveryMs: number;
  /** How often the world looks at its pods (ConfigHub's view of the worker, the relay's header). */
  tickMs: number;
  /** How long a rescheduled pod takes to pull its image and crash. */
  startMs: number;
  /** Say the hint again when the worker is still down after this long. */
  remindAfterMs: number;
}

export const defaultTimings: StoryTimings = { tagMoveAfterMs: 8_000, applyAfterRecoveryMs: 6_000, tickMs: 250, startMs: 1_500, remindAfterMs: 40_000 };

/** The timer functions the story uses (tests pass fake ones). */
export interface StoryTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

const realTimers: StoryTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  setInterval: (fn, ms) => setInterval(fn, ms).unref(),
  clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout),
};

export type StoryPhase = 'calm' | 'broken' | 'recovered' | 'applying' | 'done';

/** Pod-name suffixes use the letters Kubernetes uses (no vowels, no look-alikes). */
const randomSuffix = () => [...randomBytes(5)].map((byte) => 'bcdfghjklmnpqrstvwxz2456789'[byte % 27]).join('');

const shorten = (text: string) => text.replace(/sha256:[a-f0-9]{64}/g, (digest) => shortDigest(digest));

/** One line about a PATCH the apiserver received: which object, which patch type, what it changes. */
export function describePatch(patch: PatchRecord): string {
  const where = /\/namespaces\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(patch.path);
  const target = where ? `${where[2]} ${where[1]}/${where[3]}` : patch.path;
  const type = patch.contentType.replace(/^application\//, '').replace(/\+json$/, '');
  const changes: string[] = [];
  const body = patch.body;
  if (Array.isArray(body)) {
    for (const op of body) changes.push(`${op?.op} ${op?.path}${op?.value !== undefined && typeof op.value !== 'object' ? ` = ${op.value}` : ''}`);
  } else if (body && typeof body === 'object') {
    const template = body.spec?.template;
    for (const container of Array.isArray(template?.spec?.containers) ? template.spec.containers : []) {
      if (container?.image) changes.push(`${container.name ?? 'container'} image → ${container.image}`);
    }
    if (template?.metadata?.annotations?.['kubectl.kubernetes.io/restartedAt']) changes.push('restart');
    const annotations = Object.keys(body.metadata?.annotations ?? {});
    if (annotations.length > 0) changes.push(`annotations ${annotations.join(', ')}`);
  }
  return shorten(`${target} (${type})${changes.length > 0 ? `: ${changes.join('; ')}` : ''}`);
}

/** What ConfigHub shows for a worker whose pods are these: connected while any of them runs Ready. */
export function workerCondition(pods: KubeObject[]): 'Ready' | 'Disconnected' {
  return pods.some(isPodReady) ? 'Ready' : 'Disconnected';
}

export class DemoStory {
  private phase: StoryPhase = 'calm';
  private readonly timings: StoryTimings;
  private readonly timers: StoryTimers;
  private readonly handles: unknown[] = [];
  private ticker: unknown;
  private condition: 'Ready' | 'Disconnected' = 'Ready';
  private stopped = false;

  constructor(
    private readonly sandbox: Sandbox,
    private readonly options: { say: (line: string) => void; timings?: Partial<StoryTimings>; timers?: StoryTimers },
  ) {
    this.timings = { ...defaultTimings, ...options.timings };
    this.timers = options.timers ?? realTimers;
    sandbox.onPatch((patch, status) => {
      if (!this.stopped) this.say(`apiserver received PATCH ${describePatch(patch)} → ${status}`);
    });
  }

  get currentPhase(): StoryPhase {
    return this.phase;
  }

  start(): void {
    const { images } = this.sandbox;
    this.say(`sandbox up on 127.0.0.1: apiserver, registry, ConfigHub, relay endpoint. Cluster "demo" runs worker ${WORKER} on ${images.workerRef} (${shortDigest(images.good.digest)}) and DaemonSet relay/relay on :v0.1.0.`);
    this.say(`seed 004: relay:latest is labelled 0.2.0, but ${RELAY.endpoint} sends no ${RELAY.header} header — the DaemonSet never got the new image. Expect a stale-deploy incident.`);
    this.say(`seed 000: in ${Math.round(this.timings.tagMoveAfterMs / 1000)}s ${WORKER}'s :latest tag moves to a broken build. Meanwhile try /version status.`);
    this.ticker = this.timers.setInterval(() => this.tick(), this.timings.tickMs);
    this.later(this.timings.tagMoveAfterMs, () => this.moveTag());
  }

  stop(): void {
    this.stopped = true;
    if (this.ticker !== undefined) this.timers.clearInterval(this.ticker);
    for (const handle of this.handles.splice(0)) this.timers.clearTimeout(handle);
  }

  /** The tag moves A → B; the worker pod is rescheduled and pulls B, which crashes (seed 000). */
  moveTag(): void {
    if (this.stopped || this.phase !== 'calm') return;
    const { registry, apiserver, images } = this.sandbox;
    this.phase = 'broken';
    const repository = imageWithoutTag(images.workerRef).slice(registry.host.length + 1);
    registry.tag(repository, 'latest', images.bad.digest);
    // Pods created from now on (a restart, a rollout) pull B and crash, whoever creates them.
    apiserver.setImageDigest(images.workerRef, images.bad.digest);
    apiserver.failImage(images.workerRef, 'CrashLoopBackOff', `back-off 10s restarting failed container=worker pod=${WORKER}`);
    this.reschedule();
    this.say(`confighub-worker:latest just moved ${shortDigest(images.good.digest)} → ${shortDigest(images.bad.digest)}, and ${WORKER}'s pod was rescheduled onto the new build. Watch it crash.`);
    this.later(this.timings.remindAfterMs, () => this.remind());
  }

  /**
   * As when the node under the worker is recycled: its pod goes, the ReplicaSet makes a new one
   * (same revision, so no rollout), which pulls :latest again — now B — and crash-loops.
   */
  private reschedule(): void {
    const { apiserver, images } = this.sandbox;
    const old = this.workerPods()[0];
    if (!old) return;
    const containers = (old.spec?.containers ?? []) as Array<{ name: string; image: string }>;
    const name = `${old.metadata.name.replace(/-[^-]+$/, '')}-${randomSuffix()}`;
    const at = () => timestamp();
    apiserver.remove('Pod', WORKER_NAMESPACE, old.metadata.name);
    apiserver.upsert({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: WORKER_NAMESPACE, labels: { ...old.metadata.labels }, annotations: { ...old.metadata.annotations }, ...(old.metadata.ownerReferences ? { ownerReferences: old.metadata.ownerReferences } : {}) },
      spec: { ...old.spec },
      status: startingPodStatus(containers, at()),
    });
    const deployment = apiserver.get('Deployment', WORKER_NAMESPACE, WORKER);
    if (deployment) {
      // What the deployment controller says once the only replica is gone: nothing available.
      deployment.status = { ...deployment.status, readyReplicas: 0, availableReplicas: 0, unavailableReplicas: 1, conditions: (deployment.status?.conditions ?? []).map((condition: { type: string }) => (condition.type === 'Available' ? { ...condition, status: 'False', reason: 'MinimumReplicasUnavailable', message: 'Deployment does not have minimum availability.' } : condition)) };
      apiserver.upsert(deployment);
    }
    const imageId = `${imageWithoutTag(images.workerRef)}@${images.bad.digest}`;
    this.later(this.timings.startMs, () => {
      if (this.stopped || !apiserver.get('Pod', WORKER_NAMESPACE, name)) return;
      apiserver.setPodStatus(WORKER_NAMESPACE, name, crashLoopPodStatus(containers, imageId, at(), 1, name));
    });
  }

  /** The world follows its pods: ConfigHub's view of the worker, the story's next steps. */
  tick(): void {
    if (this.stopped) return;
    const pods = this.workerPods();
    const condition = workerCondition(pods);
    if (condition !== this.condition) {
      this.condition = condition;
      if (condition === 'Ready') this.sandbox.confighub.setCondition(SPACE, WORKER, 'Ready', { lastSeenAt: new Date().toISOString(), lastMessage: '' });
      else this.sandbox.confighub.setCondition(SPACE, WORKER, 'Disconnected', { lastSeenAt: NEVER_SEEN, lastMessage: '' });
      if (this.phase === 'broken' && condition === 'Disconnected') {
        this.say(`ConfigHub now lists ${WORKER} as Disconnected, last seen 0001-01-01 — the crash loop never connects. When the incident shows up, type: /worker pin ${WORKER}   (then y)`);
      }
    }
    if (this.phase === 'broken' && pods.length > 0 && pods.every(isPodReady)) {
      this.phase = 'recovered';
      const digests = [...new Set(pods.map((pod) => runningDigest(pod, 'worker')).filter(Boolean))].map((digest) => shortDigest(digest!));
      this.say(`${WORKER} runs ${digests.join(', ')} and is Ready again; ConfigHub sees it. Its pending apply of relay goes out in ${Math.round(this.timings.applyAfterRecoveryMs / 1000)}s. Try /incident list.`);
      this.later(this.timings.applyAfterRecoveryMs, () => this.applyRelay());
    }
    if (this.phase === 'applying') {
      const relayPods = this.sandbox.apiserver.list('Pod', RELAY.namespace).filter((pod) => pod.metadata.labels?.app === 'relay');
      if (relayPods.length > 0 && relayPods.every((pod) => isPodReady(pod) && runningDigest(pod, 'relay') === this.sandbox.images.relayNew.digest)) {
        this.phase = 'done';
        this.sandbox.relay.setVersion(RELAY.header, '0.2.0');
        this.say(`${RELAY.endpoint} now answers ${RELAY.header}: 0.2.0. The stale-deploy incident resolves after two good probes. That's the whole story — keep typing commands, or "quit".`);
      }
    }
  }

  /** The apply that was stuck in seed 004 finally happens: the DaemonSet gets the new image. */
  applyRelay(): void {
    if (this.stopped || this.phase !== 'recovered') return;
    const { apiserver, images } = this.sandbox;
    const daemonSet = apiserver.get('DaemonSet', RELAY.namespace, RELAY.name);
    if (!daemonSet) return;
    this.phase = 'applying';
    for (const container of daemonSet.spec.template.spec.containers) if (container.name === 'relay') container.image = images.relayNewRef;
    apiserver.upsert(daemonSet);
    this.say(`the relay manifests finally apply: DaemonSet relay/relay → ${images.relayNewRef.split('/').slice(1).join('/')} (0.2.0).`);
  }

  private remind(): void {
    if (this.stopped || this.phase !== 'broken') return;
    this.say(`${WORKER} is still down. Pin it to its last good digest: /worker pin ${WORKER}   — or look first: /version status, /incident list`);
  }

  private workerPods(): KubeObject[] {
    return this.sandbox.apiserver.list('Pod', WORKER_NAMESPACE).filter((pod) => pod.metadata.labels?.app === WORKER);
  }

  private later(ms: number, fn: () => void): void {
    this.handles.push(this.timers.setTimeout(fn, ms));
  }

  private say(line: string): void {
    this.options.say(`[demo] ${line}`);
  }
}
