import { formatDuration } from '../domain/duration.js';
import { shortDigest } from '../domain/image-ref.js';
import type { Button, Line, MessageModel } from '../domain/messages.js';
import { describeSubject } from '../domain/subjects.js';
import { problemKinds, type IncidentRecord, type NoticeObservation, type ProblemRecord } from '../domain/model.js';
import { neutralizeMentions, neutralizeMentions as untrusted } from '../domain/untrusted.js';

/** Message templates: pure functions from stored state to the message model. */

function problemLine(problem: ProblemRecord, primarySubject: string): Line {
  const label = problemKinds[problem.kind].label;
  const who = problem.subject === primarySubject ? '' : ` — ${describeSubject(problem.subject)}`;
  const state = problem.state === 'ok' ? ' (recovered)' : problem.state === 'recovering' ? ' (recovering)' : '';
  return [`• ${label}${who}: ${untrusted(problem.summary)}${state}`];
}

export function incidentTitle(incident: Pick<IncidentRecord, 'id' | 'primarySubject'>, primary: ProblemRecord | undefined): string {
  const label = primary ? problemKinds[primary.kind].label : 'incident';
  return `#${incident.id} ${describeSubject(incident.primarySubject)}: ${label}`;
}

/**
 * What the title names: the primary subject's problem that is failing now, else one still
 * recovering, else its first. (Alerts now arrive on the event, before a problem that is
 * recovering has had its last good look: the title names what is failing, not what recovers.)
 */
const kindOrder = Object.keys(problemKinds);

export function primaryProblem(incident: Pick<IncidentRecord, 'primarySubject'>, problems: ProblemRecord[]): ProblemRecord | undefined {
  // Among several, the most specific kind names it (pods failing before the rollout they stall),
  // whichever was seen first: the title must not depend on which watch event won a race.
  const rank = (problem: ProblemRecord) => kindOrder.indexOf(problem.kind);
  const ofPrimary = problems.filter((problem) => problem.subject === incident.primarySubject).sort((a, b) => rank(a) - rank(b));
  return ofPrimary.find((problem) => problem.state === 'alerting') ?? ofPrimary.find((problem) => problem.state !== 'ok') ?? ofPrimary[0] ?? problems[0];
}

/** The incident's page on the status page (`statusPage.publicUrl`), for roots and summaries. */
export function incidentPageUrl(publicUrl: string | undefined, id: number): string | undefined {
  return publicUrl ? `${publicUrl}/incidents/${id}` : undefined;
}

/** A root or summary with a line pointing at the incident's page, when there is one. */
export function withIncidentPage(message: MessageModel, pageUrl: string | undefined): MessageModel {
  return pageUrl ? { ...message, lines: [...(message.lines ?? []), [`Timeline and chart: ${pageUrl}`]] } : message;
}

/** The root message of an incident thread, kept current with every change. */
export function renderRoot(incident: IncidentRecord, problems: ProblemRecord[], options: { now: number; pageUrl?: string | undefined }): MessageModel {
  const open = incident.status === 'open';
  const primary = primaryProblem(incident, problems);
  const fields: Array<[string, Line]> = [];
  if (open) fields.push(['Status', ['Open since ', { at: incident.openedAt }]]);
  else fields.push(['Status', ['Resolved ', { at: incident.resolvedAt ?? options.now }, ` after ${formatDuration((incident.resolvedAt ?? options.now) - incident.firstBadAt)}`]]);
  fields.push(['First bad signal', [{ at: incident.firstBadAt }]]);
  if (incident.acknowledgedBy) fields.push(['Acknowledged', [{ user: incident.acknowledgedBy }, ' ', { at: incident.acknowledgedAt ?? options.now }]]);
  for (const problem of problems) for (const [label, value] of problem.detail.fields ?? []) fields.push([untrusted(label), [untrusted(value)]]);

  const lines: Line[] = problems.map((problem) => problemLine(problem, incident.primarySubject));
  const move = incident.correlation?.tagMove;
  if (move) lines.push(['Tag moved ', { at: move.at }, `: ${move.ref} ${shortDigest(move.from)} → ${shortDigest(move.to)}`]);
  const lastGood = incident.correlation?.lastGood;
  if (lastGood) lines.push([`Last good digest: ${shortDigest(lastGood.digest)} (from ${lastGood.source})`]);

  const buttons: Button[] = [];
  if (open) {
    const workerName = incident.primarySubject.startsWith('worker:') ? incident.primarySubject.slice('worker:'.length) : undefined;
    // A workload (listed or discovered) is pinned by its full `<cluster>/<namespace>/<kind>/<name>`, which is never ambiguous.
    const workloadPath = incident.primarySubject.startsWith('workload:') ? incident.primarySubject.slice('workload:'.length) : undefined;
    const pinnable = workerName ?? workloadPath;
    if (pinnable && lastGood) {
      lines.push(['Suggested: ', { code: `/worker pin ${pinnable} ${shortDigest(lastGood.digest)}` }]);
      buttons.push({ action: 'worker_pin', label: `Pin to ${shortDigest(lastGood.digest)} (last good)`, value: JSON.stringify({ worker: pinnable, digest: lastGood.digest, incident: incident.id }), style: 'primary' });
    }
    if (incident.primarySubject.startsWith('workload:') || workerName) {
      buttons.push({ action: 'rollout_restart', label: 'Restart rollout', value: JSON.stringify({ subject: incident.primarySubject, incident: incident.id }) });
    }
    if (!incident.acknowledgedBy) buttons.push({ action: 'ack', label: 'Acknowledge', value: String(incident.id) });
    buttons.push({ action: 'mute', label: 'Mute 1h', value: JSON.stringify({ subject: incident.primarySubject, incident: incident.id }) });
  }
  const quote = problems.flatMap((problem) => (problem.state !== 'ok' ? (problem.detail.quote ?? []) : [])).map(untrusted);
  if (options.pageUrl) lines.push([`Timeline and chart: ${options.pageUrl}`]);
  return {
    tone: open ? incident.severity : 'ok',
    title: [`${open ? '' : 'Resolved: '}${incidentTitle(incident, primary)}`],
    fields,
    lines,
    ...(quote.length ? { quote } : {}),
    context: [`incident #${incident.id} · ${incident.primarySubject}`],
    ...(buttons.length ? { buttons } : {}),
  };
}

