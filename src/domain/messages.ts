/**
 * The one message model every face renders: Slack turns it into Block Kit, the console into
 * text. Producers (incidents, commands) build these and never know where they go.
 */

/** A piece of text; `{ at }` is an absolute time each face formats for its reader. */
export type Span = string | { at: number } | { code: string } | { user: string };
export type Line = Span[];

export type Tone = 'critical' | 'warning' | 'info' | 'ok';

export interface Button {
  /** What the button does, e.g. `worker_pin`, `ack`, `confirm`, `cancel`, `mute`. */
  action: string;
  label: string;
  value: string;
  style?: 'primary' | 'danger';
}

export interface MessageModel {
  tone: Tone;
  title: Line;
  /** Label/value pairs shown as a compact grid. */
  fields?: Array<[string, Line]>;
  /** Paragraph lines below the fields. */
  lines?: Line[];
  /** Verbatim text (log lines), shown as a code block. */
  quote?: string[];
  /** A small trailing line: ids, sources. */
  context?: Line;
  buttons?: Button[];
  /** A table (version status): header row then rows. */
  table?: { columns: string[]; rows: string[][] };
  /** A file (the summary's Markdown, the timeline chart), uploaded into a thread. */
  attachment?: Attachment;
}

/**
 * A file for a thread. Text travels as is (and is redacted on the way out); binary content
 * (a PNG) travels as base64, since the outbox stores messages as JSON.
 */
export interface Attachment {
  filename: string;
  title: string;
  content: string;
  encoding?: 'base64';
}

/** The bytes of an attachment as they are uploaded. */
export function attachmentBytes(file: Attachment): Buffer {
  return file.encoding === 'base64' ? Buffer.from(file.content, 'base64') : Buffer.from(file.content, 'utf8');
}

export function plain(line: Line): string {
  return line.map((span) => (typeof span === 'string' ? span : 'at' in span ? new Date(span.at).toISOString() : 'code' in span ? span.code : `@${span.user}`)).join('');
}

/** Plain-text rendering of a whole message, used as Slack's fallback `text` and in tests. */
export function messageToPlainText(message: MessageModel): string {
  const parts = [plain(message.title)];
  for (const [label, value] of message.fields ?? []) parts.push(`${label}: ${plain(value)}`);
  for (const line of message.lines ?? []) parts.push(plain(line));
  if (message.quote?.length) parts.push(message.quote.join('\n'));
  return parts.join('\n');
}

/** What a delivery service needs to place a message: where, in which thread, under which key. */
export interface Delivery {
  channel: string;
  key: string;
  threadTs?: string;
  message: MessageModel;
}

/**
 * What a failed call tells about the message: `unknown` (timeout, 5xx, reset: it may have
 * arrived, so search before sending again), `definite` (an answer: it did not arrive), `refused`
 * (the destination refuses it until something changes, like the bot joining the channel).
 */
export type DeliveryOutcome = 'unknown' | 'definite' | 'refused';

/** Errors a delivery service reports; anything else counts as retryable with an unknown outcome. */
export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly retryAfterMs?: number,
    readonly outcome: DeliveryOutcome = 'unknown',
  ) {
    super(message);
  }
}

/** Where outgoing messages go: Slack in production, the terminal in the console. */
export interface MessageService {
  post(delivery: Delivery): Promise<{ ts: string }>;
  update(delivery: Delivery & { ts: string }): Promise<void>;
  /** Uploads `message.attachment` into the thread `threadTs`. */
  upload(delivery: Delivery & { threadTs: string }): Promise<void>;
  /** Finds a message posted earlier under `key` (after a crash between post and record). */
  findByKey(delivery: Delivery, since: number): Promise<{ ts: string } | undefined>;
  /** Whether `message.attachment` is already in thread `threadTs` (after an upload with an unknown outcome). */
  findUpload?(delivery: Delivery & { threadTs: string }, since: number): Promise<boolean>;
}
