import { formatDuration } from '../domain/duration.js';
import { shortDigest } from '../domain/image-ref.js';
import type { Button, Line, MessageModel } from '../domain/messages.js';
import { describeSubject } from '../domain/subjects.js';
import { problemKinds, type IncidentRecord, type NoticeObservation, type ProblemRecord } from '../domain/model.js';

/** Message templates: pure functions from stored state to the message model. */

function problemLine(problem: ProblemRecord, primarySubject: string): Line {
  const label = problemKinds[problem.kind].label;
  const who = problem.subject === primarySubject ? '' : ` — ${describeSubject(problem.subject)}`;
  const state = problem.state === 'ok' ? ' (recovered)' : problem.state === 'recovering' ? ' (recovering)' : '';
  return [`• ${label}${who}: ${problem.summary}${state}`];
}

export function incidentTitle(incident: Pick<IncidentRecord, 'id' | 'primarySubject'>, primary: ProblemRecord | undefined): string {
  const label = primary ? problemKinds[primary.kind].label : 'incident';
  return `#${incident.id} ${describeSubject(incident.primarySubject)}: ${label}`;
}

/** What the title names: the primary subject's problem that is still open, else its first. */
export function primaryProblem(incident: Pick<IncidentRecord, 'primarySubject'>, problems: ProblemRecord[]): ProblemRecord | undefined {
  const ofPrimary = problems.filter((problem) => problem.subject === incident.primarySubject);
  return ofPrimary.find((problem) => problem.state !== 'ok') ?? ofPrimary[0] ?? problems[0];
}

/** The root message of an incident thread, kept current with every change. */
export function renderRoot(incident: IncidentRecord, problems: ProblemRecord[], options: { now: number }): MessageModel {
  const open = incident.status === 'open';
  const primary = primaryProblem(incident, problems);
  const fields: Array<[string, Line]> = [];
  if (open) fields.push(['Status', ['Open since ', { at: incident.openedAt }]]);
  else fields.push(['Status', ['Resolved ', { at: incident.resolvedAt ?? options.now }, ` after ${formatDuration((incident.resolvedAt ?? options.now) - incident.firstBadAt)}`]]);
  fields.push(['First bad signal', [{ at: incident.firstBadAt }]]);
  if (incident.acknowledgedBy) fields.push(['Acknowledged', [{ user: incident.acknowledgedBy }, ' ', { at: incident.acknowledgedAt ?? options.now }]]);
  for (const problem of problems) for (const [label, value] of problem.detail.fields ?? []) fields.push([label, [value]]);

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
  const quote = problems.flatMap((problem) => (problem.state !== 'ok' ? (problem.detail.quote ?? []) : []));
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

export function renderNotice(notice: Required<Pick<NoticeObservation, 'subject' | 'kind' | 'summary' | 'at'>> & Pick<NoticeObservation, 'lines'>): MessageModel {
  return {
    tone: 'info',
    title: [notice.summary],
    ...(notice.lines?.length ? { lines: notice.lines.map((line) => [line]) } : {}),
    context: [{ at: notice.at }, ` · ${notice.kind.replace(/_/g, ' ')} · ${notice.subject}`],
  };
}

export function renderReply(tone: MessageModel['tone'], text: Line, extra: Line[] = []): MessageModel {
  return { tone, title: text, ...(extra.length ? { lines: extra } : {}) };
}

/** The storm message: one line per incident threaded under it, kept current. */
export function renderStormRoot(storm: IncidentRecord, members: IncidentRecord[], now: number): MessageModel {
  const open = members.filter((member) => member.status === 'open').length;
  return {
    tone: storm.status === 'open' ? 'critical' : 'ok',
    title: [storm.status === 'open' ? `#${storm.id} Alert storm: ${members.length} incidents, ${open} open — details in the thread` : `Resolved: #${storm.id} alert storm (${members.length} incidents) after ${formatDuration((storm.resolvedAt ?? now) - storm.firstBadAt)}`],
    lines: members.map((member) => [`• ${member.title} — ${member.status}`]),
    context: [`incident #${storm.id} · storm`],
  };
}
