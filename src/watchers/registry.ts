/**
 * The registry watcher: HEADs every watched tag, records where it points, and reports a move as
 * a `tag_moved` notice (quiet when only platforms we don't run changed), what the move will hit
 * (the workloads using the tag, their pull policy and running digests), the version label of
 * images endpoints take their expected version from, and whether the registry answers at all.
 * It decides nothing about alerting: failed checks go to the engine, which applies hysteresis.
 */
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { RunningContainer } from '../domain/model.js';
import { describeSubject, isSubject, subjectName, subjectOf } from '../domain/subjects.js';
import { plural } from '../domain/text.js';
import { canonicalImage, imageWithoutTag, parseImageRef, shortDigest, type ImageRef } from '../domain/image-ref.js';
import { RegistryError, type RegistryClient, type TagState } from '../clients/registry.js';
import { Scheduler } from './scheduler.js';
import { Limiter } from '../clients/limiter.js';
import type { ObservationSink, WatchLoop, Watcher } from './types.js';

/** What the Kubernetes watcher records under `'spec'` for each worker/workload subject. */
export interface WorkloadSpec {
  containers: Array<{ name: string; image: string; imagePullPolicy?: string }>;
  /** The tag a Driftwatch pin replaced (the workload's `driftwatch.io/pinned-from` annotation). */
  pinnedFrom?: string;
}

/** One watched tag: the ref as written (config or pod spec), how often, which platforms matter. */
export interface WatchedImage {
  ref: string;
  every: number;
  platforms: string[];
  /** An endpoint takes its expected version from this image's version label. */
  versioned: boolean;
  source: 'images' | 'expectFrom' | 'spec';
}

/** What `'version'` holds for an `expectFrom.image` ref; `version` is null when the image has no label. */
export interface ImageVersionState {
  version: string | null;
  digest: string;
  at: number;
}

/** What `'digest'` holds for every watched image: where the tag points and since when. */
export interface ImageDigestState {
  digest: string;
  mediaType: string;
  platforms: Record<string, string>;
  since: number;
}

export interface RegistryWatcherOptions {
  config: Config;
  sink: ObservationSink;
  client: RegistryClient;
  log: Logger;
  scheduler?: Scheduler;
  /** Concurrent requests per registry host (default 4). */
  perRegistry?: number;
  /** Wall clock for Retry-After holds (default Date.now). */
  now?: () => number;
}

const DEFAULT_EVERY_MS = 60_000;
const DEFAULT_PLATFORMS = ['linux/amd64'];
/** How often tags first seen in pod specs are looked for. */
const DISCOVER_EVERY_MS = 60_000;

export class RegistryWatcher implements Watcher {
  private readonly config: Config;
  private readonly sink: ObservationSink;
  private readonly client: RegistryClient;
  private readonly log: Logger;
  private readonly scheduler: Scheduler;
  private readonly perRegistry: number;
  private readonly wallNow: () => number;

  loops(): WatchLoop[] {
    return this.scheduler.loops();
  }

  /** The watch list as of the last discovery (config + pod specs), keyed by canonical reference. */
  private watched = new Map<string, WatchedImage>();
  /** Periods that already have a periodic task (one per period, checking every tag that has it). */
  private readonly scheduledPeriods = new Set<number>();
  private readonly limiters = new Map<string, Limiter>();
  /** Checks under way, by canonical ref (the digest served, if any): at most one HEAD per tag at a time. */
  private readonly inFlight = new Map<string, Promise<string | undefined>>();
  /** The one check a push asked for while another was under way, by canonical ref. */
  private readonly queued = new Map<string, Promise<string | undefined>>();
  /** Registry host → wall time before which it is left alone (its Retry-After). */
  private readonly holdUntil = new Map<string, number>();
  /** Last recorded tag state and version per subject, read from the store once (survives restarts). */
  private known: { digests: Map<string, ImageDigestState>; versions: Map<string, ImageVersionState> } | undefined;
  /** Spec images that don't parse, so each is logged once. */
  private readonly badSpecRefs = new Set<string>();
  private started = false;
  private stopped = false;

