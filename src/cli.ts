/**
 * The command line: parse it, validate the config, pick the face. Building the parts is main.ts's
 * job, loaded only for the modes that need it so check-config and schema stay fast.
 */
import { ConfigError, configJsonSchema, findConfigPath, loadConfigFile, parseConfig } from './config.js';
import { StoreError } from './store/db.js';

const usage = `driftwatch — deployment incidents in one Slack thread each

Usage: driftwatch [run|console|demo|check-config|schema|audit] [--config FILE]

  run           connect to Slack (SLACK_BOT_TOKEN + SLACK_APP_TOKEN, or SLACK_SIGNING_SECRET for HTTP mode)
  console       the same bot in this terminal: alerts print, commands are typed
  demo          the console against a built-in sandbox that replays the seed incidents (no network)
  check-config  validate the config file and exit
  schema        print the JSON Schema of the config file (--markdown: the reference table)
  audit         print the audit trail as JSON lines (--since 24h: how far back, default 24h)

With no subcommand: run when a config and Slack tokens are present, console when only a config
is, demo when there is no config. The config is --config, else $DRIFTWATCH_CONFIG, else ./driftwatch.yml.
`;

const howToConfigure = `No configuration found, so nothing is watched yet.
Write driftwatch.yml (or pass --config FILE / set DRIFTWATCH_CONFIG), for example:

  slack: { channel: C0ALERTS }
  clusters: [{ name: prod, context: prod-admin }]
  workers: [{ name: my-worker, cluster: prod }]
  endpoints: [{ name: web, url: https://example.com/, versionHeader: X-Version, expect: "1.2.3" }]

Then \`driftwatch check-config\` validates it and \`driftwatch schema\` prints every key.
Type "help" for the commands.
`;

function parseArgs(argv: string[]): { command?: string; configPath?: string; since?: string } {
  let command: string | undefined;
  let configPath: string | undefined;
  let since: string | undefined;
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index]!;
    if (arg === '--config' || arg === '-c') configPath = argv[++index];
    else if (arg === '--since') since = argv[++index] ?? '';
    else if (arg.startsWith('--since=')) since = arg.slice('--since='.length);
    else if (arg.startsWith('--config=')) configPath = arg.slice('--config='.length);
    else if (arg === '--help' || arg === '-h') command = 'help';
    else if (arg === '--markdown') continue;
    else if (!command) command = arg;
    else throw new ConfigError('command line', [`unexpected argument "${arg}"`]);
  }
  return { command, ...(configPath ? { configPath } : {}), ...(since !== undefined ? { since } : {}) };
}

function slackTokensPresent(env: NodeJS.ProcessEnv): boolean {
  return Boolean(env.SLACK_BOT_TOKEN && (env.SLACK_APP_TOKEN || env.SLACK_SIGNING_SECRET));
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  try {
    const { command, configPath: explicit, since } = parseArgs(argv);
    if (command === 'help') {
      process.stdout.write(usage);
      return;
    }
    if (command === 'schema') {
      if (argv.includes('--markdown')) {
        const { configReference } = await import('./config-reference.js');
        process.stdout.write(configReference(configJsonSchema()));
        return;
      }
      process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
      return;
    }
    const configPath = findConfigPath(explicit, env);
    if (command === 'check-config') {
      if (!configPath) throw new ConfigError('check-config', ['no config file: pass --config FILE, set DRIFTWATCH_CONFIG, or write ./driftwatch.yml']);
      const config = loadConfigFile(configPath);
      process.stdout.write(
        `${configPath}: ok — ${config.clusters.length} cluster(s), ${config.workers.length} worker(s), ${config.workloads.length} workload(s), ${config.images.length} image(s), ${config.endpoints.length} endpoint(s)\n`,
      );
      return;
    }
    if (command === 'audit') {
      const config = configPath ? loadConfigFile(configPath) : parseConfig({}, 'defaults');
      const { printAudit } = await import('./audit-cli.js');
      printAudit(config.store.url ?? config.store.path, since ?? '24h', process.stdout);
      return;
    }
    if (since !== undefined) throw new ConfigError('command line', ['--since belongs to `driftwatch audit`']);
    const mode = command ?? (configPath ? (slackTokensPresent(env) ? 'run' : 'console') : 'demo');
    if (!['run', 'console', 'demo'].includes(mode)) {
      process.stderr.write(`driftwatch: unknown command "${mode}"\n\n${usage}`);
      process.exitCode = 2;
      return;
    }
    if (mode === 'demo') {
      // The narrator says what matters on stdout; the log keeps to warnings unless asked.
      if (!env.LOG_LEVEL) process.env.LOG_LEVEL = 'warn';
      const { runDemo } = await import('./main.js');
      await runDemo();
      return;
    }
    const config = configPath ? loadConfigFile(configPath) : parseConfig({}, 'defaults');
    if (mode === 'console') {
      const { runConsole } = await import('./main.js');
      await runConsole(config, configPath ? `Driftwatch console (${configPath}). Type "help" for the commands.\n` : howToConfigure);
      return;
    }
    if (!config.slack.channel) throw new ConfigError(configPath ?? 'config', ['slack.channel: required in run mode (the channel alerts go to, like C0ALERTS)']);
    const { runSlack } = await import('./main.js');
    await runSlack(config, env);
  } catch (error) {
    if (error instanceof ConfigError || error instanceof StoreError) {
      process.stderr.write(`driftwatch: ${error.message}\n`);
      process.exitCode = 2;
      return;
    }
    throw error;
  }
}
