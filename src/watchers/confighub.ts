import type { Config, WorkerConfig } from '../config.js';
import type { Logger } from '../log.js';
import { formatDuration } from '../domain/duration.js';
import { ConfigHubError, type BridgeWorkerStatus, type ConfigHubClient } from '../clients/confighub.js';
import { subjectOf } from '../domain/subjects.js';
import { Scheduler } from './scheduler.js';
import type { ObservationSink, WatchLoop, Watcher } from './types.js';

/** The worker side ConfigHub reports, in words: "Disconnected, never seen". */
export function describeBridgeWorker(worker: BridgeWorkerStatus | undefined, spaceSlug: string, now: number): { ok: boolean; summary: string } {
  if (!worker) return { ok: false, summary: `ConfigHub: not registered in space ${spaceSlug}` };
  const seen = worker.lastSeenAt ? `last seen ${formatDuration(now - Date.parse(worker.lastSeenAt))} ago` : 'created, never seen';
  const message = worker.lastMessage ? ` — ${worker.lastMessage}` : '';
  if (worker.condition === 'Ready') return { ok: true, summary: `ConfigHub: Ready, ${seen}` };
  return { ok: false, summary: `ConfigHub: ${worker.condition}, ${seen}${message}` };
}

/**
 * Polls ConfigHub for the condition of workers that name a `space`. ConfigHub itself failing is
 * one `confighub` problem; worker checks pause meanwhile, so an outage is not a flood.
 */
export class ConfigHubWatcher implements Watcher {
  private readonly scheduler: Scheduler;
  private readonly spaceIds = new Map<string, string>();
  private infoRead = false;
  private readonly workers: WorkerConfig[];

  constructor(
    private readonly deps: { config: Config; sink: ObservationSink; client: ConfigHubClient; log: Logger; scheduler?: Scheduler },
  ) {
    this.scheduler = deps.scheduler ?? new Scheduler();
    this.workers = deps.config.workers.filter((worker) => worker.space);
  }

  start(): void {
    if (this.workers.length === 0 || !this.deps.config.confighub) return;
    this.scheduler.every(this.deps.config.confighub.every, () => this.poll(), (error) => this.deps.log.error({ err: error }, 'confighub poll failed'), 'confighub poll');
  }

  loops(): WatchLoop[] {
    return this.scheduler.loops();
  }

  async stop(): Promise<void> {
    await this.scheduler.stop();
    await this.deps.client.close();
  }

  /** One poll of every space with watched workers (tests call it directly). */
  async poll(): Promise<void> {
    const { client, sink } = this.deps;
    const bySpace = new Map<string, WorkerConfig[]>();
    for (const worker of this.workers) bySpace.set(worker.space!, [...(bySpace.get(worker.space!) ?? []), worker]);
    try {
      if (!this.infoRead) {
        await client.info();
        this.infoRead = true;
      }
      const reports: Array<{ worker: WorkerConfig; verdict: { ok: boolean; summary: string }; status?: BridgeWorkerStatus }> = [];
      for (const [spaceSlug, workers] of bySpace) {
        const listed = await this.workersOfSpace(spaceSlug);
        for (const worker of workers) {
          if (!listed) {
            // One missing space is its workers' problem, not ConfigHub's.
            reports.push({ worker, verdict: { ok: false, summary: `ConfigHub: space ${spaceSlug} not found` } });
            continue;
          }
          const status = listed.find((candidate) => candidate.slug === worker.name);
          reports.push({ worker, verdict: describeBridgeWorker(status, spaceSlug, sink.now()), ...(status ? { status } : {}) });
        }
      }
      sink.check({ subject: subjectOf.confighub(), problem: 'confighub_unreachable', ok: true, summary: 'ConfigHub answers' });
      for (const { worker, verdict, status } of reports) {
        const subject = subjectOf.worker(worker.name);
        sink.state(subject, 'confighub', { condition: status?.condition ?? 'NotRegistered', lastSeenAt: status?.lastSeenAt ?? null, summary: verdict.summary });
        sink.check({ subject, problem: 'worker_disconnected', ok: verdict.ok, summary: verdict.summary });
      }
    } catch (error) {
      // ConfigHub itself is down or refuses us: one problem; worker checks wait, so no flood.
      const reason = error instanceof ConfigHubError && error.kind === 'unauthorized' ? `${error.message} — check ${this.deps.config.confighub?.tokenEnv ?? 'CONFIGHUB_TOKEN'}` : (error as Error).message;
      sink.check({ subject: subjectOf.confighub(), problem: 'confighub_unreachable', ok: false, summary: reason });
    }
  }

  /** The space's bridge workers, or undefined when the space doesn't exist (resolved again next time). */
  private async workersOfSpace(spaceSlug: string): Promise<BridgeWorkerStatus[] | undefined> {
    const { client } = this.deps;
    try {
      let spaceId = this.spaceIds.get(spaceSlug);
      if (!spaceId) {
        spaceId = (await client.resolveSpace(spaceSlug)).id;
        this.spaceIds.set(spaceSlug, spaceId);
      }
      return await client.listBridgeWorkers(spaceId);
    } catch (error) {
      if (error instanceof ConfigHubError && error.kind === 'not_found') {
        this.spaceIds.delete(spaceSlug);
        return undefined;
      }
      throw error;
    }
  }
}