  constructor(options: RegistryWatcherOptions) {
    this.config = options.config;
    this.sink = options.sink;
    this.client = options.client;
    this.log = options.log;
    this.scheduler = options.scheduler ?? new Scheduler();
    this.perRegistry = options.perRegistry ?? 4;
    this.wallNow = options.now ?? Date.now;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.discover();
    // Tags that pods start using later are picked up by a periodic look at the pod specs.
    this.scheduler.every(DISCOVER_EVERY_MS, async () => this.discover(), (error) => this.log.error({ err: error }, 'registry watcher: reading pod specs failed'), 'registry discovery');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.scheduler.stop();
    await Promise.allSettled([...this.queued.values(), ...this.inFlight.values()]);
  }

  /** The watch list as of the last discovery (config + pod specs), keyed by canonical reference. */
  watching(): ReadonlyMap<string, WatchedImage> {
    return this.watched;
  }

  /** Checks every watched tag once: one HEAD per reference, at most `perRegistry` at a time per host. */
  async runCycle(): Promise<void> {
    this.watched = watchList(this.config, this.sink.statesOf<WorkloadSpec>('spec'), (ref, error) => this.badSpecRef(ref, error));
    await this.checkAll([...this.watched.values()]);
  }

  /** One check of each of `images`, the first of each repository alone (see below). */
  private async checkAll(images: WatchedImage[]): Promise<void> {
    // Within one repository the first check goes alone: if it has to fetch a token for the
    // repository's scope, the others reuse it instead of each being challenged (401) first.
    const byRepository = new Map<string, WatchedImage[]>();
    for (const image of images) {
      const repository = imageWithoutTag(canonicalImage(image.ref));
      let group = byRepository.get(repository);
      if (!group) byRepository.set(repository, (group = []));
      group.push(image);
    }
    // A check that throws something other than a RegistryError is a bug: log it, check the rest.
    const check = (image: WatchedImage) => this.checkImage(image.ref).catch((error: unknown) => this.log.error({ err: error, image: image.ref }, 'registry check crashed'));
    await Promise.all(
      [...byRepository.values()].map(async ([first, ...rest]) => {
        await check(first!);
        await Promise.all(rest.map(check));
      }),
    );
  }

  /** One check of one tag; a check of the same ref already under way is joined, not repeated. */
  async checkImage(ref: string): Promise<void> {
    const key = canonicalImage(ref);
    await (this.inFlight.get(key) ?? this.startCheck(key, ref));
  }

  /**
   * A check asked for by a push (a registry webhook): the same check as polling, so the notice
   * and its deduplication are the same. A check already under way may have asked the registry
   * before the push, so one more follows it; pushes arriving meanwhile share that one. Resolves
   * to the digest the registry serves for the tag (undefined when the check failed).
   */
  checkNow(ref: string): Promise<string | undefined> {
    if (this.stopped) return Promise.resolve(undefined);
    const key = canonicalImage(ref);
    const queued = this.queued.get(key);
    if (queued) return queued;
    const running = this.inFlight.get(key);
    if (!running) return this.startCheck(key, ref);
    const next = running
      .catch(() => undefined)
      .then(() => {
        this.queued.delete(key);
        // A poll may have started in between; it asked after the push too, so joining it is enough.
        return this.stopped ? undefined : (this.inFlight.get(key) ?? this.startCheck(key, ref));
      });
    this.queued.set(key, next);
    return next;
  }

