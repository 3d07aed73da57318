import { createHash } from 'node:crypto';
import type { types, webApi } from '@slack/bolt';
import { attachmentBytes, DeliveryError, type Delivery, type MessageService } from '../domain/messages.js';
import { MethodPauses } from '../delivery/method-pauses.js';
import { toSlack } from './render.js';
import { redact } from '../log.js';

type WebClient = webApi.WebClient;

/** Slack errors that retrying cannot fix: stop the message and tell the operator once. */
const permanentErrors = new Set([
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

/** Slack refuses these until the bot is in the channel: the message is kept, not dropped. */
const refusedErrors = new Set(['channel_not_found', 'not_in_channel', 'is_archived']);

/** Slack documents that the call may have partly succeeded before these: an unknown outcome. */
const maybeDoneErrors = new Set(['internal_error', 'fatal_error']);

export const METADATA_EVENT = 'driftwatch_message';

/** PRODUCTION.md: every Web API call has a timeout. */
export const SLACK_CALL_TIMEOUT_MS = 10_000;

/**
 * Turns a WebClient failure into a DeliveryError. An answer (ok:false, 4xx, 429) is a definite
 * outcome: the call did nothing. A timeout, 5xx, reset or an `internal_error` / `fatal_error`
 * is unknown: Slack may have done it.
 */
export function classifySlackError(error: unknown, method: string): DeliveryError {
  if (error instanceof DeliveryError) return error;
  const shaped = error as { code?: string; data?: { error?: string }; retryAfter?: number; statusCode?: number; message?: string };
  if (shaped.code === 'slack_webapi_rate_limited_error') {
    return new DeliveryError(`slack ${method}: rate limited (retry after ${shaped.retryAfter ?? 1}s)`, true, (shaped.retryAfter ?? 1) * 1000, 'definite');
  }
  if (shaped.code === 'slack_webapi_platform_error') {
    const slackError = shaped.data?.error ?? 'unknown_error';
    if (refusedErrors.has(slackError)) return new DeliveryError(`slack ${method}: ${slackError}`, false, undefined, 'refused');
    if (maybeDoneErrors.has(slackError)) return new DeliveryError(`slack ${method}: ${slackError}`, true, undefined, 'unknown');
    return new DeliveryError(`slack ${method}: ${slackError}`, !permanentErrors.has(slackError), undefined, 'definite');
  }
  if (shaped.code === 'slack_webapi_http_error') {
    const status = shaped.statusCode ?? 0;
    if (status === 429) return new DeliveryError(`slack ${method}: HTTP 429`, true, 1000, 'definite');
    return new DeliveryError(`slack ${method}: HTTP ${status || '?'}`, true, undefined, status >= 400 && status < 500 ? 'definite' : 'unknown');
  }
  return new DeliveryError(`slack ${method}: ${shaped.message ?? String(error)}`, true, undefined, 'unknown');
}

/**
 * The title a file is uploaded under: its own title and a short id derived from the outbox key.
 * Slack files carry no metadata, so this makes the search after an unknown outcome match this
 * row's file only, not an earlier upload with the same title.
 */
export function uploadTitle(title: string, key: string): string {
  return `${title} · ${createHash('sha256').update(key).digest('hex').slice(0, 8)}`;
}

export interface SlackServiceOptions {
  /** Per Web API call (default 10 s). */
  timeoutMs?: number;
  /**
   * After a files.completeUploadExternal with an unknown outcome, how long before the search for
   * the file (default 3 × timeoutMs): the request may still be on its way, and Slack shares the
   * file into the thread asynchronously.
   */
  uploadSettleMs?: number;
  /** Shared pauses per method (one per process). */
  pauses?: MethodPauses;
}

/** Delivers outbox rows to Slack; every post carries its outbox key in message metadata. */
export class SlackService implements MessageService {
  private readonly timeoutMs: number;
  private readonly uploadSettleMs: number;
  readonly pauses: MethodPauses;

  constructor(
    private readonly client: WebClient,
    options: SlackServiceOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? SLACK_CALL_TIMEOUT_MS;
    this.uploadSettleMs = options.uploadSettleMs ?? 3 * this.timeoutMs;
    this.pauses = options.pauses ?? new MethodPauses();
  }

  /**
   * One Web API call: waits out the method's 429 pause, gives up after the timeout (an unknown
   * outcome), and pauses the method for everyone when Slack answers 429.
   */
  private async call<T>(method: string, work: () => Promise<T>): Promise<T> {
    await this.pauses.ready(method);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new DeliveryError(`slack ${method}: no answer within ${this.timeoutMs / 1000} s`, true, undefined, 'unknown')), this.timeoutMs);
      timer.unref?.();
    });
    try {
      return await Promise.race([work(), timeout]);
    } catch (error) {
      const classified = classifySlackError(error, method);
      if (classified.outcome === 'definite' && classified.retryAfterMs !== undefined) this.pauses.pause(method, classified.retryAfterMs);
      throw classified;
    } finally {
      clearTimeout(timer);
    }
  }

  async post(delivery: Delivery): Promise<{ ts: string }> {
    const { text, blocks } = toSlack(delivery.message);
    const result = await this.call('chat.postMessage', () =>
      this.client.chat.postMessage({
        channel: delivery.channel,
        text,
        blocks: blocks as unknown as types.KnownBlock[],
        ...(delivery.threadTs ? { thread_ts: delivery.threadTs } : {}),
        unfurl_links: false,
        unfurl_media: false,
        metadata: { event_type: METADATA_EVENT, event_payload: { key: delivery.key } },
      }),
    );
    if (!result.ts) throw new DeliveryError('slack chat.postMessage: answer without ts', true, undefined, 'unknown');
    return { ts: result.ts };
  }

  async update(delivery: Delivery & { ts: string }): Promise<void> {
    const { text, blocks } = toSlack(delivery.message);
    await this.call('chat.update', () => this.client.chat.update({ channel: delivery.channel, ts: delivery.ts, text, blocks: blocks as unknown as types.KnownBlock[] }));
  }

  /**
   * Slack's three steps, each one request under its own timeout, so a step that times out never
   * starts the next in the background. Only the last step shares the file: a failure before it
   * is a definite outcome (nothing is in the thread); after it, the search waits for the sharing.
   */
  async upload(delivery: Delivery & { threadTs: string }): Promise<void> {
    const file = delivery.message.attachment;
    if (!file) return;
    // Text is redacted on the way out; a binary file (the chart) was redacted as SVG before it was drawn.
    const bytes = file.encoding === 'base64' ? attachmentBytes(file) : Buffer.from(redact(file.content), 'utf8');
    let fileId: string;
    try {
      const ticket = await this.call('files.getUploadURLExternal', () => this.client.files.getUploadURLExternal({ filename: file.filename, length: bytes.length }));
      if (!ticket.upload_url || !ticket.file_id) throw new DeliveryError('slack files.getUploadURLExternal: answer without upload_url', true, undefined, 'definite');
      await this.sendBytes(ticket.upload_url, bytes);
      fileId = ticket.file_id;
    } catch (error) {
      const classified = classifySlackError(error, 'files.getUploadURLExternal');
      throw classified.outcome === 'unknown' ? new DeliveryError(`${classified.message} (nothing shared yet)`, true, classified.retryAfterMs, 'definite') : classified;
    }
    try {
      await this.call('files.completeUploadExternal', () =>
        this.client.files.completeUploadExternal({ files: [{ id: fileId, title: uploadTitle(file.title, delivery.key) }], channel_id: delivery.channel, thread_ts: delivery.threadTs }),
      );
    } catch (error) {
      if (!(error instanceof DeliveryError) || error.outcome !== 'unknown') throw error;
      throw new DeliveryError(error.message, true, Math.max(error.retryAfterMs ?? 0, this.uploadSettleMs), 'unknown');
    }
  }

  /** The bytes to Slack's upload URL; aborted at the timeout, so it never finishes later. */
  private async sendBytes(url: string, bytes: Buffer): Promise<void> {
    let response: Response;
    try {
      response = await fetch(url, { method: 'POST', body: bytes, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (error) {
      const reason = error instanceof Error && error.name === 'TimeoutError' ? `no answer within ${this.timeoutMs / 1000} s` : error instanceof Error ? error.message : String(error);
      throw new DeliveryError(`slack file upload: ${reason}`, true, undefined, 'unknown');
    }
    await response.arrayBuffer().catch(() => undefined);
    if (!response.ok) throw new DeliveryError(`slack file upload: HTTP ${response.status}`, true, undefined, response.status >= 500 ? 'unknown' : 'definite');
  }

  /**
   * After an upload with an unknown outcome: is this row's file already in the thread (posted
   * since `since`)? Slack files carry no metadata, so the title, with its id from the key, is the key.
   */
  async findUpload(delivery: Delivery & { threadTs: string }, since: number): Promise<boolean> {
    const title = delivery.message.attachment?.title;
    if (title === undefined) return false;
    const keyed = uploadTitle(title, delivery.key);
    const found = await this.search(delivery.channel, delivery.threadTs, since, (message) => (message.files ?? []).some((file) => file.title === keyed));
    return found !== undefined;
  }

  /**
   * Looks for a message we posted under `key` since `since` — the answer to "did Slack accept
   * that post before we crashed or timed out?" — in the thread for replies, else in the channel history.
   */
  async findByKey(delivery: Delivery, since: number): Promise<{ ts: string } | undefined> {
    const found = await this.search(delivery.channel, delivery.threadTs, since, (message) => message.metadata?.event_type === METADATA_EVENT && message.metadata.event_payload?.key === delivery.key);
    return found ? { ts: found } : undefined;
  }

  private async search(
    channel: string,
    threadTs: string | undefined,
    since: number,
    matches: (message: { ts?: string; metadata?: { event_type?: string; event_payload?: Record<string, unknown> }; files?: Array<{ title?: string; name?: string }> }) => boolean,
  ): Promise<string | undefined> {
    const oldest = String(Math.floor(since / 1000) - 60);
    const method = threadTs ? 'conversations.replies' : 'conversations.history';
    let cursor: string | undefined;
    for (let page = 0; page < 10; page++) {
      const result = await this.call(method, () =>
        threadTs
          ? this.client.conversations.replies({ channel, ts: threadTs, oldest, include_all_metadata: true, limit: 200, ...(cursor ? { cursor } : {}) })
          : this.client.conversations.history({ channel, oldest, include_all_metadata: true, limit: 200, ...(cursor ? { cursor } : {}) }),
      );
      const found = (result.messages ?? []).find((message) => matches(message as never));
      if (found?.ts) return found.ts;
      cursor = result.response_metadata?.next_cursor || undefined;
      if (!cursor) return undefined;
    }
    return undefined;
  }
}
