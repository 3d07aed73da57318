/**
 * One configured Kubernetes cluster, through @kubernetes/client-node 1.4: reads, the three
 * changes Driftwatch makes (image pin, rollout restart, rollout undo), pod logs, and a watch that
 * keeps itself alive. client-node's own informer stops on the first error and its watch has no
 * client-side timeout (kubernetes-client/javascript#364, #1933), so `watchResource` runs its own
 * list-then-watch loop on client-node's `Watch`: capped exponential backoff on errors, a relist on
 * 410 Gone, and a stall detector that replaces a watch that has gone silent.
 */
import {
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  Observable,
  PatchStrategy,
  VersionApi,
  Watch,
  setHeaderOptions,
  type ConfigurationOptions,
  type V1DaemonSet,
  type V1Deployment,
  type V1Pod,
  type V1StatefulSet,
  type VersionInfo,
} from '@kubernetes/client-node';
import { formatMs } from '../domain/duration.js';
import { logger, type Logger } from '../log.js';
import { classifyKubeError, KubeError, type KubeErrorKind } from './kube-errors.js';
import { backoffDelay, parseResourcePath, selectorString, where, type ResourceTarget, type WatchedObject, type WatchEventType, type WatchHandle, type WatchHandlers, type WatchOptions, type WatchState } from './kube-watch.js';

export { classifyKubeError, KubeError, type KubeErrorKind } from './kube-errors.js';
export { backoffDelay, parseResourcePath, selectorString, type Watched, type WatchedObject, type WatchedPod, type WatchedWorkload, type WatchEventType, type WatchHandle, type WatchHandlers, type WatchOptions, type WatchState, type Wire } from './kube-watch.js';

export type WorkloadKind = 'Deployment' | 'DaemonSet' | 'StatefulSet';

/** Objects per LIST page (kubectl and client-go informers use 500). */
const LIST_PAGE = 500;
export type Workload = V1Deployment | V1DaemonSet | V1StatefulSet;
export type WorkloadOf<K extends WorkloadKind> = K extends 'Deployment' ? V1Deployment : K extends 'DaemonSet' ? V1DaemonSet : V1StatefulSet;

export interface KubeClusterConfig {
  name: string;
  /** kubeconfig context; none = in-cluster service account. */
  context?: string;
  /** kubeconfig file; else KUBECONFIG or ~/.kube/config. */
  kubeconfigPath?: string;
  /** Deadline for each non-watch request. Default 30 s. */
  requestTimeoutMs?: number;
}


/** Typed client-node models → the plain JSON the apiserver sent (Dates back to strings). */
const toPlain = <T>(value: unknown): T => JSON.parse(JSON.stringify(value)) as T;