  private startCheck(key: string, ref: string): Promise<string | undefined> {
    const check = this.runCheck(ref).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, check);
    return check;
  }

  // ---- scheduling ----------------------------------------------------------------------------

  /**
   * Refreshes the watch list. Tags are checked in one task per period (not one timer per tag):
   * the tags of a period go together, as compact as a bare loop over them, and a thousand tags
   * cost one timer instead of a thousand.
   */
  private discover(): void {
    this.watched = watchList(this.config, this.sink.statesOf<WorkloadSpec>('spec'), (ref, error) => this.badSpecRef(ref, error));
    for (const image of this.watched.values()) {
      const every = image.every;
      if (this.scheduledPeriods.has(every)) continue;
      this.scheduledPeriods.add(every);
      this.scheduler.every(
        every,
        // The list as of the last discovery: a tag no pod uses any more is no longer checked (config entries never drop out).
        async () => this.checkAll([...this.watched.values()].filter((candidate) => candidate.every === every)),
        (error) => this.log.error({ err: error, every }, 'registry check cycle crashed'),
        `registry checks every ${every} ms`,
      );
    }
  }

  private watchedImage(ref: string): WatchedImage {
    const key = canonical(ref);
    const found = key === undefined ? undefined : this.watched.get(key);
    if (found) return found;
    // Not in the last list (a direct call, or a spec image not yet discovered): look again.
    this.watched = watchList(this.config, this.sink.statesOf<WorkloadSpec>('spec'), (bad, error) => this.badSpecRef(bad, error));
    return (key === undefined ? undefined : this.watched.get(key)) ?? { ref, every: DEFAULT_EVERY_MS, platforms: DEFAULT_PLATFORMS, versioned: false, source: 'spec' };
  }

  private limiterFor(host: string): Limiter {
    let limiter = this.limiters.get(host);
    if (!limiter) {
      limiter = new Limiter(this.perRegistry);
      this.limiters.set(host, limiter);
    }
    return limiter;
  }

  private badSpecRef(ref: string, error: unknown): void {
    if (this.badSpecRefs.has(ref)) return;
    this.badSpecRefs.add(ref);
    this.log.warn({ image: ref, err: error }, 'a pod spec uses an image reference that does not parse; not watching it');
  }

  // ---- one check -----------------------------------------------------------------------------

  /** One HEAD of one tag and what follows from it; resolves to the digest served, if any. */
  private async runCheck(ref: string): Promise<string | undefined> {
    const image = this.watchedImage(ref);
    const subject = subjectOf.image(image.ref);
    let parsed: ImageRef;
    try {
      parsed = parseImageRef(image.ref);
    } catch (error) {
      this.log.warn({ image: image.ref, err: error }, 'not checking an image reference that does not parse');
      return undefined;
    }
    const held = this.holdUntil.get(parsed.registry);
    if (held !== undefined && this.wallNow() < held) {
      // The registry asked us to wait: no request, but still a failed check, so a long wait warns.
      const summary = `registry ${parsed.registry}: rate limited (429); next request at ${new Date(held).toISOString()}`;
      this.sink.check({ subject, problem: 'registry_failing', ok: false, summary, detail: { fields: [['Image', image.ref]], errorKind: 'rate_limited' } });
      return undefined;
    }
    const limiter = this.limiterFor(parsed.registry);
    const known = this.knownState();

    let tag: TagState;
    let label: { version: string | null } | undefined;
    try {
      tag = await limiter.run(() => this.client.headTag(parsed, image.platforms));
    } catch (error) {
      if (!(error instanceof RegistryError)) throw error;
      // Honoured, but never for longer than ten checks: a huge Retry-After must not silence the image.
      if (error.kind === 'rate_limited' && error.retryAfterMs !== undefined) this.holdUntil.set(parsed.registry, this.wallNow() + Math.min(error.retryAfterMs, 10 * image.every));
      this.log.warn({ image: image.ref, kind: error.kind, status: error.status }, error.message);
      // A failed check records no digest, so an outage can never look like a move.
      this.sink.check({ subject, problem: 'registry_failing', ok: false, summary: error.message, detail: { fields: [['Image', image.ref]], errorKind: error.kind } });
      return undefined;
    }

    // The label is read apart from the digest: an unreadable label (no config blob, no image for
    // our platform) leaves the expected version unknown, but never hides a move.
    const lastVersion = known.versions.get(subject);
    if (image.versioned && lastVersion?.digest !== tag.digest) {
      const platform = image.platforms[0] ?? DEFAULT_PLATFORMS[0]!;
      try {
        const version = await limiter.run(() => this.client.versionLabel(parsed, tag.digest, platform));
        label = { version: version ?? null };
      } catch (error) {
        if (!(error instanceof RegistryError)) throw error;
        this.log.warn({ image: image.ref, kind: error.kind }, `version label not readable: ${error.message}`);
        label = { version: null };
      }
    }

    const at = this.sink.now();
    const platforms = tag.platformDigests ?? {};
    const previous = this.sink.tagDigest(image.ref, tag.digest, platforms);
    const before = known.digests.get(subject);
    if (before?.digest !== tag.digest) {
      const state: ImageDigestState = { digest: tag.digest, mediaType: tag.mediaType, platforms, since: at };
      known.digests.set(subject, state);
      this.sink.state(subject, 'digest', state);
    }
    if (label) {
      const version: ImageVersionState = { version: label.version, digest: tag.digest, at };
      known.versions.set(subject, version);
      this.sink.state(subject, 'version', version);
    }
    if (tag.rateLimitRemaining !== undefined) this.sink.state(subject, 'ratelimit', tag.rateLimitRemaining);

    // Health first: a notice about a subject with a pending problem is held back until it clears.
    this.sink.check({ subject, problem: 'registry_failing', ok: true, summary: 'registry answers' });
    if (previous !== undefined) {
      const previousPlatforms = before?.digest === previous ? before.platforms : undefined;
      this.reportMove(image, previous, tag, previousPlatforms);
    }
    return tag.digest;
  }

  private reportMove(image: WatchedImage, from: string, tag: TagState, previousPlatforms: Record<string, string> | undefined): void {
    const subject = subjectOf.image(image.ref);
    const to = tag.digest;
    const platforms = platformChanges(image.platforms, previousPlatforms, tag.platformDigests);
    const data = { from, to, platforms };
    const digests = `${shortDigest(from)} → ${shortDigest(to)}`;
    if (tag.platformDigests !== undefined && previousPlatforms !== undefined && !platformsMoved(platforms)) {
      // diun#299: an index digest changes whenever any architecture is rebuilt; ours didn't.
      this.sink.notice({
        subject,
        kind: 'tag_moved',
        quiet: true,
        summary: `${image.ref} index moved: ${digests} (${image.platforms.join(', ')} unchanged)`,
        lines: [`full: ${from} → ${to}`],
        data,
      });
      return;
    }
    const impact = describeImpact(image.ref, this.sink.statesOf<WorkloadSpec>('spec'), this.sink.statesOf<RunningContainer[]>('running'), to);
    const platformLines = Object.entries(platforms)
      .filter(([, change]) => change.from !== change.to)
      .map(([platform, change]) => `${platform}: ${change.from ? shortDigest(change.from) : 'absent'} → ${change.to ? shortDigest(change.to) : 'absent'}`);
    this.sink.notice({
      subject,
      kind: 'tag_moved',
      summary: `${image.ref} moved: ${digests}`,
      lines: [...impact, ...(tag.platformDigests !== undefined ? platformLines : []), `full: ${from} → ${to}`],
      data,
    });
    for (const pinned of pinnedTo(image.ref, this.sink.statesOf<WorkloadSpec>('spec'))) {
      const worker = subjectName(pinned, 'worker');
      this.sink.notice({
        subject: pinned,
        kind: 'pinned_tag_moved',
        summary: `${pinned.replace(':', ' ')} is pinned away from ${image.ref}, which moved again (${digests}): the pin may be ready to lift${worker ? ` — /worker unpin ${worker}` : ''}`,
        data,
      });
    }
  }

  private knownState(): NonNullable<RegistryWatcher['known']> {
    if (!this.known) {
      this.known = {
        digests: new Map(this.sink.statesOf<ImageDigestState>('digest').filter((s) => isSubject(s.subject, 'image')).map((s) => [s.subject, s.value])),
        versions: new Map(this.sink.statesOf<ImageVersionState>('version').filter((s) => isSubject(s.subject, 'image')).map((s) => [s.subject, s.value])),
      };
    }
    return this.known;
  }
}

