import type { TimelineEvent } from '../store/events.js';
import { redactAndClip } from '../domain/redact.js';

/** How a person is named in a postmortem: their display name, or the raw id when unknown. */
export type NameOf = (user: string) => string;

export const rawId: NameOf = (user) => user;

/** For Slack replies that keep `<@U…>` mentions as they are (Slack shows each reader the name). */
export const asMention: NameOf = (user) => `<@${user}>`;

/** Event types in words, so no reader sees `problem.opened` or `notice.tag_moved`. */
const eventWords: Record<string, string> = {
  'problem.opened': 'went bad',
  'problem.changed': 'changed',
  'problem.relapsed': 'bad again',
  'problem.recovering': 'recovering',
  'problem.resolved': 'recovered',
  'incident.opened': 'incident opened',
  'incident.reopened': 'reopened',
  'incident.resolved': 'resolved',
  'human.ack': 'acknowledged',
  'human.note': 'note',
  'human.mute': 'muted',
  audit: 'audit',
};

export function eventWord(type: string): string {
  const known = eventWords[type];
  if (known) return known;
  if (type.startsWith('notice.')) return type.slice('notice.'.length).replace(/_/g, ' ');
  if (type.startsWith('action.')) return type.slice('action.'.length).replace(/[._]/g, ' ');
  return type.replace(/[._]/g, ' ');
}

/** `<@U0LEAD>` in stored text becomes the person's name. */
export function withNames(text: string, nameOf: NameOf): string {
  return text.replace(/<@([UW][A-Z0-9]+)>/g, (_, id: string) => nameOf(id));
}

/** Every user id an incident's events mention or were caused by, for one batch of look-ups. */
export function peopleOf(events: TimelineEvent[]): string[] {
  const ids = new Set<string>();
  for (const event of events) {
    if (event.actor) ids.add(event.actor);
    for (const match of event.summary.matchAll(/<@([UW][A-Z0-9]+)>/g)) ids.add(match[1]!);
  }
  return [...ids];
}

/** Redacted before it is cut (PRODUCTION.md "Secrets and untrusted text"). */
export const clip = (text: string, max: number): string => redactAndClip(text, max);

/** Events with an actor that change nothing out there, or only report on a change already made. */
const notChanges = new Set(['human.ack', 'human.note', 'human.mute', 'incident.resolved', 'action.pin_failed', 'action.rollout_progress', 'action.rollout_finished', 'action.rollout_failed']);

/**
 * A change a person made to the system (pin, unpin, restart, rollout undo…): what TTM measures
 * from. Acks, notes, mutes, failed attempts, the follower's rollout reports and the resolution
 * itself are not.
 */
export function isMitigatingAction(event: TimelineEvent): boolean {
  return event.actor !== null && !notChanges.has(event.type);
}

/** What the chart marks as an action: every change a person made, and how its rollout ended. */
export function isChartedAction(event: TimelineEvent): boolean {
  return isMitigatingAction(event) || (event.actor !== null && (event.type === 'action.rollout_finished' || event.type === 'action.rollout_failed'));
}

/** The first good observation after bad ones: a recovering edge, or straight to recovered. */
export const isRecoveringObservation = (event: TimelineEvent): boolean => event.type === 'problem.recovering' || event.type === 'problem.resolved';

/** Machine updates that say "still the same trouble": collapsed in the timeline. */
const chatterTypes = new Set(['problem.changed', 'problem.recovering', 'problem.relapsed', 'notice.reminder', 'notice.version_changed']);

/** One line of a timeline: a single event, or a run of machine chatter about one subject. */
export interface TimelineEntry {
  at: number;
  /** The last event of a collapsed run. */
  until?: number;
  type: string;
  text: string;
  actor: string | null;
  /** How many stored events this line stands for. */
  count: number;
}

/**
 * Collapses runs of machine chatter (restart counts, flapping, reminders) of one subject into
 * one line: "restarts 3 → 17, 14 updates". A run needs 3 events; people's events never collapse.
 */
export function collapseChatter(events: TimelineEvent[], nameOf: NameOf = asMention): TimelineEntry[] {
  const entries: TimelineEntry[] = [];
  let index = 0;
  while (index < events.length) {
    const event = events[index]!;
    let end = index + 1;
    if (event.actor === null && chatterTypes.has(event.type)) {
      while (end < events.length && events[end]!.actor === null && chatterTypes.has(events[end]!.type) && events[end]!.subject === event.subject) end++;
    }
    if (end - index < 3) {
      for (let single = index; single < end; single++) {
        const one = events[single]!;
        entries.push({ at: one.at, type: one.type, text: withNames(one.summary, nameOf), actor: one.actor, count: 1 });
      }
      index = end;
      continue;
    }
    const run = events.slice(index, end);
    const last = run[run.length - 1]!;
    const restarts = run.map((one) => one.data.restarts).filter((value): value is number => typeof value === 'number');
    const counts = new Map<string, number>();
    for (const one of run) counts.set(one.type, (counts.get(one.type) ?? 0) + 1);
    const parts: string[] = [];
    if (restarts.length >= 2 && restarts[0] !== restarts[restarts.length - 1]) parts.push(`restarts ${restarts[0]} → ${restarts[restarts.length - 1]}`);
    parts.push(`${run.length} updates`);
    if (counts.size > 1) parts.push([...counts].map(([type, n]) => `${n} ${eventWord(type)}`).join(', '));
    entries.push({ at: event.at, until: last.at, type: 'chatter', text: `${parts.join(', ')}; last: ${withNames(last.summary, nameOf)}`, actor: null, count: run.length });
    index = end;
  }
  return entries;
}
