/**
 * Wiring only: build the parts from the config and start the face that was picked — Slack
 * (`run`), the terminal (`console`), or the terminal against the built-in sandbox (`demo`).
 * Only cli.ts imports this file.
 */
import { ConfigError, type Config } from './config.js';
import { logger } from './log.js';
import { Runtime } from './runtime.js';
import { ConsoleApp } from './console/app.js';

/** `driftwatch run`: the bot connected to Slack, until SIGTERM. */
export async function runSlack(config: Config, env: NodeJS.ProcessEnv): Promise<void> {
  const botToken = env.SLACK_BOT_TOKEN;
  const mode = config.slack.mode;
  if (!botToken) throw new ConfigError('environment', ['SLACK_BOT_TOKEN: required to run against Slack (xoxb-…)']);
  if (mode === 'socket' && !env.SLACK_APP_TOKEN) throw new ConfigError('environment', ['SLACK_APP_TOKEN: required in Socket Mode (xapp-…); or set slack.mode: http with SLACK_SIGNING_SECRET']);
  if (mode === 'http' && !env.SLACK_SIGNING_SECRET) throw new ConfigError('environment', ['SLACK_SIGNING_SECRET: required in HTTP mode']);
  // Bolt is loaded only here: `console` and `demo` never need it.
  const [{ createSlackApp }, { SlackService }, { SlackConnection }] = await Promise.all([import('./slack/app.js'), import('./slack/service.js'), import('./slack/connection.js')]);
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
  // Socket Mode with `ha`: only the leader holds the connection. HTTP mode listens on every replica.
  const onLeadership = config.ha !== undefined && mode === 'socket';
  const slack = new SlackConnection(app, log, onLeadership ? 'on leadership' : 'always');
  await runtime.startServices({ service: new SlackService(client), slackConnected: () => slack.open && connected(), ...(onLeadership ? { leadership: slack } : {}) });
  if (!onLeadership) {
    slack.startedLeading();
    await slack.opened();
    log.info({ mode, channel: config.slack.channel }, 'driftwatch connected to Slack');
  } else {
    log.info({ mode, channel: config.slack.channel, lease: `${config.ha!.namespace}/${config.ha!.lease}` }, 'driftwatch started; it holds the Slack connection while it leads');
  }
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
        await Promise.race([slack.stoppedLeading(), new Promise((done) => setTimeout(done, 1_500).unref())]);
        // With `ha`, a second is kept for giving the Lease up after the drain, so a standby leads at once.
        await runtime.shutdown(Math.max(0, deadline - Date.now() - (config.ha ? 1_000 : 0)));
        resolve();
        // A hung call's socket would keep the process alive after everything is closed.
        process.exit(0);
      })();
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });
}

/** `driftwatch console`: the same bot in this terminal, until stdin ends or SIGTERM. */
export async function runConsole(config: Config, banner: string): Promise<void> {
  const runtime = new Runtime(config, { log: logger() });
  const app = new ConsoleApp(runtime);
  await runtime.startServices({ service: app.service() });
  const stop = async () => {
    await runtime.shutdown();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
  process.stdout.write(banner);
  await app.run(process.stdin);
  await runtime.shutdown();
  // stdin, keep-alive sockets and timers would keep a finished console alive.
  process.exit(0);
}

/** `driftwatch demo`: the console against a sandbox that replays the seed incidents, no network. */
export async function runDemo(): Promise<void> {
  // Loaded only here: `run` and `console` never need the sandbox.
  const { startDemo, autopilot } = await import('./sandbox/index.js');
  const demo = await startDemo();
  // The demo always serves the status page, so the seeds can be watched unfold in a browser too.
  const config: Config = { ...demo.sandbox.config, statusPage: demo.sandbox.config.statusPage ?? {} };
  const runtime = new Runtime(config, { log: logger(), kubeRecheckMs: 2000 });
  const app = new ConsoleApp(runtime);
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      demo.story.stop();
      await runtime.shutdown(2_000);
      await demo.close();
      // stdin, keep-alive sockets and timers would keep a finished demo alive.
      process.exit(0);
    })());
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
  await runtime.startServices({ service: app.service() });
  process.stdout.write(demo.banner);
  if (runtime.webPort !== undefined) process.stdout.write(`Status page: http://127.0.0.1:${runtime.webPort}/\n\n`);
  demo.story.start();
  const ended = await app.run(process.stdin);
  if (ended === 'eof' && !stopping && demo.story.currentPhase !== 'done') {
    await autopilot(demo, {
      openIncidents: () => runtime.store.incidents.openIncidents().map((incident) => incident.primarySubject),
      type: (line) => app.handleLine(line),
      say: (text) => process.stdout.write(text),
    });
  }
  await stop();
}