// ---- pure decisions ------------------------------------------------------------------------

/** The canonical text of a tag reference, or undefined when it doesn't parse. */
function canonical(ref: string): string | undefined {
  try {
    return parseImageRef(ref).text;
  } catch {
    return undefined;
  }
}

/** True when `image` names `ref`'s tag (same registry, repository and tag; not pinned by digest). */
function usesTag(image: string, ref: string): boolean {
  if (image.includes('@')) return false;
  const a = canonical(image);
  return a !== undefined && a === canonical(ref);
}

/**
 * Everything to watch, keyed by canonical reference (so `nginx` and `docker.io/library/nginx:latest`
 * are one HEAD): `images[]` first, then `expectFrom.image`, then tags pods use. The first way a
 * reference is written is the one its subject carries.
 */
export function watchList(
  config: Pick<Config, 'images' | 'endpoints'>,
  specs: Array<{ subject: string; value: WorkloadSpec }>,
  onBadRef: (ref: string, error: unknown) => void = () => {},
): Map<string, WatchedImage> {
  const out = new Map<string, WatchedImage>();
  const versioned = new Set<string>();
  for (const endpoint of config.endpoints) {
    if (endpoint.expectFrom && 'image' in endpoint.expectFrom) {
      const key = canonical(endpoint.expectFrom.image);
      if (key) versioned.add(key);
    }
  }
  for (const image of config.images) {
    const key = canonical(image.ref);
    if (!key || out.has(key)) continue;
    out.set(key, { ref: image.ref, every: image.every, platforms: image.platforms, versioned: versioned.has(key), source: 'images' });
  }
  for (const endpoint of config.endpoints) {
    if (!endpoint.expectFrom || !('image' in endpoint.expectFrom)) continue;
    const ref = endpoint.expectFrom.image;
    const key = canonical(ref);
    if (!key || out.has(key)) continue;
    out.set(key, { ref, every: DEFAULT_EVERY_MS, platforms: DEFAULT_PLATFORMS, versioned: true, source: 'expectFrom' });
  }
  for (const { value } of specs) {
    // A pinned workload runs a digest; the tag it was pinned from stays watched, to say when it moves.
    const refs = [...(value?.containers ?? []).map((container) => container.image), ...(value?.pinnedFrom ? [value.pinnedFrom] : [])];
    for (const ref of refs) {
      if (typeof ref !== 'string' || ref.includes('@')) continue; // pinned by digest: not a tag
      let key: string;
      try {
        key = parseImageRef(ref).text;
      } catch (error) {
        onBadRef(ref, error);
        continue;
      }
      if (out.has(key)) continue;
      out.set(key, { ref, every: DEFAULT_EVERY_MS, platforms: DEFAULT_PLATFORMS, versioned: false, source: 'spec' });
    }
  }
  return out;
}

