import type { Config } from '../config.js';
import { ConfigError } from '../config.js';
import { logger } from '../log.js';
import { Runtime } from '../runtime.js';
import { SlackService } from './service.js';
import { createSlackApp } from './app.js';

/** `driftwatch run`: the bot connected to Slack, until SIGTERM. */
export async function runSlack(config: Config, env: NodeJS.ProcessEnv): Promise<void> {
  const botToken = env.SLACK_BOT_TOKEN;
  const mode = config.slack.mode;
  if (!botToken) throw new ConfigError('environment', ['SLACK_BOT_TOKEN: required to run against Slack (xoxb-…)']);
  if (mode === 'socket' && !env.SLACK_APP_TOKEN) throw new ConfigError('environment', ['SLACK_APP_TOKEN: required in Socket Mode (xapp-…); or set slack.mode: http with SLACK_SIGNING_SECRET']);
  if (mode === 'http' && !env.SLACK_SIGNING_SECRET) throw new ConfigError('environment', ['SLACK_SIGNING_SECRET: required in HTTP mode']);
  const log = logger();
  let groupLookup: ((group: string) => Promise<string[]>) | undefined;
  const runtime = new Runtime(config, { log, groupMembers: (group) => groupLookup?.(group) ?? Promise.resolve([]) });
  const { app, client, connected } = createSlackApp(runtime, {
    mode,
    botToken,
    ...(env.SLACK_APP_TOKEN ? { appToken: env.SLACK_APP_TOKEN } : {}),
    ...(env.SLACK_SIGNING_SECRET ? { signingSecret: env.SLACK_SIGNING_SECRET } : {}),
    ...(env.SLACK_API_URL ? { apiUrl: env.SLACK_API_URL } : {}),
    port: config.slack.port,
  });
  groupLookup = async (group) => (await client.usergroups.users.list({ usergroup: group })).users ?? [];
  let started = false;
  await runtime.startServices({ service: new SlackService(client), slackConnected: () => started && connected() });
  await app.start();
  started = true;
  log.info({ mode, channel: config.slack.channel }, 'driftwatch connected to Slack');
  await new Promise<void>((resolve) => {
    const shutdown = (signal: string) => {
      log.info({ signal }, 'shutting down: stopping watchers, draining the outbox (10 s at most)');
      // PRODUCTION.md: SIGTERM ends the process within 10 s, even with a Slack call hung.
      const deadline = Date.now() + 9_000;
      setTimeout(() => {
        log.warn('shutdown took too long; exiting with messages left in the outbox for the next start');
        process.exit(0);
      }, 9_500).unref();
      void (async () => {
        started = false;
        await Promise.race([app.stop().catch(() => {}), new Promise((done) => setTimeout(done, 1_500).unref())]);
        await runtime.shutdown(Math.max(0, deadline - Date.now()));
        resolve();
        // A hung call's socket would keep the process alive after everything is closed.
        process.exit(0);
      })();
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });
}
