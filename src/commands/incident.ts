import type { Clock } from '../domain/clock.js';
import { parseDuration } from '../domain/duration.js';
import { renderSummary, summaryMarkdown } from '../incidents/summary.js';
import { withIncidentPage } from '../incidents/render.js';
import type { IncidentEngine } from '../incidents/engine.js';
import { INCIDENT_LIST_PAGE, renderIncidentList, renderTimeline, timelineFile } from '../incidents/timeline.js';
import { chartModel } from '../incidents/chart.js';
import { renderChartSvg } from '../incidents/chart-svg.js';
import { peopleOf } from '../incidents/words.js';
import { idsAsNames, namesOf, type PeopleDirectory } from './people.js';
import type { IncidentRecord } from '../domain/model.js';
import type { MessageModel } from '../domain/messages.js';
import type { Store } from '../store/index.js';
import { info, PlainRefusal, UsageError, type CommandContext, type CommandSpec } from './types.js';
import { incidentVisible, notInThisChannel } from './visibility.js';
import type { AccessPolicy } from './access.js';
import type { AuditNote } from './audit.js';

/**
 * Which incident a command means (DESIGN.md): an explicit `#id`; else the thread it came from;
 * else the channel's one open incident; several open → the list of ids; none → the most recent.
 */
export function resolveIncident(
  store: Store,
  ctx: CommandContext,
  words: string[],
  onForeign?: (id: number, incident: IncidentRecord | undefined) => void,
): { incident: IncidentRecord; rest: string[] } {
  const [first, ...rest] = words;
  // `#12` is an id; a bare `12` only when nothing follows (`note 3 pods restarted` is a note).
  if (first && (/^#\d+$/.test(first) || (/^\d+$/.test(first) && rest.length === 0))) {
    const id = Number(first.replace('#', ''));
    const incident = Number.isSafeInteger(id) ? store.incidents.incident(id) : undefined;
    // Elsewhere and nowhere get the same words (PRODUCTION.md "Visibility").
    if (!incident || !incidentVisible(incident, ctx)) {
      onForeign?.(id, incident);
      throw new PlainRefusal(notInThisChannel(first));
    }
    return { incident, rest };
  }
  if (ctx.threadTs) {
    const id = store.incidents.incidentByThread(ctx.channel, ctx.threadTs);
    const incident = id ? store.incidents.incident(id) : undefined;
    if (incident) return { incident, rest: words };
  }
  const open = store.incidents.openIncidents(ctx.face === 'console' ? undefined : ctx.channel);
  if (open.length === 1) return { incident: open[0]!, rest: words };
  if (open.length > 1) throw new UsageError(`Several incidents are open here: ${open.map((incident) => `#${incident.id}`).join(', ')} — name one.`);
  const recent = store.incidents.recentIncidents(1, ctx.face === 'console' ? undefined : ctx.channel)[0];
  if (!recent) throw new UsageError('There are no incidents yet.');
  return { incident: recent, rest: words };
}

/** What the /incident commands need: the incidents, the engine that records actions, the clock, how times are written. */
export interface IncidentCommandDeps {
  store: Store;
  engine: IncidentEngine;
  clock: Clock;
  formatTime: (at: number) => string;
  /** Display names for summaries (Slack's users.info); ids when absent. */
  people?: () => PeopleDirectory;
  /** The optional rules `incident resolve|mute|ack`: checked only when the config has them. */
  access?: Pick<AccessPolicy, 'check' | 'hasRule'>;
  /** Refusals go to the audit trail (and the incident's timeline when one is named). */
  audit?: (note: AuditNote) => void;
  /** The incident's status page address, linked from its summary (statusPage.publicUrl). */
  pageUrl?: (id: number) => string | undefined;
}

export function incidentCommands(deps: IncidentCommandDeps): CommandSpec[] {
  const { store, engine, clock, formatTime } = deps;
  const people = deps.people ?? (() => idsAsNames);
  const family = 'incident';
  const find = (ctx: CommandContext, words: string[], verb: string) =>
    resolveIncident(store, ctx, words, (id, incident) =>
      deps.audit?.({ actor: ctx.user, action: `incident ${verb}`, target: `#${id}`, result: `refused: not in channel ${ctx.channel}`, ...(incident ? { incidentId: incident.id } : {}) }),
    );
  /** Without a rule anyone in the incident's channel may; with one, only whom it names. */
  const allowed = async (verb: string, ctx: CommandContext, incident: IncidentRecord): Promise<void> => {
    const rule = `incident ${verb}`;
    if (ctx.face === 'console' || !deps.access?.hasRule(rule)) return;
    const decision = await deps.access.check(rule, ctx.user, ctx.channel);
    if (decision.allowed) return;
    deps.audit?.({ actor: ctx.user, action: rule, target: `#${incident.id}`, result: `denied: ${decision.reason}`, incidentId: incident.id });
    throw new PlainRefusal(`Not allowed: ${decision.reason}`);
  };
  return [
    {
      family,
      name: 'list',
      usage: '/incident list [all] [from <n>]',
      summary: 'open incidents (with `all`, the most recent too), 20 at a time with a "More" button',
      async handle(args, ctx): Promise<MessageModel> {
        const channel = ctx.face === 'console' ? undefined : ctx.channel;
        const all = args[0] === 'all';
        const rest = all ? args.slice(1) : args;
        let from = 0;
        if (rest.length > 0) {
          if (rest[0] !== 'from' || rest.length !== 2 || !/^\d+$/.test(rest[1]!)) throw new UsageError(`"${rest.join(' ')}" is not an option of list: /incident list [all] [from <n>]`);
          from = Number(rest[1]);
        }
        const incidents = all ? store.incidents.recentIncidents(from + INCIDENT_LIST_PAGE + 1_000, channel) : store.incidents.openIncidents(channel);
        return renderIncidentList(incidents, clock.now(), { from, all });
      },
    },
    {
      family,
      name: 'timeline',
      usage: '/incident timeline [#id] [all]',
      summary: 'the newest events of an incident (with `all`, the whole timeline as a file in its thread)',
      async handle(args, ctx) {
        const { incident, rest } = find(ctx, args, 'timeline');
        if (rest.length > 1 || (rest[0] !== undefined && rest[0] !== 'all')) throw new UsageError(`"${rest.join(' ')}" is not an option of timeline: /incident timeline [#id] [all]`);
        const events = store.events.forIncident(incident.id);
        const shown = renderTimeline(incident, events);
        if (rest[0] !== 'all') return shown;
        const nameOf = await namesOf(people(), peopleOf(events));
        const filename = `incident-${incident.id}-timeline.txt`;
        engine.attachFile(incident.id, { filename, title: `Incident #${incident.id} timeline (${events.length} events)`, content: timelineFile(incident, events, formatTime, nameOf) });
        return { ...shown, lines: [...(shown.lines ?? []), [`${filename} (all ${events.length} events) goes into the incident's thread.`]] };
      },
    },
    {
      family,
      name: 'note',
      usage: '/incident note [#id] <text>',
      summary: 'add a note to the timeline',
      async handle(args, ctx, rawArgs) {
        const { incident, rest } = find(ctx, args, 'note');
        // The note as typed, quotes and all; only a leading `#id` is taken off.
        const text = (rest.length < args.length ? rawArgs.replace(/^\s*#?\d+\s*/, '') : rawArgs).trim();
        if (!text) throw new UsageError('A note needs some text.');
        engine.note(incident.id, ctx.user, text);
        return info(`Noted on #${incident.id}.`);
      },
    },
    {
      family,
      name: 'ack',
      usage: '/incident ack [#id]',
      summary: 'acknowledge an incident',
      async handle(args, ctx) {
        const { incident } = find(ctx, args, 'ack');
        await allowed('ack', ctx, incident);
        const done = engine.acknowledge(incident.id, ctx.user);
        return info(done ? `Acknowledged #${incident.id}.` : `#${incident.id} was already acknowledged by <@${incident.acknowledgedBy}>.`);
      },
    },
    {
      family,
      name: 'summary',
      usage: '/incident summary [#id]',
      summary: 'what broke, TTD/TTA/TTM/TTR, actions and notes — with a Markdown file and a timeline chart for the postmortem',
      async handle(args, ctx) {
        const { incident } = find(ctx, args, 'summary');
        const events = store.events.forIncident(incident.id);
        const rootPostedAt = store.outbox.byKey(`inc-${incident.id}-root`)?.sentAt;
        const nameOf = await namesOf(people(), peopleOf(events));
        const markdown = `incident-${incident.id}-summary.md`;
        engine.attachFile(incident.id, { filename: markdown, title: `Incident #${incident.id} summary`, content: summaryMarkdown(incident, events, formatTime, rootPostedAt, nameOf) });
        const files = [markdown];
        const chart = `incident-${incident.id}-timeline.png`;
        let chartProblem: string | undefined;
        try {
          // The native renderer (~7 MB) loads with the first chart, not in every process that never draws one.
          const { chartTooLarge, svgToPng } = await import('../report/chart-png.js');
          const png = svgToPng(renderChartSvg(chartModel(incident, events, { now: clock.now(), rootPostedAt, nameOf, formatTime })));
          chartProblem = chartTooLarge(png);
          if (chartProblem === undefined) {
            engine.attachFile(incident.id, { filename: chart, title: `Incident #${incident.id} timeline`, content: png.toString('base64'), encoding: 'base64' });
            files.push(chart);
          }
        } catch (error) {
          chartProblem = `The timeline chart could not be drawn: ${(error as Error).message}`;
        }
        const summary = withIncidentPage(renderSummary(incident, events, rootPostedAt, nameOf), deps.pageUrl?.(incident.id));
        return { ...summary, lines: [...(summary.lines ?? []), [`${files.join(' and ')} go${files.length === 1 ? 'es' : ''} into the incident's thread.`], ...(chartProblem ? [[chartProblem]] : [])] };
      },
    },
    {
      family,
      name: 'mute',
      usage: '/incident mute [#id] [duration, default 1h]',
      summary: "mute an incident's subject: nothing new about it is posted until the mute expires",
      async handle(args, ctx) {
        const { incident, rest } = find(ctx, args, 'mute');
        await allowed('mute', ctx, incident);
        const duration = parseDuration(rest[0] ?? '1h');
        if (duration === undefined || duration <= 0 || duration > 7 * 86_400_000) throw new UsageError(`"${rest[0]}" is not a duration between 1s and 7d (like 30m or 1h).`);
        engine.mute(incident.primarySubject, clock.now() + duration, ctx.user, incident.id);
        return info(`Muted ${incident.primarySubject} (#${incident.id}) for ${rest[0] ?? '1h'}.`);
      },
    },
    {
      family,
      name: 'resolve',
      usage: '/incident resolve [#id] [reason]',
      summary: 'resolve an incident by hand',
      async handle(args, ctx) {
        const { incident, rest } = find(ctx, args, 'resolve');
        await allowed('resolve', ctx, incident);
        const reason = rest.join(' ').trim();
        const done = engine.resolveByHand(incident.id, ctx.user, reason || undefined);
        return info(done ? `Resolved #${incident.id}.` : `#${incident.id} is already resolved.`);
      },
    },
  ];
}