/** Subjects pinned away from `ref` (same image however it is written). */
export function pinnedTo(ref: string, specs: Array<{ subject: string; value: WorkloadSpec }>): string[] {
  const key = canonical(ref);
  return specs.filter((spec) => spec.value?.pinnedFrom !== undefined && canonical(spec.value.pinnedFrom) === key).map((spec) => spec.subject);
}

export type PlatformChanges = Record<string, { from?: string; to?: string }>;

/** For each configured platform, its child digest before and after (absent when not in the index). */
export function platformChanges(wanted: string[], before: Record<string, string> | undefined, after: Record<string, string> | undefined): PlatformChanges {
  const out: PlatformChanges = {};
  for (const platform of wanted) {
    const change: { from?: string; to?: string } = {};
    if (before?.[platform] !== undefined) change.from = before[platform];
    if (after?.[platform] !== undefined) change.to = after[platform];
    out[platform] = change;
  }
  return out;
}

/** A move matters when some configured platform changed, or none of them is in the index at all. */
export function platformsMoved(changes: PlatformChanges): boolean {
  const entries = Object.values(changes);
  if (!entries.some((change) => change.to !== undefined)) return true;
  return entries.some((change) => change.from !== change.to);
}

/** Kubernetes' default: Always for `:latest` (or no tag), IfNotPresent otherwise. */
export function effectivePullPolicy(image: string, declared: string | undefined): { policy: string; defaulted: boolean } {
  if (declared) return { policy: declared, defaulted: false };
  let tag: string | undefined;
  try {
    tag = parseImageRef(image).tag;
  } catch {
    tag = undefined;
  }
  return { policy: tag === undefined || tag === 'latest' ? 'Always' : 'IfNotPresent', defaulted: true };
}

