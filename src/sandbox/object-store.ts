/**
 * The fake apiserver's storage: objects by kind/namespace/name, one global resourceVersion that
 * every write increments, and the history of writes that watches replay from a resourceVersion.
 * In memory, no I/O; whoever wants to hear of writes subscribes with `onWrite`.
 */
import { createHash } from 'node:crypto';
import { apiVersionOf, clone, isNamespaced, resourceOf, type Json, type Kind, type KubeObject } from './kube-objects.js';

export interface HistoryEntry {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: KubeObject;
  previous?: KubeObject;
}

const nameAlphabet = 'bcdfghjklmnpqrstvwxz2456789';

/** Ten characters from the alphabet Kubernetes uses for generated names, derived from `template`. */
export function templateHash(template: Json): string {
  const h = createHash('sha256').update(JSON.stringify(template ?? {})).digest();
  let s = '';
  for (let i = 0; i < 10; i++) s += nameAlphabet[h[i]! % nameAlphabet.length];
  return s;
}

/** A timestamp as the apiserver writes metav1.Time: whole seconds. */
export const timestamp = (at: Date = new Date()): string => at.toISOString().replace(/\.\d{3}Z$/, 'Z');

export class ObjectStore {
  private readonly objects = new Map<string, KubeObject>();
  readonly history: HistoryEntry[] = [];
  /** The current resourceVersion (the last write's). */
  rv = 1;
  /** Watches from a resourceVersion below this get 410 Gone (history compacted). */
  compactedBelow = 0;
  private readonly listeners: Array<(entry: HistoryEntry) => void> = [];
  private nameCounter = 0;
  private uidCounter = 0;

  /** `seed` makes uids differ between two fake apiservers in one process. */
  constructor(private readonly seed: string) {}

  static key(kind: string, ns: string | undefined, name: string): string {
    return `${kind}/${isNamespaced(kind) ? (ns ?? '') : ''}/${name}`;
  }

  onWrite(listener: (entry: HistoryEntry) => void): void {
    this.listeners.push(listener);
  }

  /** The stored object itself (callers that change it must `write` it back); undefined if absent. */
  peek(kind: Kind, ns: string | undefined, name: string): KubeObject | undefined {
    return this.objects.get(ObjectStore.key(kind, ns, name));
  }

  has(kind: Kind, ns: string | undefined, name: string): boolean {
    return this.objects.has(ObjectStore.key(kind, ns, name));
  }

  /** Every stored object (the live ones: read, don't change). */
  all(): KubeObject[] {
    return [...this.objects.values()];
  }

  get(kind: Kind, ns: string | undefined, name: string): KubeObject | undefined {
    return clone(this.peek(kind, ns, name));
  }

  list(kind: Kind, ns?: string): KubeObject[] {
    return this.all()
      .filter((o) => o.kind === kind && (!ns || o.metadata.namespace === ns))
      .map(clone);
  }

  newUid(): string {
    this.uidCounter++;
    const hex = createHash('sha256').update(`uid-${this.uidCounter}-${this.seed}`).digest('hex');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  }

  /** A random-looking generated-name suffix (deterministic per store). */
  suffix(length: number): string {
    this.nameCounter++;
    const h = createHash('sha256').update(`name-${this.nameCounter}`).digest();
    let s = '';
    for (let i = 0; i < length; i++) s += nameAlphabet[h[i]! % nameAlphabet.length];
    return s;
  }

  /** How many generated names so far (pod IPs are derived from it). */
  get namesGenerated(): number {
    return this.nameCounter;
  }

  /** Records a write under the next resourceVersion and tells the listeners; returns a copy. */
  write(type: HistoryEntry['type'], obj: KubeObject, previous?: KubeObject): KubeObject {
    this.rv++;
    obj.metadata.resourceVersion = String(this.rv);
    const k = ObjectStore.key(obj.kind, obj.metadata.namespace, obj.metadata.name);
    if (type === 'DELETED') this.objects.delete(k);
    else this.objects.set(k, obj);
    const entry: HistoryEntry = { rv: this.rv, type, object: clone(obj), previous: previous && clone(previous) };
    this.history.push(entry);
    for (const listener of this.listeners) listener(entry);
    return clone(obj);
  }

  /** Moves the resourceVersion past everything written so far and forgets that history for watches. */
  compact(): void {
    this.rv++; // as if an unrelated write happened: the current resourceVersion moves past the compaction point
    this.compactedBelow = this.rv;
  }

  private ensureNamespace(ns: string | undefined): void {
    if (!ns || this.has('Namespace', undefined, ns)) return;
    this.write('ADDED', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: ns, uid: this.newUid(), creationTimestamp: timestamp(), labels: { 'kubernetes.io/metadata.name': ns } },
      spec: { finalizers: ['kubernetes'] },
      status: { phase: 'Active' },
    });
  }

  /**
   * Creates or replaces `obj` as the apiserver would: apiVersion and namespace normalised, the
   * namespace created on first use, uid and creationTimestamp kept, `generation` bumped when the
   * spec of an apps/v1 workload changes.
   */
  store(obj: KubeObject): KubeObject {
    const info = resourceOf(obj.kind);
    const next = clone(obj);
    next.apiVersion = apiVersionOf(info);
    if (!info.namespaced) delete next.metadata.namespace;
    else next.metadata.namespace ??= 'default';
    this.ensureNamespace(next.metadata.namespace);
    const previous = this.peek(info.kind, next.metadata.namespace, next.metadata.name);
    next.metadata.uid = previous?.metadata.uid ?? next.metadata.uid ?? this.newUid();
    next.metadata.creationTimestamp = previous?.metadata.creationTimestamp ?? next.metadata.creationTimestamp ?? timestamp();
    if (info.group === 'apps' && info.kind !== 'ReplicaSet') {
      const specChanged = JSON.stringify(previous?.spec) !== JSON.stringify(next.spec);
      next.metadata.generation = previous ? (previous.metadata.generation ?? 1) + (specChanged ? 1 : 0) : (next.metadata.generation ?? 1);
    }
    return this.write(previous ? 'MODIFIED' : 'ADDED', next, previous);
  }

  /** Deletes the object (no cascade); false when there was none. */
  delete(kind: Kind, ns: string | undefined, name: string): KubeObject | undefined {
    const existing = this.peek(kind, ns, name);
    if (!existing) return undefined;
    return this.write('DELETED', clone(existing));
  }
}