const objectKey = (obj: WatchedObject) => `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;

/**
 * What a watch remembers of each object between LISTs: enough to tell a changed object
 * (resourceVersion) and to report a vanished one as DELETED (name, namespace, labels and owners,
 * which is all a deletion is judged by). Never the whole object: the handler keeps what it needs,
 * and 20000 full pods held here as well would double the watcher's memory.
 */
function rememberOf(obj: WatchedObject): WatchedObject {
  const { name, namespace, resourceVersion, labels, ownerReferences } = obj.metadata;
  const metadata = { name, ...(namespace !== undefined ? { namespace } : {}), ...(resourceVersion !== undefined ? { resourceVersion } : {}), ...(labels ? { labels } : {}), ...(ownerReferences ? { ownerReferences } : {}) };
  return { apiVersion: obj.apiVersion, kind: obj.kind, metadata } as WatchedObject;
}

function isWatchedObject(value: unknown): value is WatchedObject {
  const meta = (value as { metadata?: { name?: unknown } } | null)?.metadata;
  return typeof value === 'object' && value !== null && typeof meta?.name === 'string';
}

type WatchOutcome =
  | { kind: 'ended'; events: number; established: boolean; lastedMs: number }
  | { kind: 'expired'; events: number; established: boolean; lastedMs: number }
  | { kind: 'idle'; events: number; established: boolean; lastedMs: number }
  | { kind: 'corrupt'; events: number; established: boolean; lastedMs: number; detail: string }
  | { kind: 'error'; events: number; established: boolean; lastedMs: number; error: unknown };

/* ------------------------------------------------------------------------------------------ */
/* The cluster                                                                                */

export class KubeCluster {
  readonly name: string;
  readonly kubeConfig: KubeConfig;
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  private readonly version: VersionApi;
  private readonly requestTimeoutMs: number;
  private readonly log: Logger;

  constructor(config: KubeClusterConfig) {
    this.name = config.name;
    this.requestTimeoutMs = config.requestTimeoutMs ?? 30_000;
    this.log = logger().child({ component: 'kube', cluster: config.name });
    const kc = new KubeConfig();
    if (config.context === undefined && !process.env.KUBERNETES_SERVICE_HOST) {
      throw new KubeError(config.name, 'unknown', undefined, `cluster ${config.name}: no context configured and not running in a cluster (KUBERNETES_SERVICE_HOST is unset)`);
    }
    try {
      if (config.context === undefined) kc.loadFromCluster();
      else if (config.kubeconfigPath) kc.loadFromFile(config.kubeconfigPath);
      else kc.loadFromDefault();
    } catch (err) {
      throw new KubeError(config.name, 'unknown', undefined, `cluster ${config.name}: cannot load kubeconfig${config.kubeconfigPath ? ` ${config.kubeconfigPath}` : ''}: ${(err as Error).message}`, { cause: err });
    }
    if (config.context !== undefined) {
      if (!kc.getContextObject(config.context)) {
        const source = config.kubeconfigPath ?? process.env.KUBECONFIG ?? '~/.kube/config';
        throw new KubeError(config.name, 'not-found', undefined, `cluster ${config.name}: context "${config.context}" not found in kubeconfig ${source}`);
      }
      kc.setCurrentContext(config.context);
    }
    if (!kc.getCurrentCluster()) {
      throw new KubeError(config.name, 'not-found', undefined, `cluster ${config.name}: the kubeconfig's current context names no cluster`);
    }
    this.kubeConfig = kc;
    this.core = kc.makeApiClient(CoreV1Api);
    this.apps = kc.makeApiClient(AppsV1Api);
    this.version = kc.makeApiClient(VersionApi);
  }

  /** The apiserver URL this cluster talks to. */
  get server(): string {
    return this.kubeConfig.getCurrentCluster()?.server ?? '';
  }

  /** Wraps anything thrown into a KubeError that says which cluster, what we were doing, and why. */
  error(err: unknown, doing: string): KubeError {
    if (err instanceof KubeError) return err;
    const { kind, status, detail } = classifyKubeError(err);
    const what = status !== undefined ? String(status) : kind === 'unreachable' ? 'unreachable' : 'error';
    return new KubeError(this.name, kind, status, `cluster ${this.name}: ${what} ${doing}: ${detail}`, { cause: err });
  }

  private async call<T>(doing: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.error(err, doing);
    }
  }

  /** Per-request options: a deadline, since client-node sets none. */
  private options(): ConfigurationOptions {
    const timeoutMs = this.requestTimeoutMs;
    return {
      middleware: [
        {
          pre: (ctx) => {
            ctx.setSignal(AbortSignal.timeout(timeoutMs));
            return new Observable(Promise.resolve(ctx));
          },
          post: (ctx) => new Observable(Promise.resolve(ctx)),
        },
      ],
      middlewareMergeStrategy: 'append',
    };
  }

  async ping(): Promise<VersionInfo> {
    return this.call('reading /version', () => this.version.getCode(undefined, this.options()));
  }

  async listPods(namespace: string, labelSelector?: string): Promise<V1Pod[]> {
    const list = await this.call(`listing pods in ${namespace}`, () =>
      this.core.listNamespacedPod({ namespace, labelSelector }, this.options()),
    );
    return list.items;
  }

  /** The workload, or undefined when it does not exist. */
  async getWorkload<K extends WorkloadKind>(kind: K, namespace: string, name: string): Promise<WorkloadOf<K> | undefined> {
    const doing = `reading ${kind.toLowerCase()} ${namespace}/${name}`;
    try {
      const params = { namespace, name };
      const o = this.options();
      const found: Workload =
        kind === 'Deployment'
          ? await this.apps.readNamespacedDeployment(params, o)
          : kind === 'DaemonSet'
            ? await this.apps.readNamespacedDaemonSet(params, o)
            : await this.apps.readNamespacedStatefulSet(params, o);
      return found as WorkloadOf<K>;
    } catch (err) {
      const e = this.error(err, doing);
      if (e.kind === 'not-found') return undefined;
      throw e;
    }
  }

  /** Workloads of that kind and name in any namespace (for "it landed in default instead"). */
  async findWorkloadElsewhere<K extends WorkloadKind>(kind: K, name: string): Promise<Array<WorkloadOf<K>>> {
    const fieldSelector = `metadata.name=${name}`;
    const list = await this.call(`listing ${kind.toLowerCase()}s named ${name} in all namespaces`, async () => {
      if (kind === 'Deployment') return this.apps.listDeploymentForAllNamespaces({ fieldSelector }, this.options());
      if (kind === 'DaemonSet') return this.apps.listDaemonSetForAllNamespaces({ fieldSelector }, this.options());
      return this.apps.listStatefulSetForAllNamespaces({ fieldSelector }, this.options());
    });
    return list.items as Array<WorkloadOf<K>>;
  }

  async podLogs(namespace: string, pod: string, container: string, opts: { previous?: boolean; tailLines?: number } = {}): Promise<string> {
    return this.call(`reading ${opts.previous ? 'previous ' : ''}logs of ${namespace}/${pod} container ${container}`, () =>
      this.core.readNamespacedPodLog(
        { namespace, name: pod, container, previous: opts.previous, tailLines: opts.tailLines },
        this.options(),
      ),
    );
  }

  private async patchWorkload<K extends WorkloadKind>(kind: K, namespace: string, name: string, body: object, strategy: PatchStrategy, doing: string): Promise<WorkloadOf<K>> {
    const options = setHeaderOptions('Content-Type', strategy, this.options());
    const patched = await this.call<Workload>(doing, async () => {
      const params = { namespace, name, body };
      if (kind === 'Deployment') return this.apps.patchNamespacedDeployment(params, options);
      if (kind === 'DaemonSet') return this.apps.patchNamespacedDaemonSet(params, options);
      return this.apps.patchNamespacedStatefulSet(params, options);
    });
    return patched as WorkloadOf<K>;
  }

  /**
   * Sets one container's image with a strategic merge patch (containers merge by name, so the
   * other containers and every other field of this one stay as they are), plus annotations on
   * the workload itself (who pinned, why).
   */
  async patchContainerImage<K extends WorkloadKind>(kind: K, namespace: string, name: string, container: string, image: string, annotations?: Record<string, string>): Promise<WorkloadOf<K>> {
    const body: Record<string, unknown> = {
      ...(annotations && Object.keys(annotations).length > 0 ? { metadata: { annotations } } : {}),
      spec: { template: { spec: { containers: [{ name: container, image }] } } },
    };
    return this.patchWorkload(kind, namespace, name, body, PatchStrategy.StrategicMergePatch, `patching image of ${kind.toLowerCase()} ${namespace}/${name} container ${container}`);
  }

  /** What `kubectl rollout restart` does: stamp the pod template so every pod is replaced. */
  async restartRollout<K extends WorkloadKind>(kind: K, namespace: string, name: string, at: Date): Promise<WorkloadOf<K>> {
    const restartedAt = at.toISOString().replace(/\.\d{3}Z$/, 'Z');
    const body = { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': restartedAt } } } } };
    return this.patchWorkload(kind, namespace, name, body, PatchStrategy.StrategicMergePatch, `restarting ${kind.toLowerCase()} ${namespace}/${name}`);
  }

  /**
   * What `kubectl rollout undo` does for a Deployment: find the ReplicaSet of the revision
   * before the current one and put its pod template back (the controller then gives that
   * ReplicaSet a new revision number).
   */
  async undoDeployment(namespace: string, name: string): Promise<{ fromRevision: number; toRevision: number; deployment: V1Deployment }> {
    const doing = `undoing deployment ${namespace}/${name}`;
    const deployment = await this.getWorkload('Deployment', namespace, name);
    if (!deployment) throw new KubeError(this.name, 'not-found', 404, `cluster ${this.name}: deployment ${namespace}/${name} not found`);
    const revisionOf = (annotations: Record<string, string> | undefined) => Number(annotations?.['deployment.kubernetes.io/revision'] ?? 0);
    const current = revisionOf(deployment.metadata?.annotations);
    const sets = await this.call(`listing replicasets of deployment ${namespace}/${name}`, () =>
      this.apps.listNamespacedReplicaSet({ namespace, labelSelector: selectorString(deployment.spec?.selector) || undefined }, this.options()),
    );
    const owned = sets.items.filter((rs) => rs.metadata?.ownerReferences?.some((o) => o.uid === deployment.metadata?.uid));
    const previous = owned
      .filter((rs) => revisionOf(rs.metadata?.annotations) > 0 && revisionOf(rs.metadata?.annotations) < current)
      .sort((a, b) => revisionOf(b.metadata?.annotations) - revisionOf(a.metadata?.annotations))[0];
    if (!previous?.spec?.template) {
      throw new KubeError(this.name, 'not-found', undefined, `cluster ${this.name}: no previous revision of deployment ${namespace}/${name} to undo to (current revision ${current})`);
    }
    const template = toPlain<{ metadata?: { labels?: Record<string, string> } }>(previous.spec.template);
    if (template.metadata?.labels) delete template.metadata.labels['pod-template-hash'];
    // The test op makes the apiserver refuse (422) if the Deployment changed since we read it.
    const patch = [
      { op: 'test', path: '/metadata/resourceVersion', value: deployment.metadata?.resourceVersion },
      { op: 'replace', path: '/spec/template', value: template },
    ];
    const patched = await this.patchWorkload('Deployment', namespace, name, patch, PatchStrategy.JsonPatch, doing);
    return { fromRevision: current, toRevision: revisionOf(previous.metadata?.annotations), deployment: patched };
  }

  /* ---------------- the watch ---------------- */

  /**
   * One LIST of `target` in pages of LIST_PAGE, as plain JSON objects with kind and apiVersion
   * filled in, each page handed to `onPage` before the next is asked for: a namespace with 20000
   * pods in one answer costs a 50 MB body and its parse at once, and the process keeps that peak
   * as RSS long after the objects are smaller; holding every page until the last costs the same.
   * The list's resourceVersion, or undefined when `onPage` said to stop.
   */
  private async listPages(target: ResourceTarget, labelSelector: string | undefined, fieldSelector: string | undefined, onPage: (items: WatchedObject[]) => boolean): Promise<string | undefined> {
    let next: string | undefined;
    for (;;) {
      const page = await this.listPage(target, labelSelector, fieldSelector, next);
      if (!onPage(page.items)) return undefined;
      if (!page.next) return page.resourceVersion;
      next = page.next;
    }
  }

  private async listPage(target: ResourceTarget, labelSelector: string | undefined, fieldSelector: string | undefined, next: string | undefined): Promise<{ resourceVersion: string; items: WatchedObject[]; next?: string }> {
    const ns = target.namespace;
    const p = { labelSelector, fieldSelector, limit: LIST_PAGE, ...(next ? { _continue: next } : {}) };
    const o = this.options();
    const list = await this.call(`listing ${target.plural} ${where(ns)}`, async () => {
      switch (target.plural) {
        case 'pods':
          return ns ? this.core.listNamespacedPod({ ...p, namespace: ns }, o) : this.core.listPodForAllNamespaces(p, o);
        case 'deployments':
          return ns ? this.apps.listNamespacedDeployment({ ...p, namespace: ns }, o) : this.apps.listDeploymentForAllNamespaces(p, o);
        case 'daemonsets':
          return ns ? this.apps.listNamespacedDaemonSet({ ...p, namespace: ns }, o) : this.apps.listDaemonSetForAllNamespaces(p, o);
        case 'statefulsets':
          return ns ? this.apps.listNamespacedStatefulSet({ ...p, namespace: ns }, o) : this.apps.listStatefulSetForAllNamespaces(p, o);
        case 'replicasets':
          return ns ? this.apps.listNamespacedReplicaSet({ ...p, namespace: ns }, o) : this.apps.listReplicaSetForAllNamespaces(p, o);
      }
    });
    const items = (list.items as unknown[]).map((item) => {
      const obj = toPlain<WatchedObject>(item);
      obj.kind ??= target.kind;
      obj.apiVersion ??= target.apiVersion;
      return obj;
    });
    return { resourceVersion: list.metadata?.resourceVersion ?? '', items, ...(list.metadata?._continue ? { next: list.metadata._continue } : {}) };
  }

  /**
   * One WATCH request from `resourceVersion`, until it ends, fails, expires, goes silent for
   * `idleMs`, or carries garbage. A watch abandoned before its headers arrived is cut by
   * destroying its own agent, since client-node hands back the abort controller only then.
   */
  private watchOnce(
    path: string,
    query: Record<string, string>,
    idleMs: number,
    onOpen: () => void,
    onEvent: (type: string, obj: unknown) => 'ok' | 'corrupt',
    register: (cancel: () => void) => void,
  ): Promise<WatchOutcome> {
    return new Promise<WatchOutcome>((resolve) => {
      const started = Date.now();
      let settled = false;
      let established = false;
      let events = 0;
      let controller: AbortController | undefined;
      let agent: { destroy?: () => void } | undefined;
      let idleTimer: NodeJS.Timeout | undefined;
      const finish = (outcome: { kind: 'ended' | 'expired' | 'idle' } | { kind: 'corrupt'; detail: string } | { kind: 'error'; error: unknown }) => {
        if (settled) return;
        settled = true;
        clearTimeout(idleTimer);
        controller?.abort();
        agent?.destroy?.();
        resolve({ ...outcome, events, established, lastedMs: Date.now() - started } as WatchOutcome);
      };
      const armIdle = () => {
        clearTimeout(idleTimer);
        idleTimer = setTimeout(() => finish({ kind: 'idle' }), idleMs);
      };
      register(() => finish({ kind: 'ended' }));
      armIdle();
      const kc = this.kubeConfig;
      // Watch asks its config for fetch options once per request; keep the agent it gets.
      const capturingConfig = {
        getCurrentCluster: () => kc.getCurrentCluster(),
        applyToFetchOptions: async (opts: object) => {
          const init = await kc.applyToFetchOptions(opts);
          agent = init.agent as typeof agent;
          if (settled) agent?.destroy?.();
          return init;
        },
      } as unknown as KubeConfig;
      new Watch(capturingConfig)
        .watch(
          path,
          query,
          (type: string, obj: unknown) => {
            if (settled) return;
            armIdle();
            if (type === 'ERROR') {
              const code = (obj as { code?: unknown } | null)?.code;
              if (code === 410) finish({ kind: 'expired' });
              else finish({ kind: 'error', error: obj });
              return;
            }
            events++; // an ERROR is not a sign of health, so it is not counted
            if (onEvent(type, obj) === 'corrupt') finish({ kind: 'corrupt', detail: `unexpected watch event ${JSON.stringify(type)?.slice(0, 40)}` });
          },
          (err: unknown) => {
            if (err === null || err === undefined) finish({ kind: 'ended' });
            else if ((err as { statusCode?: unknown }).statusCode === 410) finish({ kind: 'expired' });
            else finish({ kind: 'error', error: err });
          },
        )
        .then((c) => {
          controller = c;
          if (settled) {
            c.abort();
            return;
          }
          established = true;
          onOpen();
        })
        .catch((err: unknown) => finish({ kind: 'error', error: err }));
    });
  }

  /**
   * LIST then WATCH `path` (e.g. `/api/v1/namespaces/confighub/pods`) for as long as the handle
   * is not stopped. Every object the LIST returns arrives as ADDED (or MODIFIED/DELETED against
   * what an earlier LIST said), then the WATCH's events follow.
   */
  watchResource<T extends WatchedObject = WatchedObject>(path: string, labelSelector: string | undefined, handlers: WatchHandlers<T>, opts: WatchOptions = {}): WatchHandle {
    const target = parseResourcePath(path);
    const what = `${target.plural} ${where(target.namespace)}`;
    const idleMs = opts.idleTimeoutMs ?? 300_000;
    const minMs = opts.backoffMinMs ?? 1_000;
    const maxMs = opts.backoffMaxMs ?? 60_000;
    const log = this.log.child({ watch: path, ...(labelSelector ? { labelSelector } : {}) });
    const known = new Map<string, WatchedObject>();
    let resourceVersion = '';
    let stopped = false;
    let state: WatchState | undefined;
    let stateErrorKind: KubeErrorKind | undefined;
    let restarts = 0;
    let cancelCurrent: (() => void) | undefined;

    const setState = (next: WatchState, error?: KubeError) => {
      if (state === 'unreachable' && next === 'listing') return; // stays unreachable until a watch is open
      if (state === next && stateErrorKind === error?.kind) return;
      state = next;
      stateErrorKind = error?.kind;
      if (error) log.warn({ state: next, err: error.message }, `watch of ${what}: ${next}`);
      else log.debug({ state: next }, `watch of ${what}: ${next}`);
      try {
        handlers.onState(next, error);
      } catch (err) {
        log.error({ err }, 'watch state handler threw');
      }
    };
    const emit = (type: WatchEventType, obj: WatchedObject) => {
      try {
        // The path chose the resource, so every object it delivers is a T.
        handlers.onEvent(type, obj as T);
      } catch (err) {
        log.error({ err }, 'watch event handler threw');
      }
    };
    /** One page of a LIST: what is new is ADDED, what changed MODIFIED; `seen` collects what the LIST holds. */
    const applyPage = (items: WatchedObject[], seen: Set<string>) => {
      for (const obj of items) {
        const k = objectKey(obj);
        seen.add(k);
        const before = known.get(k);
        known.set(k, rememberOf(obj));
        if (!before) emit('ADDED', obj);
        else if (before.metadata.resourceVersion !== obj.metadata.resourceVersion) emit('MODIFIED', obj);
      }
    };
    /** The whole LIST is in: what it no longer holds was DELETED meanwhile. */
    const sweep = (seen: Set<string>) => {
      for (const [k, obj] of known) {
        if (!seen.has(k)) {
          known.delete(k);
          emit('DELETED', obj);
        }
      }
    };
    const onEvent = (type: string, obj: unknown): 'ok' | 'corrupt' => {
      if (type === 'BOOKMARK') {
        const rv = (obj as { metadata?: { resourceVersion?: unknown } } | null)?.metadata?.resourceVersion;
        if (typeof rv === 'string' && rv) resourceVersion = rv;
        return 'ok';
      }
      if ((type !== 'ADDED' && type !== 'MODIFIED' && type !== 'DELETED') || !isWatchedObject(obj)) return 'corrupt';
      obj.kind ??= target.kind;
      obj.apiVersion ??= target.apiVersion;
      if (obj.metadata.resourceVersion) resourceVersion = obj.metadata.resourceVersion;
      if (type === 'DELETED') known.delete(objectKey(obj));
      else known.set(objectKey(obj), rememberOf(obj));
      emit(type, obj);
      return 'ok';
    };

    let wake: (() => void) | undefined;
    const sleep = (ms: number) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });

    /**
     * LIST and hand every object on, page by page, so a page's objects are garbage once handed
     * on (the handlers keep what they need of them). Its own frame: a `const list` in `run`
     * stayed alive across the WATCH that followed (minutes), holding every listed object, whole.
     */
    const relist = async (): Promise<boolean> => {
      const seen = new Set<string>();
      const listed = await this.listPages(target, labelSelector, opts.fieldSelector, (items) => !stopped && (applyPage(items, seen), true));
      if (listed === undefined || stopped) return false;
      sweep(seen);
      resourceVersion = listed;
      return true;
    };

    const run = async () => {
      let failures = 0;
      while (!stopped) {
        let failure: KubeError | undefined;
        let pause = false;
        try {
          if (!resourceVersion) {
            setState('listing');
            if (!(await relist())) return;
          }
          const query: Record<string, string> = { resourceVersion, allowWatchBookmarks: 'true' };
          if (labelSelector) query.labelSelector = labelSelector;
          if (opts.fieldSelector) query.fieldSelector = opts.fieldSelector;
          // Ask the server to end quiet watches cleanly before our stall detector would fire.
          const serverTimeout = Math.floor((idleMs * 0.8) / 1000);
          if (serverTimeout >= 1) query.timeoutSeconds = String(serverTimeout);
          const outcome = await this.watchOnce(
            path,
            query,
            idleMs,
            () => setState('watching'),
            onEvent,
            (cancel) => (cancelCurrent = cancel),
          );
          cancelCurrent = undefined;
          if (stopped) return;
          const healthy = outcome.established && (outcome.events > 0 || outcome.lastedMs >= 1_000);
          if (healthy) failures = 0;
          switch (outcome.kind) {
            case 'ended':
            case 'expired':
              if (outcome.kind === 'expired') resourceVersion = ''; // 410 Gone: relist
              // Ending or expiring is normal; doing it again and again at once is not: back off quietly.
              if (!healthy) {
                failures++;
                pause = true;
              }
              break;
            case 'idle':
              failure = new KubeError(this.name, 'stalled', undefined, `cluster ${this.name}: watch of ${what} silent for ${formatMs(idleMs)}; replacing it`);
              break;
            case 'corrupt':
              resourceVersion = ''; // the stream can't be trusted: start over from a list
              failure = new KubeError(this.name, 'protocol', undefined, `cluster ${this.name}: watch of ${what} sent garbage (${outcome.detail}); relisting`);
              break;
            case 'error': {
              const e = this.error(outcome.error, `watching ${what}`);
              // A stream that was open and broke is a restart; failing to connect is unreachable.
              failure =
                outcome.established && e.kind === 'unreachable'
                  ? new KubeError(this.name, 'unknown', undefined, `cluster ${this.name}: watch of ${what} broke: ${classifyKubeError(outcome.error).detail}`, { cause: outcome.error })
                  : e;
              if (e.kind === 'gone') resourceVersion = '';
            }
          }
        } catch (err) {
          failure = this.error(err, `listing ${what}`);
        }
        if (stopped) return;
        if (failure) {
          failures++;
          pause = true;
          setState(failure.kind === 'unreachable' ? 'unreachable' : 'restarting', failure);
        }
        if (pause) {
          restarts++;
          await sleep(backoffDelay(failures, minMs, maxMs));
        }
      }
    };
    void run();

    return {
      stop: () => {
        stopped = true;
        cancelCurrent?.();
        wake?.();
      },
      state: () => state,
      restarts: () => restarts,
    };
  }
}