/** A notice; one a watcher made (no person behind it) carries untrusted text that may not mention anyone. */
export function renderNotice(notice: Required<Pick<NoticeObservation, 'subject' | 'kind' | 'summary' | 'at'>> & Pick<NoticeObservation, 'lines'>, byPerson = false): MessageModel {
  const untrusted = byPerson ? (text: string) => text : neutralizeMentions;
  return {
    tone: 'info',
    title: [untrusted(notice.summary)],
    ...(notice.lines?.length ? { lines: notice.lines.map((line) => [untrusted(line)]) } : {}),
    context: [{ at: notice.at }, ` · ${notice.kind.replace(/_/g, ' ')} · ${notice.subject}`],
  };
}

export function renderReply(tone: MessageModel['tone'], text: Line, extra: Line[] = []): MessageModel {
  return { tone, title: text, ...(extra.length ? { lines: extra } : {}) };
}

/** One incident of a storm as its root lists it. */
export interface StormLine {
  id: number;
  title: string;
  status: IncidentRecord['status'];
  openedAt: number;
  /** CrashLoopBackOff, ImagePullBackOff, … or the problem's label. */
  reason: string;
  summary: string;
}

/** `45 CrashLoopBackOff · 5 ImagePullBackOff`, most frequent first. */
export function stormCounts(lines: readonly Pick<StormLine, 'reason'>[]): string {
  const counts = new Map<string, number>();
  for (const line of lines) counts.set(line.reason, (counts.get(line.reason) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([reason, n]) => `${n} ${reason}`).join(' · ') || 'no incidents';
}

/** Lines a storm root lists before it points to `/incident list` for the rest (Slack caps a message's blocks). */
export const STORM_ROOT_LINES = 25;

/**
 * The storm message, edited as incidents join: counts per reason, then the incidents newest
 * first with their ids (`lines` comes sorted newest first).
 */
export function renderStormRoot(storm: IncidentRecord, lines: StormLine[], now: number): MessageModel {
  const open = lines.filter((line) => line.status === 'open').length;
  const shown = lines.slice(0, STORM_ROOT_LINES).map((line): Line => [`• #${line.id} ${line.title.replace(/^#\d+ /, '')} — ${line.reason}${line.summary && line.summary !== line.reason ? `: ${line.summary}` : ''}${line.status === 'open' ? '' : ` (${line.status})`}`]);
  if (lines.length > STORM_ROOT_LINES) shown.push([`… and ${lines.length - STORM_ROOT_LINES} more: `, { code: '/incident list' }]);
  return {
    tone: storm.status === 'open' ? 'critical' : 'ok',
    title: [storm.status === 'open' ? `#${storm.id} Alert storm: ${lines.length} incidents, ${open} open — details in the thread` : `Resolved: #${storm.id} alert storm (${lines.length} incidents) after ${formatDuration((storm.resolvedAt ?? now) - storm.firstBadAt)}`],
    fields: [['Reasons', [stormCounts(lines)]]],
    lines: shown,
    context: [`incident #${storm.id} · storm`],
  };
}
