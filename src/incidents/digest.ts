import { formatDuration } from '../domain/duration.js';
import type { Line, MessageModel } from '../domain/messages.js';
import type { IncidentRecord } from '../domain/model.js';

/** The daily digest: open incidents, then the version status table when there is one. */
export function renderDigest(open: IncidentRecord[], now: number, versionStatus?: MessageModel): MessageModel {
  const lines: Line[] = open.length
    ? open.map((incident) => [`#${incident.id} ${incident.title.replace(/^#\d+ /, '')} — open for ${formatDuration(now - incident.firstBadAt)}${incident.acknowledgedBy ? '' : ', not acknowledged'}`])
    : [['No open incidents.']];
  return {
    tone: open.length ? 'warning' : 'ok',
    title: [`Daily digest: ${open.length} open incident(s)`],
    lines,
    ...(versionStatus?.table ? { table: versionStatus.table } : {}),
  };
}

/** Minute boundaries in (after, upTo] at which `matches` fires; at most one per call. */
export function dueCronMinute(after: number, upTo: number, matches: (date: Date) => boolean): number | undefined {
  const minute = 60_000;
  // Look back at most a day, so a long outage gives one digest, not a backlog.
  let candidate = Math.max(Math.floor(after / minute) * minute + minute, Math.floor(upTo / minute) * minute - 86_400_000);
  let due: number | undefined;
  for (; candidate <= upTo; candidate += minute) if (matches(new Date(candidate))) due = candidate;
  return due;
}
