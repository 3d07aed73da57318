import { App, HTTPReceiver, LogLevel, SocketModeReceiver, type RespondFn, type webApi } from '@slack/bolt';
import { guardSlackRequests } from './request-guard.js';
import type { CommandFace } from '../runtime.js';
import type { CommandContext, CommandReply } from '../commands/types.js';
import type { MessageModel } from '../domain/messages.js';
import type { Logger } from '../log.js';
import { actionOf, toSlack } from './render.js';
import { SlackPeople } from './people.js';
import { SLACK_CALL_TIMEOUT_MS } from './service.js';
import { incidentVisible, notInThisChannel } from '../commands/visibility.js';

/** A payload without a channel is a foreign one (PRODUCTION.md "Visibility"): no incident lives here. */
const NO_CHANNEL = 'no-channel';

export interface SlackSettings {
  mode: 'socket' | 'http';
  botToken: string;
  appToken?: string;
  signingSecret?: string;
  apiUrl?: string;
  port: number;
}

/** Bolt's logger interface on top of ours, so Bolt's lines are redacted like every other. */
function boltLogger(log: Logger) {
  let level = LogLevel.INFO;
  return {
    debug: (...args: unknown[]) => log.debug(args.map(String).join(' ')),
    info: (...args: unknown[]) => log.info(args.map(String).join(' ')),
    warn: (...args: unknown[]) => log.warn(args.map(String).join(' ')),
    error: (...args: unknown[]) => log.error(args.map(String).join(' ')),
    setLevel: (next: LogLevel) => void (level = next),
    getLevel: () => level,
    setName: () => {},
  };
}

const confirmButtons = (id: string): MessageModel['buttons'] => [
  { action: 'confirm', label: 'Confirm', value: id, style: 'primary' },
  { action: 'cancel', label: 'Cancel', value: id },
];

/**
 * The Bolt app: slash commands, buttons and the "Add to timeline" shortcut, all acked first and
 * answered after, through the same command bus the console uses.
 */
