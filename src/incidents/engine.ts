import { randomUUID } from 'node:crypto';
import type { Clock } from '../domain/clock.js';
import { formatDuration } from '../domain/duration.js';
import type { Attachment, MessageModel } from '../domain/messages.js';
import type { Store } from '../store/index.js';
import type { OutboxRole } from '../store/outbox.js';
import { repositoryOfImage } from '../domain/image-ref.js';
import { correlatedMove, lastGoodDigest, type TagMove } from './correlation.js';
import { openIncidentTaking } from './choose.js';
import { step, type Edge } from './hysteresis.js';
import { incidentTitle, primaryProblem, renderNotice, renderReply, renderRoot, renderStormRoot, stormCounts } from './render.js';
import { EditPacer, quoteEditOrigin, STORM_EDIT_EVERY_MS, type EditOrigin } from './edit-pacing.js';
import { leaveEndedStorm, openStormIfDue, stormLines, StormDigests, STORM_SUBJECT } from './storm.js';
import { clusterOf as clusterNamedIn, describeSubject, isSubject, subjectName, subjectOf } from '../domain/subjects.js';
import { problemKinds, type CheckObservation, type Correlation, type IncidentRecord, type NoticeObservation, type ProblemRecord, type RunningContainer } from '../domain/model.js';

export interface AlertingPolicy {
  failuresBeforeAlert: number;
  recoveriesBeforeResolve: number;
  reopenWithin: number;
  healthyFor: number;
  correlationWindow: number;
  remindEvery: number;
  storm: { incidents: number; within: number };
}

const problemKey = (subject: string, kind: string) => `${subject}|${kind}`;

/**
 * Turns observations into incidents, edge-triggered with hysteresis, and every message into an
 * outbox row — all in one transaction per observation, so a restart at any point neither loses a
 * transition nor repeats one.
 */