const CONSEQUENCE: Record<string, string> = {
  Always: 'their next restart pulls the new digest',
  IfNotPresent: 'a restart on a node without the old image pulls the new digest; other nodes keep the old one',
  Never: 'they never pull it and keep the image cached on their nodes',
};
const CONSEQUENCE_ONE: Record<string, string> = {
  Always: 'its next restart pulls the new digest',
  IfNotPresent: 'a restart on a node without the old image pulls the new digest; other nodes keep the old one',
  Never: 'it never pulls it and keeps the image cached on its nodes',
};

/**
 * What a tag move will hit: the watched workers/workloads whose containers use `ref`, grouped by
 * their pull policy, then one line per subject with the digest(s) its pods run now. Empty when
 * nothing watched uses the tag.
 */
export function describeImpact(
  ref: string,
  specs: Array<{ subject: string; value: WorkloadSpec }>,
  running: Array<{ subject: string; value: RunningContainer[] }>,
  newDigest?: string,
): string[] {
  let tag: string;
  try {
    tag = parseImageRef(ref).tag ?? 'latest';
  } catch {
    return [];
  }
  const runningBySubject = new Map(running.map((entry) => [entry.subject, entry.value ?? []]));
  const users: Array<{ subject: string; container: string; policy: string; defaulted: boolean; showContainer: boolean }> = [];
  for (const { subject, value } of [...specs].sort((a, b) => a.subject.localeCompare(b.subject))) {
    const containers = (value?.containers ?? []).filter((container) => typeof container.image === 'string' && usesTag(container.image, ref));
    for (const container of containers) {
      const { policy, defaulted } = effectivePullPolicy(container.image, container.imagePullPolicy);
      users.push({ subject, container: container.name, policy, defaulted, showContainer: containers.length > 1 });
    }
  }
  if (users.length === 0) return [];

  const lines: string[] = [];
  const byPolicy = new Map<string, Set<string>>();
  for (const user of users) byPolicy.set(user.policy, (byPolicy.get(user.policy) ?? new Set()).add(user.subject));
  for (const [policy, subjects] of [...byPolicy].sort(([a], [b]) => policyRank(a) - policyRank(b))) {
    const count = subjects.size;
    const allWorkers = [...subjects].every((subject) => isSubject(subject, 'worker'));
    const consequence = (count === 1 ? CONSEQUENCE_ONE : CONSEQUENCE)[policy] ?? 'what a restart pulls depends on this policy';
    lines.push(`${plural(count, allWorkers ? 'worker' : 'workload')} ${count === 1 ? 'uses' : 'use'} :${tag} with imagePullPolicy ${policy} — ${consequence}`);
  }
  for (const user of users) {
    const pods = (runningBySubject.get(user.subject) ?? []).filter((pod) => usesTag(pod.image, ref) && (!user.showContainer || pod.container === user.container));
    lines.push(`${describeSubject(user.subject)}${user.showContainer ? ` (container ${user.container})` : ''}: imagePullPolicy ${user.policy}${user.defaulted ? ' (default)' : ''}, ${describeRunning(pods, newDigest)}`);
  }
  return lines;
}

function policyRank(policy: string): number {
  const order = ['Always', 'IfNotPresent', 'Never'];
  const index = order.indexOf(policy);
  return index === -1 ? order.length : index;
}

/** `runs sha256:8b96908d` / `runs sha256:8b96908d (2 pods), sha256:c4338b51 (1 pod, the new digest)`. */
function describeRunning(pods: RunningContainer[], newDigest: string | undefined): string {
  const counts = new Map<string, number>();
  let unknown = 0;
  for (const pod of pods) {
    if (pod.digest) counts.set(pod.digest, (counts.get(pod.digest) ?? 0) + 1);
    else unknown++;
  }
  if (counts.size === 0) return pods.length === 0 ? 'no running pods seen' : `${plural(pods.length, 'pod')} with no digest yet`;
  const parts = [...counts].map(([digest, n]) => {
    const notes: string[] = [];
    if (counts.size > 1 || unknown > 0) notes.push(plural(n, 'pod'));
    if (digest === newDigest) notes.push('already the new digest');
    return `${shortDigest(digest)}${notes.length ? ` (${notes.join(', ')})` : ''}`;
  });
  if (unknown > 0) parts.push(`${plural(unknown, 'pod')} not started yet`);
  return `runs ${parts.join(', ')}`;
}
