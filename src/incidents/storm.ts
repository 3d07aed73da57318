/**
 * A storm's members as its root lists them, and when its thread gets a digest reply: at most one
 * per `STORM_DIGEST_EVERY_MS`, summarising the incidents that joined since the last one.
 */
import { formatDuration } from '../domain/duration.js';
import type { IncidentRecord } from '../domain/model.js';
import { problemKinds } from '../domain/model.js';
import type { Store } from '../store/index.js';
import type { MessageModel } from '../domain/messages.js';
import { primaryProblem, renderReply, stormCounts, type StormLine } from './render.js';

/** The pseudo-subject of a storm incident: many incidents listed on one message. */
export const STORM_SUBJECT = 'storm';
export const STORM_DIGEST_EVERY_MS = 30_000;

/**
 * More than `policy.incidents` incidents opening within `policy.within` in one channel: the
 * channel's open storm, or a new one (then `opened` queues its root). The incidents that made it
 * join it: their roots are already in the channel and keep their threads' history, but their
 * machine updates now edit the storm root only.
 */
export function openStormIfDue(store: Pick<Store, 'incidents' | 'events'>, policy: { incidents: number; within: number }, channel: string, now: number, opened: (storm: IncidentRecord, lines: StormLine[]) => void): IncidentRecord | undefined {
  const recent = store.incidents.openedSince(now - policy.within).filter((incident) => incident.channel === channel && incident.primarySubject !== STORM_SUBJECT);
  if (recent.length + 1 <= policy.incidents) return undefined;
  const open = store.incidents.openIncidents(channel).find((incident) => incident.primarySubject === STORM_SUBJECT);
  if (open) return open;
  const draft: Omit<IncidentRecord, 'id'> = {
    status: 'open', primarySubject: STORM_SUBJECT, severity: 'critical', channel, title: '', firstBadAt: Math.min(...recent.map((incident) => incident.firstBadAt), now),
    openedAt: now, acknowledgedAt: null, acknowledgedBy: null, resolvedAt: null, resolvedBy: null, lastActivityAt: now, correlation: null, stormId: null,
  };
  const id = store.incidents.createIncident(draft);
  const storm: IncidentRecord = { ...draft, id, title: `#${id} alert storm` };
  store.incidents.updateIncident(storm);
  store.events.append({ at: now, subject: STORM_SUBJECT, type: 'incident.opened', incidentId: id, actor: null, summary: `alert storm: more than ${policy.incidents} incidents within ${formatDuration(policy.within)}`, data: {} });
  for (const member of recent.filter((incident) => incident.status === 'open' && incident.stormId === null)) {
    member.stormId = id;
    store.incidents.updateIncident(member);
    store.events.append({ at: now, subject: member.primarySubject, type: 'incident.storm', incidentId: member.id, actor: null, summary: `part of alert storm #${id}`, data: { storm: id } });
  }
  opened(storm, stormLines(store, storm));
  return storm;
}

/** A member reopening after its storm ended leaves it (nobody would see it in the closed storm's thread); true when it left. */
export function leaveEndedStorm(store: Pick<Store, 'incidents'>, incident: IncidentRecord): boolean {
  const storm = incident.stormId ? store.incidents.incident(incident.stormId) : undefined;
  if (storm?.status !== 'resolved') return false;
  incident.stormId = null;
  return true;
}

/** The storm's members newest first, each with the reason it failed (the pod reason, else the problem's label). */
export function stormLines(store: Pick<Store, 'incidents'>, storm: Pick<IncidentRecord, 'id'>): StormLine[] {
  return store.incidents
    .stormMembers(storm.id)
    .map((member) => {
      const primary = primaryProblem(member, store.incidents.problemsOfIncident(member.id));
      const reason = primary ? (typeof primary.detail.reason === 'string' ? primary.detail.reason : problemKinds[primary.kind].label) : 'incident';
      return { id: member.id, title: member.title, status: member.status, openedAt: member.openedAt, reason, summary: primary?.summary ?? '' };
    })
    .sort((a, b) => b.openedAt - a.openedAt || b.id - a.id);
}

/** Where the last digest of each storm is kept: the subjects state, so a new leader goes on from it. */
export interface DigestStates {
  setState(subject: string, key: string, value: unknown, at: number): void;
  state<T>(subject: string, key: string): { value: T; updatedAt: number } | undefined;
}

type LastDigest = { at: number; covered: number };
const DIGEST_KEY = 'lastDigest';

export class StormDigests {
  /**
   * `states`: per storm, when its last digest went and how many members it covered — in the
   * store, so a new leader after a failover does not post a full digest right away.
   */
  constructor(private readonly states: DigestStates) {}

  covered(stormId: number, at: number, members: number): void {
    this.states.setState(`${STORM_SUBJECT}:${stormId}`, DIGEST_KEY, { at, covered: members } satisfies LastDigest, at);
  }

  /** The members that joined since the last digest, when a digest is due now; else undefined. */
  due(storm: Pick<IncidentRecord, 'id' | 'openedAt'>, linesOf: () => StormLine[], now: number): { joined: StormLine[]; since: number } | undefined {
    const last = this.states.state<LastDigest>(`${STORM_SUBJECT}:${storm.id}`, DIGEST_KEY)?.value ?? { at: storm.openedAt, covered: 0 };
    // The time check first: the lines cost a query per member, and most looks are not due.
    if (now - last.at < STORM_DIGEST_EVERY_MS) return undefined;
    const lines = linesOf();
    if (lines.length <= last.covered) return undefined;
    this.covered(storm.id, now, lines.length);
    return { joined: [...lines].sort((a, b) => a.id - b.id).slice(last.covered), since: last.at };
  }

  /** The digest reply for the storm's thread when one is due now: what joined since the last one. */
  reply(storm: Pick<IncidentRecord, 'id' | 'openedAt'>, linesOf: () => StormLine[], now: number): MessageModel | undefined {
    const due = this.due(storm, linesOf, now);
    if (!due) return undefined;
    const ids = due.joined.map((line) => `#${line.id}`);
    const shown = ids.length > 40 ? `${ids.slice(0, 40).join(' ')} … and ${ids.length - 40} more` : ids.join(' ');
    return renderReply('warning', [`${due.joined.length} joined since `, { at: due.since }, `: ${stormCounts(due.joined)}`], [[shown]]);
  }
}