export class IncidentEngine {
  /** When each root's next edit may go out (memory only: a restart at worst edits once more). */
  private readonly edits = new EditPacer();

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly policy: AlertingPolicy,
    private readonly routeChannel: (subject: string) => string,
    /** The cluster a subject lives on; workers name theirs only in the config. */
    private readonly clusterOf: (subject: string) => string | undefined = clusterNamedIn,
    /** The incident's status page address (statusPage.publicUrl), linked from its root. */
    private readonly pageUrl: (id: number) => string | undefined = () => undefined,
  ) {}

  check(observation: CheckObservation): Edge {
    return this.store.transaction(() => this.applyCheck(observation));
  }

  /** Returns the key of the message when the notice stands alone, so later ones can reply to it. */
  notice(observation: NoticeObservation): string | undefined {
    return this.store.transaction(() => this.applyNotice(observation));
  }

  /** The first human action on an incident acknowledges it. */
  acknowledge(incidentId: number, user: string): boolean {
    return this.store.transaction(() => {
      const incident = this.store.incidents.incident(incidentId);
      if (!incident || incident.acknowledgedAt) return false;
      const now = this.clock.now();
      incident.acknowledgedAt = now;
      incident.acknowledgedBy = user;
      incident.lastActivityAt = now;
      this.store.incidents.updateIncident(incident);
      const eventId = this.store.events.append({ at: now, subject: incident.primarySubject, type: 'human.ack', incidentId, actor: user, summary: `acknowledged by <@${user}>`, data: {} });
      this.reply(incident, `ack-${eventId}`, renderReply('info', [{ user }, ' acknowledged']));
      this.refreshRoot(incident, 'human');
      return true;
    });
  }

  note(incidentId: number, user: string, text: string, source = 'note'): void {
    this.store.transaction(() => {
      const incident = this.requireIncident(incidentId);
      const now = this.clock.now();
      const eventId = this.store.events.append({ at: now, subject: incident.primarySubject, type: 'human.note', incidentId, actor: user, summary: text, data: { source } });
      this.touch(incident, user, now);
      this.reply(incident, `note-${eventId}`, renderReply('info', ['📝 ', { user }, `: ${text}`]));
    });
  }

  /** Uploads a file (the summary's Markdown) into the incident's thread, through the outbox like every message. */
  attachFile(incidentId: number, file: Attachment): void {
    const incident = this.requireIncident(incidentId);
    this.enqueue({
      key: `file-${incident.id}-${randomUUID()}`,
      channel: incident.channel,
      kind: 'file',
      incidentId: incident.stormId ?? incident.id,
      role: 'reply',
      message: { tone: 'info', title: [file.title], attachment: file },
    });
  }

  /** Records a human action (a command and its result) on an incident's timeline and thread. */
  recordAction(incidentId: number, user: string, type: string, summary: string, data: Record<string, unknown> = {}, post = true): void {
    this.store.transaction(() => {
      const incident = this.requireIncident(incidentId);
      const now = this.clock.now();
      const eventId = this.store.events.append({ at: now, subject: incident.primarySubject, type, incidentId, actor: user, summary, data });
      this.touch(incident, user, now);
      if (post) this.reply(incident, `action-${eventId}`, renderReply('info', [summary]));
    });
  }

  resolveByHand(incidentId: number, user: string, reason?: string): boolean {
    return this.store.transaction(() => {
      const incident = this.requireIncident(incidentId);
      if (incident.status !== 'open') return false;
      const now = this.clock.now();
      this.touch(incident, user, now);
      for (const problem of this.store.incidents.problemsOfIncident(incidentId)) {
        // The problem is forgotten as resolved; if it is still bad it must build up its streak again.
        this.store.incidents.saveProblem({ ...problem, state: 'ok', badStreak: 0, goodStreak: 0, firstBadAt: null });
      }
      this.closeIncident(incident, now, user, reason);
      return true;
    });
  }

  /** Mutes a subject: no new incident or notice for it is posted until `until`. */
  mute(subject: string, until: number, user: string, incidentId?: number): void {
    this.store.transaction(() => {
      const now = this.clock.now();
      this.store.incidents.mute(subject, until, user);
      const summary = `${describeSubject(subject)} muted until ${new Date(until).toISOString()} by <@${user}>`;
      const incident = incidentId ? this.store.incidents.incident(incidentId) : undefined;
      this.store.events.append({ at: now, subject, type: 'human.mute', incidentId: incident?.id ?? null, actor: user, summary, data: { until } });
      if (incident) {
        this.touch(incident, user, now);
        this.reply(incident, `mute-${subject}-${now}`, renderReply('info', ['🔕 ', { user }, ` muted ${describeSubject(subject)} until `, { at: until }]));
      }
    });
  }

  /**
   * Time-driven work: mute expiry, and reminders every `remindEvery` while an incident is open and
   * nobody has acknowledged it or acted on it. Only people and reminders move `lastActivityAt`:
   * a machine update (a restart count, a notice) never postpones a reminder.
   */
  tick(): void {
    this.store.transaction(() => {
      const now = this.clock.now();
      for (const expired of this.store.incidents.expiredMutes(now)) {
        const incident = this.incidentForNotice(expired.subject);
        this.store.events.append({ at: now, subject: expired.subject, type: 'notice.unmuted', incidentId: incident?.id ?? null, actor: null, summary: `mute of ${describeSubject(expired.subject)} expired`, data: {} });
        if (incident) this.reply(incident, `unmute-${expired.subject}-${now}`, renderReply('info', [`🔔 Mute of ${describeSubject(expired.subject)} expired`]));
      }
      for (const storm of this.store.incidents.openIncidents().filter((incident) => incident.primarySubject === STORM_SUBJECT)) {
        const digest = new StormDigests(this.store.subjects).reply(storm, () => stormLines(this.store, storm), now);
        if (digest) this.reply(storm, `storm-${storm.id}-digest-${now}`, digest);
      }
      for (const incident of this.store.incidents.openIncidents()) {
        if (incident.acknowledgedAt !== null || now - incident.lastActivityAt < this.policy.remindEvery || incident.primarySubject === STORM_SUBJECT) continue;
        if (this.store.incidents.mutedUntil(incident.primarySubject, now)) continue;
        incident.lastActivityAt = now;
        this.store.incidents.updateIncident(incident);
        const open = formatDuration(now - incident.firstBadAt);
        const ack = incident.acknowledgedBy ? [' (acknowledged by ', { user: incident.acknowledgedBy }, ')'] : [' — nobody has acknowledged it'];
        this.reply(incident, `remind-${incident.id}-${now}`, renderReply('warning', [`⏰ #${incident.id} is still open after ${open}`, ...ack]));
        this.store.events.append({ at: now, subject: incident.primarySubject, type: 'notice.reminder', incidentId: incident.id, actor: null, summary: `reminder: still open after ${open}`, data: {} });
      }
    });
  }

  /** Records the digest a tag points at now; returns the previous one when it moved. */
  recordTagDigest(ref: string, digest: string, platforms: Record<string, string>): string | undefined {
    const previous = this.store.digests.historyOf(ref)[0];
    this.store.digests.saw(ref, digest, platforms, this.clock.now());
    return previous && previous.digest !== digest ? previous.digest : undefined;
  }

  /** Last-good bookkeeping from the pods a worker or workload runs. */
  recordRunning(subject: string, containers: RunningContainer[]): void {
    const now = this.clock.now();
    this.store.transaction(() => {
      const byDigest = new Map<string, { repository: string; digest: string; allReady: boolean }>();
      for (const container of containers) {
        if (!container.digest) continue;
        const repository = repositoryOfImage(container.image);
        if (!repository) continue;
        const key = `${repository}@${container.digest}`;
        const entry = byDigest.get(key) ?? { repository, digest: container.digest, allReady: true };
        entry.allReady &&= container.ready;
        byDigest.set(key, entry);
      }
      for (const { repository, digest, allReady } of byDigest.values()) {
        if (allReady) this.store.digests.ready(subject, repository, digest, now);
        else this.store.digests.notReady(subject, repository, digest, this.policy.healthyFor);
      }
      this.store.subjects.setState(subject, 'running', containers, now);
      const images = [...new Set(containers.map((container) => container.image))];
      this.store.subjects.setLinks(subject, 'running', images.map(subjectOf.image));
    });
  }

  /** What to pin `subject` back to, by DESIGN.md's order. */
  lastGood(subject: string, image: string, failingDigest?: string): Correlation['lastGood'] | undefined {
    const repository = repositoryOfImage(image);
    if (!repository) return undefined;
    return lastGoodDigest({
      subject,
      repository,
      ...(failingDigest ? { failingDigest } : {}),
      healthy: this.store.digests.healthyOf(repository),
      healthyForMs: this.policy.healthyFor,
      tagHistory: this.store.digests.historyOf(image).map((sighting) => sighting.digest),
    });
  }

  private applyCheck(observation: CheckObservation): Edge {
    const now = observation.at ?? this.clock.now();
    const previous = this.store.incidents.problem(observation.subject, observation.problem);
    const next = step(previous, { ok: observation.ok, at: now, summary: observation.summary, ...(observation.immediate ? { immediate: true } : {}), ...(observation.ended ? { ended: true } : {}) }, this.policy);
    const problem: ProblemRecord = {
      subject: observation.subject,
      kind: observation.problem,
      severity: problemKinds[observation.problem].severity,
      state: next.state,
      badStreak: next.badStreak,
      goodStreak: next.goodStreak,
      firstBadAt: next.firstBadAt,
      lastAt: now,
      // A good observation keeps the last bad description, so the resolved root still says what
      // broke, but its fields (served version, running digest) are the last observed values.
      summary: observation.ok && previous ? previous.summary : observation.summary,
      detail: observation.ok && previous ? { ...previous.detail, ...(observation.detail?.fields ? { fields: observation.detail.fields } : {}) } : (observation.detail ?? {}),
      incidentId: previous?.incidentId ?? null,
    };
    if (next.edge === 'none') {
      this.store.incidents.saveProblem(problem);
      const quoteOrigin = problem.incidentId ? quoteEditOrigin(previous, problem) : undefined;
      if (problem.incidentId && quoteOrigin) this.refreshRoot(this.requireIncident(problem.incidentId), quoteOrigin); // the crash log, read after the alert
      return next.edge;
    }
    const eventId = this.store.events.append({
      at: now,
      subject: problem.subject,
      type: `problem.${next.edge}`,
      incidentId: next.edge === 'pending' || next.edge === 'cleared' ? null : problem.incidentId,
      actor: null,
      summary: `${problemKinds[problem.kind].label}: ${observation.summary}`,
      data: { kind: problem.kind, ok: observation.ok, ...(observation.detail ?? {}) },
    });
    switch (next.edge) {
      case 'pending':
        this.store.incidents.saveProblem(problem);
        break;
      case 'cleared':
        this.store.incidents.saveProblem(problem);
        this.releaseHeldNotices(problem, undefined);
        break;
      case 'opened':
        if (this.store.incidents.mutedUntil(problem.subject, now)) {
          // Muted: keep counting, open nothing; the first bad look after the mute opens it.
          this.store.incidents.saveProblem({ ...problem, state: 'pending' });
          break;
        }
        this.openOrJoin(problem, eventId, now);
        break;
      case 'changed':
      case 'relapsed':
      case 'recovering':
        this.store.incidents.saveProblem(problem);
        this.refreshIncidentOf(problem, eventId);
        break;
      case 'resolved':
        this.store.incidents.saveProblem(problem);
        this.afterRecovery(problem, eventId, now, observation.ended ? observation.summary : undefined);
        break;
    }
    return next.edge;
  }

  private openOrJoin(problem: ProblemRecord, eventId: number, now: number): void {
    const previousIncident = problem.incidentId ? this.store.incidents.incident(problem.incidentId) : undefined;
    if (previousIncident?.status === 'resolved' && previousIncident.resolvedAt !== null && now - previousIncident.resolvedAt <= this.policy.reopenWithin) {
      problem.incidentId = previousIncident.id;
      this.store.incidents.saveProblem(problem);
      this.store.events.attachToIncident(eventId, previousIncident.id);
      previousIncident.status = 'open';
      previousIncident.resolvedAt = null;
      previousIncident.resolvedBy = null;
      previousIncident.lastActivityAt = now;
      const leftStorm = leaveEndedStorm(this.store, previousIncident);
      this.store.incidents.updateIncident(previousIncident);
      this.store.events.append({ at: now, subject: previousIncident.primarySubject, type: 'incident.reopened', incidentId: previousIncident.id, actor: null, summary: `reopened: ${problemKinds[problem.kind].label}: ${problem.summary}`, data: {} });
      // Opened inside the storm, it never had a root of its own: post one (before the reply in its thread).
      const newRoot = leftStorm && this.store.outbox.byKey(`inc-${previousIncident.id}-root`)?.role !== 'root';
      if (newRoot) {
        this.enqueue({ key: `inc-${previousIncident.id}-root`, channel: previousIncident.channel, kind: 'post', incidentId: previousIncident.id, role: 'root', message: renderRoot(previousIncident, this.store.incidents.problemsOfIncident(previousIncident.id), { now, pageUrl: this.pageUrl(previousIncident.id) }) });
        this.edits.posted(previousIncident.id, now);
      }
      this.reply(previousIncident, `reopen-${eventId}`, renderReply(problem.severity, [`Reopened: ${problemKinds[problem.kind].label} — ${problem.summary}`]));
      if (!newRoot) this.refreshRoot(previousIncident, 'event');
      this.releaseHeldNotices(problem, previousIncident);
      return;
    }
    const joined = openIncidentTaking(this.store, problem.subject);
    if (joined) {
      problem.incidentId = joined.id;
      this.store.incidents.saveProblem(problem);
      this.store.events.attachToIncident(eventId, joined.id);
      this.completeCorrelation(joined, problem);
      this.store.incidents.updateIncident(joined);
      this.reply(joined, `join-${eventId}`, renderReply(problem.severity, [`Also: ${problemKinds[problem.kind].label} — ${describeSubject(problem.subject)}: ${problem.summary}`]));
      this.refreshRoot(joined, 'event');
      this.releaseHeldNotices(problem, joined);
      return;
    }
    const correlation = this.correlate(problem);
    const firstBadAt = Math.min(problem.firstBadAt ?? now, correlation?.tagMove?.at ?? Infinity);
    const draft: Omit<IncidentRecord, 'id'> = {
      status: 'open',
      primarySubject: problem.subject,
      severity: problem.severity,
      channel: this.routeChannel(problem.subject),
      title: '',
      firstBadAt,
      openedAt: now,
      acknowledgedAt: null,
      acknowledgedBy: null,
      resolvedAt: null,
      resolvedBy: null,
      lastActivityAt: now,
      correlation,
      stormId: this.stormFor(this.routeChannel(problem.subject), now)?.id ?? null,
    };
    const id = this.store.incidents.createIncident(draft);
    const incident: IncidentRecord = { ...draft, id, title: incidentTitle({ id, primarySubject: problem.subject }, problem) };
    this.store.incidents.updateIncident(incident);
    problem.incidentId = id;
    this.store.incidents.saveProblem(problem);
    this.store.events.attachToIncident(eventId, id);
    if (correlation?.tagMove) {
      const moveEvent = this.store.events.ofSubject(subjectOf.image(correlation.tagMove.ref), 'notice.tag_moved', correlation.tagMove.at).find((event) => event.at === correlation.tagMove!.at);
      if (moveEvent && moveEvent.incidentId === null) this.store.events.attachToIncident(moveEvent.id, id);
    }
    this.store.events.append({ at: now, subject: problem.subject, type: 'incident.opened', incidentId: id, actor: null, summary: incident.title, data: { channel: incident.channel } });
    if (incident.stormId) {
      // In a storm the incident is a line of the storm root (edited, not a message of its own);
      // its thread is the storm's, where a digest reply at most every 30 s says what joined.
      this.refreshRoot(this.requireIncident(incident.stormId), 'event');
    } else {
      this.enqueue({ key: `inc-${id}-root`, channel: incident.channel, kind: 'post', incidentId: id, role: 'root', message: renderRoot(incident, [problem], { now, pageUrl: this.pageUrl(id) }) });
      this.edits.posted(id, now);
    }
    this.releaseHeldNotices(problem, incident);
    this.crossReferenceCluster(incident);
  }

  /** The channel's open storm when one is due (storm.ts), its root queued when it has just opened. */
  private stormFor(channel: string, now: number): IncidentRecord | undefined {
    return openStormIfDue(this.store, this.policy.storm, channel, now, (storm, lines) => {
      this.enqueue({ key: `inc-${storm.id}-root`, channel, kind: 'post', incidentId: storm.id, role: 'root', message: renderStormRoot(storm, lines, now) });
      this.edits.posted(storm.id, now);
      new StormDigests(this.store.subjects).covered(storm.id, now, lines.length);
    });
  }

  /** Incidents on a cluster whose API is unreachable point to that incident, and it to them. */
  private crossReferenceCluster(incident: IncidentRecord): void {
    const cluster = this.clusterOf(incident.primarySubject);
    if (!cluster) return;
    const open = this.store.incidents.openIncidents().filter((other) => other.id !== incident.id);
    if (isSubject(incident.primarySubject, 'cluster')) {
      for (const other of open.filter((candidate) => this.clusterOf(candidate.primarySubject) === cluster)) {
        this.reply(other, `clusterref-${other.id}-${incident.id}`, renderReply('warning', [`Cluster ${cluster}'s API is unreachable: see incident #${incident.id}`]));
        this.reply(incident, `clusterref-${incident.id}-${other.id}`, renderReply('info', [`Open on this cluster: incident #${other.id} (${describeSubject(other.primarySubject)})`]));
      }
      return;
    }
    const clusterIncident = open.find((other) => other.primarySubject === subjectOf.cluster(cluster));
    if (clusterIncident) {
      this.reply(incident, `clusterref-${incident.id}-${clusterIncident.id}`, renderReply('warning', [`Cluster ${cluster}'s API is unreachable: see incident #${clusterIncident.id}`]));
      this.reply(clusterIncident, `clusterref-${clusterIncident.id}-${incident.id}`, renderReply('info', [`Open on this cluster: incident #${incident.id} (${describeSubject(incident.primarySubject)})`]));
    }
  }

  private correlate(problem: ProblemRecord): Correlation | null {
    if (!isSubject(problem.subject, 'worker') && !isSubject(problem.subject, 'workload')) return null;
    const images = [...this.store.subjects.linked(problem.subject)].flatMap((subject) => {
      const ref = subjectName(subject, 'image');
      return ref === undefined ? [] : [{ subject, ref }];
    });
    const moves: TagMove[] = images.flatMap(({ subject, ref }) =>
      this.store.events
        .ofSubject(subject, 'notice.tag_moved', (problem.firstBadAt ?? 0) - this.policy.correlationWindow)
        // A quiet move changed no digest we run (another platform's rebuild): never the culprit.
        .filter((event) => event.data.quiet !== true)
        .map((event) => ({
        ref,
        from: String(event.data.from),
        to: String(event.data.to),
        at: event.at,
      })),
    );
    const tagMove = correlatedMove(moves, problem.firstBadAt ?? this.clock.now(), this.policy.correlationWindow);
    const image = tagMove?.ref ?? images[0]?.ref;
    const running = this.store.subjects.state<RunningContainer[]>(problem.subject, 'running')?.value ?? [];
    const failingDigest = tagMove?.to ?? running.find((container) => !container.ready && container.digest)?.digest;
    const lastGood = image ? this.lastGood(problem.subject, image, failingDigest) : undefined;
    if (!tagMove && !lastGood) return null;
    return { ...(tagMove ? { tagMove } : {}), ...(lastGood ? { lastGood } : {}) };
  }

  private refreshIncidentOf(problem: ProblemRecord, eventId: number): void {
    const incident = problem.incidentId ? this.store.incidents.incident(problem.incidentId) : undefined;
    if (!incident || incident.status !== 'open') return;
    this.store.events.attachToIncident(eventId, incident.id);
    this.completeCorrelation(incident, problem);
    this.store.incidents.updateIncident(incident);
    this.refreshRoot(incident, 'machine');
  }

  /**
   * An incident may open before its image is known (a worker configured before it is installed
   * is "not found" first): when a later problem of its primary subject brings the image, name the
   * tag move and the last good digest then.
   */
  private completeCorrelation(incident: IncidentRecord, problem: ProblemRecord): void {
    if (problem.subject !== incident.primarySubject || (incident.correlation?.tagMove && incident.correlation.lastGood)) return;
    const found = this.correlate(problem);
    if (!found) return;
    incident.correlation = { ...found, ...(incident.correlation ?? {}) };
    this.store.incidents.updateIncident(incident);
  }

  /** `ended`: why the problem ended without recovering (the workload was deleted), in words. */
  private afterRecovery(problem: ProblemRecord, eventId: number, now: number, ended?: string): void {
    const incident = problem.incidentId ? this.store.incidents.incident(problem.incidentId) : undefined;
    if (!incident || incident.status !== 'open') return;
    this.store.events.attachToIncident(eventId, incident.id);
    const stillBad = this.store.incidents.problemsOfIncident(incident.id).filter((other) => other.state !== 'ok');
    if (stillBad.length === 0) {
      this.closeIncident(incident, now, null, ended);
      return;
    }
    this.store.incidents.updateIncident(incident);
    const line = ended ? `Ended: ${problemKinds[problem.kind].label} — ${ended}` : `Recovered: ${problemKinds[problem.kind].label} — ${describeSubject(problem.subject)}`;
    this.reply(incident, `recovered-${eventId}`, renderReply('ok', [line]));
    this.refreshRoot(incident, 'machine');
  }

  private closeIncident(incident: IncidentRecord, now: number, user: string | null, reason?: string): void {
    incident.status = 'resolved';
    incident.resolvedAt = now;
    incident.resolvedBy = user;
    incident.lastActivityAt = now;
    this.store.incidents.updateIncident(incident);
    const took = formatDuration(now - incident.firstBadAt);
    const by = user ? ` by <@${user}>` : '';
    const eventId = this.store.events.append({ at: now, subject: incident.primarySubject, type: 'incident.resolved', incidentId: incident.id, actor: user, summary: `resolved${by} after ${took}${reason ? `: ${reason}` : ''}`, data: { durationMs: now - incident.firstBadAt } });
    const storm = incident.stormId ? this.store.incidents.incident(incident.stormId) : undefined;
    if (storm) this.updateOwnRoot(incident);
    if (storm?.status === 'open' && this.store.incidents.stormMembers(storm.id).every((member) => member.status === 'resolved')) {
      this.closeIncident(storm, now, user);
      return;
    }
    if (storm) {
      // The storm thread learns of it from the storm root's line and the storm's closing counts, not a reply per incident.
      this.refreshRoot(storm, 'event');
      return;
    }
    if (incident.primarySubject === STORM_SUBJECT) {
      this.reply(incident, `resolved-${eventId}`, renderReply('ok', [`Storm over after ${took}: ${stormCounts(stormLines(this.store, incident))}`]));
      this.refreshRoot(incident, 'human');
      return;
    }
    this.reply(incident, `resolved-${eventId}`, renderReply('ok', [`Resolved${user ? ' by ' : ''}`, ...(user ? [{ user }] : []), ` after ${took}${reason ? ` — ${reason}` : ''}`]));
    this.refreshRoot(incident, 'human');
  }

  /** An incident that had its own root before a storm took it in: that root still shows how it ended. */
  private updateOwnRoot(incident: IncidentRecord): void {
    if (this.store.outbox.byKey(`inc-${incident.id}-root`)?.role !== 'root') return;
    const problems = this.store.incidents.problemsOfIncident(incident.id);
    this.enqueue({ key: `inc-${incident.id}-update-${randomUUID()}`, channel: incident.channel, kind: 'update', incidentId: incident.id, role: 'root', message: renderRoot({ ...incident, stormId: null }, problems, { now: this.clock.now() }) });
  }




  private applyNotice(observation: NoticeObservation): string | undefined {
    const now = observation.at ?? this.clock.now();
    const notice = { subject: observation.subject, kind: observation.kind, summary: observation.summary, at: now, lines: observation.lines ?? [] };
    const eventId = this.store.events.append({
      at: now,
      subject: observation.subject,
      type: `notice.${observation.kind}`,
      incidentId: null,
      actor: observation.actor ?? null,
      summary: observation.summary,
      data: { ...(observation.data ?? {}), ...(observation.quiet ? { quiet: true } : {}) },
    });
    if (observation.quiet || this.store.incidents.mutedUntil(observation.subject, now)) return undefined;
    const message = renderNotice(notice, observation.actor !== undefined && observation.actor !== null);
    const pending = this.store.incidents.problemsOfSubject(observation.subject).find((problem) => problem.state === 'pending');
    if (pending) {
      this.store.incidents.holdNotice(observation.subject, problemKey(pending.subject, pending.kind), now, { eventId, message });
      return undefined;
    }
    const target = this.incidentForNotice(observation.subject);
    if (target) {
      this.store.events.attachToIncident(eventId, target.id);
      this.reply(target, `notice-${eventId}`, message);
      return undefined;
    }
    const parent = observation.replyTo ? this.store.outbox.byKey(observation.replyTo) : undefined;
    const key = `notice-${eventId}`;
    this.enqueue({ key, channel: parent?.channel ?? this.routeChannel(observation.subject), kind: 'post', incidentId: null, role: parent ? 'reply' : 'message', message, ...(parent ? { threadOf: parent.key } : {}) });
    return key;
  }

  private incidentForNotice(subject: string): IncidentRecord | undefined {
    return openIncidentTaking(this.store, subject);
  }

  private releaseHeldNotices(problem: ProblemRecord, incident: IncidentRecord | undefined): void {
    const held = this.store.incidents.takeHeldNotices<{ eventId: number; message: MessageModel }>(problemKey(problem.subject, problem.kind));
    for (const { subject, message } of held) {
      if (incident) {
        this.store.events.attachToIncident(message.eventId, incident.id);
        this.reply(incident, `notice-${message.eventId}`, message.message);
      } else {
        this.enqueue({ key: `notice-${message.eventId}`, channel: this.routeChannel(subject), kind: 'post', incidentId: null, role: 'message', message: message.message });
      }
    }
  }

  private touch(incident: IncidentRecord, user: string, now: number): void {
    incident.lastActivityAt = now;
    if (!incident.acknowledgedAt) {
      incident.acknowledgedAt = now;
      incident.acknowledgedBy = user;
      this.store.incidents.updateIncident(incident);
      this.refreshRoot(incident);
      return;
    }
    this.store.incidents.updateIncident(incident);
  }

  private requireIncident(incidentId: number): IncidentRecord {
    const incident = this.store.incidents.incident(incidentId);
    if (!incident) throw new Error(`no incident #${incidentId}`);
    return incident;
  }

  private reply(incident: IncidentRecord, key: string, message: MessageModel): void {
    this.enqueue({ key, channel: incident.channel, kind: 'post', incidentId: incident.stormId ?? incident.id, role: 'reply', message });
  }

  /**
   * Queues the root's current state; the outbox keeps only the newest pending update, and
   * `origin` decides how soon it may go (see `EditOrigin`): bursts of machine updates become one edit.
   */
  refreshRoot(incident: IncidentRecord, origin: EditOrigin = 'human'): void {
    if (incident.stormId) {
      const storm = this.requireIncident(incident.stormId);
      this.refreshRoot(storm, origin);
      // A person acting on a member that had its own root sees that root follow.
      if (origin === 'human') this.updateOwnRoot(incident);
      return;
    }
    if (incident.primarySubject === STORM_SUBJECT) {
      const now = this.clock.now();
      const lines = stormLines(this.store, incident);
      this.enqueue({ key: `inc-${incident.id}-update-${randomUUID()}`, channel: incident.channel, kind: 'update', incidentId: incident.id, role: 'root', message: renderStormRoot(incident, lines, now), notBefore: this.edits.due(incident.id, origin, now, STORM_EDIT_EVERY_MS) });
      const digest = incident.status === 'open' ? new StormDigests(this.store.subjects).reply(incident, () => lines, now) : undefined;
      if (digest) this.reply(incident, `storm-${incident.id}-digest-${now}`, digest);
      return;
    }
    const problems = this.store.incidents.problemsOfIncident(incident.id);
    const title = incidentTitle(incident, primaryProblem(incident, problems));
    if (title !== incident.title) {
      incident.title = title;
      this.store.incidents.updateIncident(incident);
    }
    // chat.update is idempotent, so an update needs no stable key of its own.
    const now = this.clock.now();
    this.enqueue({ key: `inc-${incident.id}-update-${randomUUID()}`, channel: incident.channel, kind: 'update', incidentId: incident.id, role: 'root', message: renderRoot(incident, problems, { now, pageUrl: this.pageUrl(incident.id) }), notBefore: this.edits.due(incident.id, origin, now, 0) });
  }

  private enqueue(entry: { key: string; channel: string; kind: 'post' | 'update' | 'file'; incidentId: number | null; role: OutboxRole; message: MessageModel; threadOf?: string; notBefore?: number }): void {
    const { notBefore, ...row } = entry;
    this.store.outbox.enqueue({ ...row, at: this.clock.now(), ...(notBefore !== undefined && notBefore > this.clock.now() ? { notBefore } : {}) });
  }
}

