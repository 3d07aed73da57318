// The floor of the slash-command ack benchmark: a bare Bolt app in Socket Mode that acks
// `/incident` and answers through response_url, nothing else — the same library, transport and
// receiver options as the product, without the product. Started by bench/slack.bench.ts as a
// child process:  SLACK_BOT_TOKEN=… SLACK_APP_TOKEN=… SLACK_API_URL=… node bench/bare-bolt.mjs
import bolt from '@slack/bolt';

const { App, LogLevel, SocketModeReceiver } = bolt;
const clientOptions = { slackApiUrl: process.env.SLACK_API_URL, retryConfig: { retries: 0 }, rejectRateLimitedCalls: true };
const receiver = new SocketModeReceiver({ appToken: process.env.SLACK_APP_TOKEN, logLevel: LogLevel.ERROR, clientPingTimeout: 2000, installerOptions: { clientOptions } });
const app = new App({ token: process.env.SLACK_BOT_TOKEN, receiver, logLevel: LogLevel.ERROR, clientOptions });
app.command('/incident', async ({ ack, respond }) => {
  await ack();
  await respond({ response_type: 'ephemeral', text: 'No incidents.' });
});
await app.start();
process.on('SIGTERM', async () => {
  await app.stop().catch(() => {});
  process.exit(0);
});
