/**
 * PRODUCTION.md "Visibility": an incident lives in its channel. One copy of the decision, used
 * by the /incident commands, the buttons and the message shortcut.
 */
import type { IncidentRecord } from '../domain/model.js';
import type { CommandContext } from './types.js';

/** The console sees everything; Slack sees an incident only from the channel it was routed to. */
export function incidentVisible(incident: Pick<IncidentRecord, 'channel'> | undefined, ctx: Pick<CommandContext, 'face' | 'channel'>): incident is Pick<IncidentRecord, 'channel'> {
  if (!incident) return false;
  return ctx.face === 'console' || incident.channel === ctx.channel;
}

/**
 * The only answer about an incident that is not visible here: the same words whether it exists
 * elsewhere or not at all, so a DM cannot probe ids, titles or channels.
 */
export function notInThisChannel(id: number | string): string {
  return `#${String(id).replace(/^#/, '').slice(0, 20)} is not in this channel.`;
}