export function createSlackApp(runtime: CommandFace, settings: SlackSettings): { app: App; client: webApi.WebClient; connected: () => boolean } {
  const log = runtime.log.child({ component: 'slack' });
  // Our outbox handles 429 and 5xx itself (with its own backoff), so the client must not retry.
  // Every call has a 10 s timeout (PRODUCTION.md): a call that never answers must not hold a lane.
  const clientOptions = { ...(settings.apiUrl ? { slackApiUrl: settings.apiUrl } : {}), retryConfig: { retries: 0 }, rejectRateLimitedCalls: true, timeout: SLACK_CALL_TIMEOUT_MS };
  const logger = boltLogger(log);
  const socketReceiver = settings.mode === 'socket' ? new SocketModeReceiver({ appToken: settings.appToken!, logger, clientPingTimeout: 2000, installerOptions: { clientOptions } }) : undefined;
  const httpReceiver = socketReceiver ? undefined : new HTTPReceiver({ signingSecret: settings.signingSecret!, logger, port: settings.port });
  if (httpReceiver) {
    // Timestamps off either way and replayed signatures are refused before Bolt sees the request.
    httpReceiver.requestListener = guardSlackRequests(httpReceiver.requestListener, {
      secret: settings.signingSecret!,
      refused: (reason) => log.warn({ reason }, 'refused a Slack request'),
    });
  }
  const app = new App({ token: settings.botToken, receiver: (socketReceiver ?? httpReceiver)!, logger, clientOptions });
  // /readyz follows the socket: up on `connected`, down while it reconnects. HTTP mode is up once listening.
  let socketUp = false;
  socketReceiver?.client.on('connected', () => (socketUp = true));
  // `close` is the socket itself going away; the client waits a little before `reconnecting`.
  for (const down of ['close', 'disconnected', 'reconnecting']) socketReceiver?.client.on(down, () => (socketUp = false));

  const answer = async (respond: RespondFn, reply: CommandReply) => {
    if (reply.kind === 'confirm') {
      await respond({ response_type: 'ephemeral', ...toSlack({ ...reply.preview, buttons: confirmButtons(reply.id) }) });
      return;
    }
    await respond({ response_type: reply.visibility === 'channel' ? 'in_channel' : 'ephemeral', ...toSlack(reply.message) });
  };

  const failure = (error: unknown): MessageModel => {
    log.error({ err: error }, 'command failed');
    return { tone: 'critical', title: ['Something went wrong handling that; it was logged. Nothing was changed.'] };
  };

  for (const family of runtime.bus.families()) {
    app.command(`/${family}`, async ({ command, ack, respond }) => {
      await ack();
      const ctx: CommandContext = { user: command.user_id, channel: command.channel_id, face: 'slack' };
      try {
        await answer(respond, await runtime.bus.dispatch(family, command.text ?? '', ctx));
      } catch (error) {
        await respond({ response_type: 'ephemeral', ...toSlack(failure(error)) }).catch(() => {});
      }
    });
  }

  app.action(/^dw_/, async ({ ack, body, action, respond }) => {
    await ack();
    if (body.type !== 'block_actions' || action.type !== 'button' || !('action_id' in action)) return;
    const kind = actionOf(action.action_id);
    const channel = body.channel?.id ?? body.container?.channel_id ?? NO_CHANNEL;
    const messageTs = (body.message as { ts?: string; thread_ts?: string } | undefined)?.thread_ts ?? body.message?.ts;
    const ctx: CommandContext = { user: body.user.id, channel, face: 'slack', ...(messageTs ? { threadTs: messageTs } : {}) };
    try {
      // A button about an incident acts only from the incident's own channel.
      const incidentId = kind && kind !== 'confirm' && kind !== 'cancel' ? buttonIncident(kind, action.value ?? '') : undefined;
      if (incidentId !== undefined) {
        const incident = runtime.store.incidents.incident(incidentId);
        if (!incidentVisible(incident, ctx)) {
          runtime.audit({ actor: ctx.user, action: `button ${kind}`, target: `#${incidentId}`, result: `refused: not in channel ${channel}`, ...(incident ? { incidentId } : {}) });
          await respond({ response_type: 'ephemeral', replace_original: false, ...toSlack({ tone: 'warning', title: [notInThisChannel(incidentId)] }) });
          return;
        }
      } else if (kind !== 'confirm' && kind !== 'cancel' && kind !== 'incident_list_more') {
        // "More" of /incident list names no incident: it lists the pressing channel's own.
        runtime.audit({ actor: ctx.user, action: `button ${String(kind).slice(0, 40)}`, target: String(action.value ?? '').slice(0, 200), result: 'refused: the button names no incident' });
        return;
      }
      switch (kind) {
        case 'confirm':
        case 'cancel': {
          const outcome = await runtime.bus.decide(action.value ?? '', body.user.id, kind === 'confirm', ctx);
          await respond({ replace_original: true, ...toSlack(outcome) });
          return;
        }
        case 'ack': {
          await answer(respond, await runtime.bus.dispatch('incident', `ack #${incidentId}`, ctx));
          return;
        }
        default: {
          const commandText = buttonCommand(kind, action.value ?? '');
          if (!commandText) return;
          await answer(respond, await runtime.bus.dispatch(commandText.family, commandText.text, ctx));
        }
      }
    } catch (error) {
      await respond({ response_type: 'ephemeral', ...toSlack(failure(error)) }).catch(() => {});
    }
  });

  app.shortcut('add_to_timeline', async ({ ack, shortcut, client }) => {
    await ack();
    if (shortcut.type !== 'message_action') return;
    const channel = shortcut.channel?.id;
    const message = shortcut.message as { ts?: string; thread_ts?: string; text?: string; user?: string } | undefined;
    const threadTs = message?.thread_ts ?? message?.ts;
    if (!channel || !message || !threadTs) return;
    // Threads are looked up within the shortcut's own channel, so a message elsewhere names no incident here.
    const incidentId = runtime.store.incidents.incidentByThread(channel, threadTs);
    const incident = incidentId !== undefined ? runtime.store.incidents.incident(incidentId) : undefined;
    const tell = (text: string) => client.chat.postEphemeral({ channel, user: shortcut.user.id, text }).catch((error) => log.warn({ err: error }, 'ephemeral failed'));
    if (!incidentId || !incidentVisible(incident, { face: 'slack', channel })) {
      await tell('That message is not in an incident thread; use /incident note #id <text> instead.');
      return;
    }
    const author = message.user ? ` (from <@${message.user}>)` : '';
    runtime.engine.note(incidentId, shortcut.user.id, `${(message.text ?? '').slice(0, 1500)}${author}`, 'shortcut');
    await tell(`Added to the timeline of #${incidentId}.`);
  });

  // The bot was invited: messages Slack refused in that channel (not_in_channel) go out now, in order.
  app.event('member_joined_channel', async ({ event, context }) => {
    if (event.user === context.botUserId) runtime.channelJoined(event.channel);
  });

  // Anything else Slack may send (an old button, a forged action id, another shortcut) is acked
  // and ignored, so Slack never shows the user a timeout for it.
  app.action(/^(?!dw_)/, async ({ ack }) => {
    await ack();
  });
  app.shortcut(/^(?!add_to_timeline$)/, async ({ ack }) => {
    await ack();
  });

  app.error(async (error) => {
    log.error({ err: error }, 'slack app error');
  });

  runtime.people = new SlackPeople(app.client);
  return { app, client: app.client, connected: () => (socketReceiver ? socketUp : true) };
}

/** The incident a button is about: the ack button's value is its id, the others carry `incident` in their JSON. */
export function buttonIncident(kind: string, value: string): number | undefined {
  if (kind === 'ack') return /^\d{1,12}$/.test(value) ? Number(value) : undefined;
  try {
    const parsed = JSON.parse(value) as unknown;
    const incident = parsed && typeof parsed === 'object' ? (parsed as { incident?: unknown }).incident : undefined;
    return typeof incident === 'number' && Number.isSafeInteger(incident) ? incident : undefined;
  } catch {
    return undefined;
  }
}

/** What a button on an alert means as a command (buttons pass the same checks as commands). */
export function buttonCommand(kind: string | undefined, value: string): { family: string; text: string } | undefined {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(value) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const incident = typeof parsed.incident === 'number' ? ` #${parsed.incident}` : '';
  switch (kind) {
    case 'worker_pin':
      return { family: 'worker', text: `pin ${String(parsed.worker)} ${String(parsed.digest)}` };
    case 'rollout_restart':
      return { family: 'rollout', text: `restart ${String(parsed.subject)}` };
    case 'mute':
      return { family: 'incident', text: `mute${incident} 1h` };
    case 'incident_list_more': {
      // The next page of `/incident list`, in the channel the button was pressed in.
      const from = typeof parsed.from === 'number' && Number.isInteger(parsed.from) && parsed.from >= 0 ? parsed.from : undefined;
      return from === undefined ? undefined : { family: 'incident', text: `list${parsed.all === true ? ' all' : ''} from ${from}` };
    }
    default:
      return undefined;
  }
}
