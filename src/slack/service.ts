import type { types, webApi } from '@slack/bolt';
import { attachmentBytes, DeliveryError, type Delivery, type MessageService } from '../domain/messages.js';
import { toSlack } from './render.js';
import { redact } from '../log.js';

type WebClient = webApi.WebClient;

/** Slack errors that retrying cannot fix: stop the message and tell the operator once. */
const permanentErrors = new Set([
  'channel_not_found',
  'not_in_channel',
  'is_archived',
  'invalid_auth',
  'not_authed',
  'account_inactive',
  'token_revoked',
  'token_expired',
  'missing_scope',
  'no_permission',
  'restricted_action',
  'invalid_blocks',
  'invalid_blocks_format',
  'msg_too_long',
  'message_not_found',
  'cant_update_message',
  'invalid_metadata_format',
  'invalid_arguments',
]);

export const METADATA_EVENT = 'driftwatch_message';

/** Turns a WebClient failure into a DeliveryError: permanent or retryable, with Retry-After. */
export function classifySlackError(error: unknown, method: string): DeliveryError {
  const shaped = error as { code?: string; data?: { error?: string }; retryAfter?: number; statusCode?: number; message?: string };
  if (shaped.code === 'slack_webapi_rate_limited_error') {
    return new DeliveryError(`slack ${method}: rate limited (retry after ${shaped.retryAfter ?? 1}s)`, true, (shaped.retryAfter ?? 1) * 1000);
  }
  if (shaped.code === 'slack_webapi_platform_error') {
    const slackError = shaped.data?.error ?? 'unknown_error';
    return new DeliveryError(`slack ${method}: ${slackError}`, !permanentErrors.has(slackError));
  }
  if (shaped.code === 'slack_webapi_http_error') return new DeliveryError(`slack ${method}: HTTP ${shaped.statusCode ?? '?'}`, true);
  return new DeliveryError(`slack ${method}: ${shaped.message ?? String(error)}`, true);
}

/** Delivers outbox rows to Slack; every post carries its outbox key in message metadata. */
export class SlackService implements MessageService {
  constructor(private readonly client: WebClient) {}

  async post(delivery: Delivery): Promise<{ ts: string }> {
    const { text, blocks } = toSlack(delivery.message);
    try {
      const result = await this.client.chat.postMessage({
        channel: delivery.channel,
        text,
        blocks: blocks as unknown as types.KnownBlock[],
        ...(delivery.threadTs ? { thread_ts: delivery.threadTs } : {}),
        unfurl_links: false,
        unfurl_media: false,
        metadata: { event_type: METADATA_EVENT, event_payload: { key: delivery.key } },
      });
      if (!result.ts) throw new DeliveryError('slack chat.postMessage: answer without ts', true);
      return { ts: result.ts };
    } catch (error) {
      throw error instanceof DeliveryError ? error : classifySlackError(error, 'chat.postMessage');
    }
  }

  async update(delivery: Delivery & { ts: string }): Promise<void> {
    const { text, blocks } = toSlack(delivery.message);
    try {
      await this.client.chat.update({ channel: delivery.channel, ts: delivery.ts, text, blocks: blocks as unknown as types.KnownBlock[] });
    } catch (error) {
      throw classifySlackError(error, 'chat.update');
    }
  }

  async upload(delivery: Delivery & { threadTs: string }): Promise<void> {
    const file = delivery.message.attachment;
    if (!file) return;
    try {
      // Text is redacted on the way out; a binary file (the chart) was redacted as SVG before it was drawn.
      const body = file.encoding === 'base64' ? { file: attachmentBytes(file) } : { content: redact(file.content) };
      await this.client.filesUploadV2({ channel_id: delivery.channel, thread_ts: delivery.threadTs, filename: file.filename, title: file.title, ...body });
    } catch (error) {
      throw classifySlackError(error, 'files.uploadV2');
    }
  }

  /**
   * Looks for a message we posted under `key` since `since` — the answer to "did Slack accept
   * that post before we crashed?" — in the thread for replies, else in the channel history.
   */
  async findByKey(delivery: Delivery, since: number): Promise<{ ts: string } | undefined> {
    const oldest = String(Math.floor(since / 1000) - 60);
    const matches = (message: { ts?: string; metadata?: { event_type?: string; event_payload?: Record<string, unknown> } }) =>
      message.metadata?.event_type === METADATA_EVENT && message.metadata.event_payload?.key === delivery.key;
    try {
      let cursor: string | undefined;
      for (let page = 0; page < 10; page++) {
        const result = delivery.threadTs
          ? await this.client.conversations.replies({ channel: delivery.channel, ts: delivery.threadTs, oldest, include_all_metadata: true, limit: 200, ...(cursor ? { cursor } : {}) })
          : await this.client.conversations.history({ channel: delivery.channel, oldest, include_all_metadata: true, limit: 200, ...(cursor ? { cursor } : {}) });
        const found = (result.messages ?? []).find((message) => matches(message as never));
        if (found?.ts) return { ts: found.ts };
        cursor = result.response_metadata?.next_cursor || undefined;
        if (!cursor) return undefined;
      }
      return undefined;
    } catch (error) {
      throw classifySlackError(error, delivery.threadTs ? 'conversations.replies' : 'conversations.history');
    }
  }
}
