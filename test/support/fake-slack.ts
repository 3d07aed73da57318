/**
 * A fake Slack for tests: the Web API under `/api/`, Socket Mode on `/socket`, file uploads,
 * and response_url endpoints — one HTTP server on 127.0.0.1, port 0. The real Bolt app and the
 * real WebClient talk to it (`clientOptions.slackApiUrl = fake.apiUrl`). It keeps what a Slack
 * user would see (channels, threads, ephemerals) and lets tests inject the faults Slack really
 * produces (5xx, 429 + Retry-After, ok:false errors, an answer that never comes, a reset).
 *
 * Wire facts it follows are in /work/shared/TESTING.md ("Slack").
 */
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

export type EnvelopeType = 'slash_commands' | 'interactive' | 'events_api';

/** What an injected fault does to one Web API call. */
export type Fault =
  /** HTTP error status; with 429 a `Retry-After: retryAfter` header (seconds). Nothing is stored. */
  | { status: number; retryAfter?: number }
  /**
   * HTTP 200 `{ok:false, error}`, as Slack answers platform errors. Nothing is stored, unless
   * `stored`: Slack did the call and then failed (`internal_error` that partly succeeded).
   */
  | { error: string; stored?: true }
  /** Slack accepts and stores the call but holds the HTTP answer until `releaseHeld()`. */
  | { hold: true }
  /** The connection is destroyed before Slack reads the call. Nothing is stored. */
  | { drop: true }
  /** Slack takes `delayMs` to do the call, then stores it and answers (it completes after a client timed out). */
  | { delayMs: number };

export type TokenKind = 'bot' | 'app' | 'user' | 'none';

export interface ApiCall {
  method: string;
  /** Parsed parameters; JSON-string fields (`blocks`, `metadata`, …) already parsed; no token. */
  params: Record<string, unknown>;
  at: number;
  tokenKind: TokenKind;
  /** The token's last 4 characters: tells replicas that run with different tokens apart (HA tests). */
  tokenTail?: string;
  fault?: Fault;
}

export interface FakeFile {
  id: string;
  name: string;
  title: string;
  size: number;
  /** The uploaded bytes as UTF-8 text (Markdown, timelines). */
  content: string;
  /** The uploaded bytes as they arrived (a PNG). */
  bytes: Buffer;
}

export interface MessageMetadata {
  event_type: string;
  event_payload: Record<string, unknown>;
}

export interface FakeMessage {
  channel: string;
  ts: string;
  text: string;
  /** Author: the bot user for messages the app posts, anyone for `addMessage`. */
  user: string;
  bot_id?: string;
  blocks?: unknown[];
  attachments?: unknown[];
  thread_ts?: string;
  reply_broadcast?: boolean;
  metadata?: MessageMetadata;
  files?: FakeFile[];
  edited?: { user: string; ts: string };
  /** How many times `chat.update` (or a response_url replace) changed it. */
  updates: number;
  deleted?: boolean;
}

/** A root-level message as a channel shows it, with its thread replies in order. */
export interface ChannelMessage extends FakeMessage {
  replies: FakeMessage[];
}

export interface Ephemeral {
  channel?: string;
  user: string;
  text: string;
  blocks?: unknown[];
  thread_ts?: string;
  ts: string;
  via: 'chat.postEphemeral' | 'response_url';
}

export interface ResponseUrlPost {
  id: string;
  body: Record<string, unknown>;
  at: number;
}

export interface AckRecord {
  envelope_id: string;
  type: EnvelopeType | 'unknown';
  payload: Record<string, unknown>;
  /** ms from the (last) delivery to the ack; undefined for an ack of no pending envelope. */
  latencyMs?: number;
  retryAttempt: number;
}

export interface FakeUser {
  id: string;
  name: string;
  real_name: string;
  tz: string;
  is_bot?: boolean;
  /** The profile's display name; Slack sends "" when the person never set one. Default: `name`. */
  display_name?: string;
}

export interface FakeSlackOptions {
  botUserId?: string;
  botId?: string;
  teamId?: string;
  appId?: string;
  /** When set, Web API calls must carry exactly this bot token (else `invalid_auth`). */
  botToken?: string;
  /** When set, `apps.connections.open` needs exactly this app token (else `invalid_auth`). */
  appToken?: string;
  /** Source of message timestamps (ms); `ts` values are unique and increasing regardless. */
  clock?: () => number;
}

export interface SendEnvelopeOptions {
  /** Reject when the app hasn't acked within this long (default 5000 ms). */
  timeoutMs?: number;
}

// ---------------------------------------------------------------------------------------------
// Pure helpers (exported: tests use them directly)
// ---------------------------------------------------------------------------------------------

/** The text a reader sees in a message: `text` plus every text in its blocks and attachments. */
export function messageText(msg: { text?: string; blocks?: unknown; attachments?: unknown; files?: FakeFile[] }): string {
  const parts: string[] = [];
  if (msg.text) parts.push(msg.text);
  collectText(msg.blocks, parts);
  collectText(msg.attachments, parts);
  for (const file of msg.files ?? []) parts.push(file.title);
  return parts.join('\n');
}

const visibleStringKeys = new Set(['text', 'title', 'pretext', 'footer', 'author_name']);

function collectText(node: unknown, out: string[]): void {
  if (Array.isArray(node)) {
    for (const child of node) collectText(child, out);
    return;
  }
  if (!node || typeof node !== 'object') return;
  for (const [key, value] of Object.entries(node)) {
    if (typeof value === 'string') {
      if (visibleStringKeys.has(key)) out.push(value);
    } else {
      collectText(value, out);
    }
  }
}

/** What a truthy poll result can be (so `waitFor(() => list.length > 0 && list)` types as the list). */
export type Truthy<T> = Exclude<T, false | 0 | '' | null | undefined>;

/**
 * Polls `predicate` until it returns a truthy value (returned) or the deadline passes. A
 * predicate that throws (e.g. a failing `expect`) counts as "not yet"; its last error is
 * reported on timeout.
 */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<Truthy<T>> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const intervalMs = opts.intervalMs ?? 10;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await predicate();
      if (value) return value as Truthy<T>;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const what = opts.what ?? 'condition';
      const why = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new Error(`waitFor: ${what} not met within ${timeoutMs} ms${why}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * The first Block Kit rule `blocks` break, as Slack would reject them with `invalid_blocks`,
 * or undefined. Covers the limits a bot is likely to hit (long log excerpts, many buttons).
 */
export function blockKitProblem(blocks: unknown): string | undefined {
  if (!Array.isArray(blocks)) return 'blocks must be an array';
  if (blocks.length > 50) return `${blocks.length} blocks (max 50)`;
  const blockIds = new Set<string>();
  for (const [i, block] of blocks.entries()) {
    if (!block || typeof block !== 'object' || typeof (block as { type?: unknown }).type !== 'string') {
      return `block ${i} has no type`;
    }
    const b = block as Record<string, unknown>;
    if (typeof b.block_id === 'string') {
      if (b.block_id.length > 255) return `block ${i}: block_id longer than 255`;
      if (blockIds.has(b.block_id)) return `block ${i}: duplicate block_id ${b.block_id}`;
      blockIds.add(b.block_id);
    }
    const textProblem = (t: unknown, max: number, where: string): string | undefined => {
      if (!t || typeof t !== 'object') return `${where}: missing text object`;
      const obj = t as Record<string, unknown>;
      if (typeof obj.text !== 'string') return `${where}: text must be a string`;
      if (obj.text.length > max) return `${where}: text longer than ${max} (${obj.text.length})`;
      if (obj.type === 'mrkdwn' && 'emoji' in obj) return `${where}: mrkdwn text has no emoji field`;
      if (obj.type !== 'mrkdwn' && obj.type !== 'plain_text') return `${where}: unknown text type ${String(obj.type)}`;
      return undefined;
    };
    switch (b.type) {
      case 'section': {
        if (b.text === undefined && b.fields === undefined) return `block ${i}: section needs text or fields`;
        if (b.text !== undefined) {
          const p = textProblem(b.text, 3000, `block ${i} section`);
          if (p) return p;
        }
        if (b.fields !== undefined) {
          if (!Array.isArray(b.fields) || b.fields.length > 10) return `block ${i}: section fields must be at most 10`;
          for (const f of b.fields) {
            const p = textProblem(f, 2000, `block ${i} field`);
            if (p) return p;
          }
        }
        break;
      }
      case 'header': {
        const p = textProblem(b.text, 150, `block ${i} header`);
        if (p) return p;
        if ((b.text as { type?: string }).type !== 'plain_text') return `block ${i}: header text must be plain_text`;
        break;
      }
      case 'context': {
        if (!Array.isArray(b.elements) || b.elements.length < 1 || b.elements.length > 10) {
          return `block ${i}: context needs 1–10 elements`;
        }
        break;
      }
      case 'actions': {
        if (!Array.isArray(b.elements) || b.elements.length < 1 || b.elements.length > 25) {
          return `block ${i}: actions needs 1–25 elements`;
        }
        const actionIds = new Set<string>();
        for (const el of b.elements as Record<string, unknown>[]) {
          const id = el.action_id;
          if (typeof id === 'string') {
            if (id.length > 255) return `block ${i}: action_id longer than 255`;
            if (actionIds.has(id)) return `block ${i}: duplicate action_id ${id}`;
            actionIds.add(id);
          }
          if (el.type === 'button') {
            const p = textProblem(el.text, 75, `block ${i} button`);
            if (p) return p;
            if (typeof el.value === 'string' && el.value.length > 2000) return `block ${i}: button value longer than 2000`;
          }
        }
        break;
      }
      default:
        break;
    }
  }
  return undefined;
}

/** The `X-Slack-Signature` value for `body` at `timestampSec`: v0 HMAC-SHA256 of `v0:ts:body`. */
export function slackSignature(body: string, signingSecret: string, timestampSec: number): string {
  return `v0=${createHmac('sha256', signingSecret).update(`v0:${timestampSec}:${body}`).digest('hex')}`;
}

/**
 * POSTs `body` to a Bolt HTTP receiver as Slack does: signed, timestamped, and with a
 * Content-Type of exactly `application/x-www-form-urlencoded` unless `contentType` says otherwise.
 */
export async function signedPost(
  url: string,
  body: string,
  signingSecret: string,
  opts: { timestamp?: number; contentType?: string; signature?: string } = {},
): Promise<Response> {
  const timestamp = opts.timestamp ?? Math.floor(Date.now() / 1000);
  return fetch(url, {
    method: 'POST',
    headers: {
      'Content-Type': opts.contentType ?? 'application/x-www-form-urlencoded',
      'X-Slack-Request-Timestamp': String(timestamp),
      'X-Slack-Signature': opts.signature ?? slackSignature(body, signingSecret, timestamp),
    },
    body,
  });
}

/** A slash command as Slack form-encodes it over HTTP. */
export function formEncodeSlash(payload: Record<string, unknown>): string {
  const form = new URLSearchParams();
  for (const [key, value] of Object.entries(payload)) {
    if (value !== undefined && value !== null) form.set(key, String(value));
  }
  return form.toString();
}

/** An interactivity payload as Slack sends it over HTTP: `payload=<json>`. */
export function formEncodeInteractive(payload: Record<string, unknown>): string {
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

// ---------------------------------------------------------------------------------------------
// The fake
// ---------------------------------------------------------------------------------------------

interface Envelope {
  envelope_id: string;
  type: EnvelopeType;
  payload: Record<string, unknown>;
  accepts_response_payload: boolean;
  retry_attempt: number;
  retry_reason: string;
}

interface PendingEnvelope {
  envelope: Envelope;
  socket?: WebSocket;
  sentAt?: number;
  resolve: (payload: Record<string, unknown>) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

interface ResponseUrlContext {
  user_id?: string;
  channel_id?: string;
  message_ts?: string;
  uses: number;
}

interface HeldAnswer {
  method: string;
  res: ServerResponse;
  body: Record<string, unknown>;
}

type ApiResult = Record<string, unknown>;
type Params = Record<string, unknown>;

const RESPONSE_URL_MAX_USES = 5; // Slack: a response_url works up to 5 times in 30 minutes
const JSON_STRING_PARAMS: Record<string, string> = {
  blocks: 'invalid_blocks_format',
  attachments: 'invalid_attachments',
  metadata: 'invalid_metadata_format',
  files: 'invalid_arguments',
  view: 'invalid_arguments',
};
const CHANNEL_ID = /^[CGD][A-Z0-9]{2,}$/;
const USER_ID = /^[UW][A-Z0-9]{2,}$/;

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined);
const bool = (v: unknown): boolean => v === true || v === 'true' || v === '1' || v === 1;
const fail = (error: string, extra: ApiResult = {}): ApiResult => ({ ok: false, error, ...extra });
/** Orders Slack timestamps exactly (as integers of microseconds; floats lose the last digits). */
const tsMicros = (ts: string): bigint => {
  const [sec = '0', frac = ''] = ts.split('.');
  return BigInt(sec) * 1_000_000n + BigInt(frac.padEnd(6, '0').slice(0, 6) || '0');
};
const tsCompare = (a: string, b: string): number => {
  const d = tsMicros(a) - tsMicros(b);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
};

export class FakeSlack {
  readonly botUserId: string;
  readonly botId: string;
  readonly teamId: string;
  readonly appId: string;
  /** Every Web API call (and `upload`, `response_url` posts) in arrival order. */
  readonly calls: ApiCall[] = [];
  /** Every ack the app sent over Socket Mode, in order. */
  readonly acks: AckRecord[] = [];
  /** How many Socket Mode connections got their `hello` (1 after start, +1 per reconnect). */
  connectCount = 0;
  /** Every Socket Mode connection's life, wall-clock ms (closedAt undefined while open): counts who held Slack when. */
  readonly socketSpans: Array<{ openedAt: number; closedAt: number | undefined }> = [];

  private readonly server: Server;
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly opts: FakeSlackOptions;
  private readonly clock: () => number;
  private lastTsMicros = 0;
  private idCounter = 0;
  private port = 0;

  private readonly messages = new Map<string, FakeMessage[]>();
  private readonly ephemeralsByUser = new Map<string, Ephemeral[]>();
  private readonly responsePosts: ResponseUrlPost[] = [];
  private readonly responseContexts = new Map<string, ResponseUrlContext>();
  private readonly usergroups = new Map<string, string[]>();
  private readonly users = new Map<string, FakeUser>();
  private readonly files = new Map<string, FakeFile & { uploaded: boolean }>();
  private readonly openedViews: Array<{ trigger_id: string; view: unknown }> = [];

  private readonly faultQueue = new Map<string, Fault[]>();
  private readonly faultAlways = new Map<string, Fault>();
  private readonly faultMatching: Array<{ method: string; match: (params: Record<string, unknown>) => boolean; fault: Fault; left: number }> = [];
  private readonly faultFraction = new Map<string, { fault: Fault; fraction: number; seen: number }>();
  private readonly refusedChannels = new Map<string, string>();
  private held: HeldAnswer[] = [];
  /** Calls of each method that a `delayMs` fault is still working on. */
  private readonly delaying = new Map<string, number>();

  private readonly tickets = new Set<string>();
  private readonly sockets = new Set<WebSocket>();
  private readonly retiring = new WeakSet<WebSocket>();
  private readonly pending = new Map<string, PendingEnvelope>();
  private readonly connections = new Set<Socket>();

  constructor(opts: FakeSlackOptions = {}) {
    this.opts = opts;
    this.botUserId = opts.botUserId ?? 'U0BOTDW01';
    this.botId = opts.botId ?? 'B0BOTDW01';
    this.teamId = opts.teamId ?? 'T0DRIFTW1';
    this.appId = opts.appId ?? 'A0TEST';
    this.clock = opts.clock ?? Date.now;
    this.server = createServer((req, res) => {
      this.route(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`fake slack: ${err instanceof Error ? err.message : String(err)}`);
      });
    });
    this.server.on('connection', (socket) => {
      this.connections.add(socket);
      socket.on('close', () => this.connections.delete(socket));
    });
    this.server.on('upgrade', (req, socket, head) => this.upgrade(req, socket as Socket, head));
  }

  /** @internal */
  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The Web API base, ending in `/api/`: what `SLACK_API_URL` / `clientOptions.slackApiUrl` take. */
  get apiUrl(): string {
    return `${this.baseUrl}/api/`;
  }

  // ----- test controls --------------------------------------------------------------------------

  /** The next `count` calls of `method` (or `'*'`: any method) suffer `fault`. */
  failNext(method: string, fault: Fault, count = 1): void {
    const queue = this.faultQueue.get(method) ?? [];
    for (let i = 0; i < count; i++) queue.push(fault);
    this.faultQueue.set(method, queue);
  }

  /** Every call of `method` (or `'*'`) suffers `fault` until `heal()`: an outage. */
  failAlways(method: string, fault: Fault): void {
    this.faultAlways.set(method, fault);
  }

  /** Calls of `method` whose parameters match suffer `fault` (the next `count` of them; default all) until `heal()`. */
  failMatching(method: string, match: (params: Record<string, unknown>) => boolean, fault: Fault, count = Number.POSITIVE_INFINITY): void {
    this.faultMatching.push({ method, match, fault, left: count });
  }

  /**
   * A storm: about `fraction` of the calls of `method` suffer `fault` until `heal()`, spread
   * evenly and deterministically (call n fails when floor(n·fraction) grows), so runs compare.
   */
  failFraction(method: string, fault: Fault, fraction: number): void {
    this.faultFraction.set(method, { fault, fraction, seen: 0 });
  }

  /**
   * The bot is not in `channel`: posts, updates and uploads there answer `{ok:false, error}`
   * (`not_in_channel` by default) until `joinChannel`.
   */
  refuseChannel(channel: string, error = 'not_in_channel'): void {
    this.refusedChannels.set(channel, error);
  }

  /** The bot is invited to `channel`: refusals end and the app gets `member_joined_channel` for its own user over Socket Mode. */
  async joinChannel(channel: string, inviter = 'U0ONCALL1'): Promise<void> {
    this.refusedChannels.delete(channel);
    await this.sendEnvelope('events_api', this.eventCallback({ type: 'member_joined_channel', user: this.botUserId, channel, channel_type: 'C', team: this.teamId, inviter }));
  }

  /** Ends every injected fault (held answers stay held until `releaseHeld`). */
  heal(): void {
    this.faultQueue.clear();
    this.faultAlways.clear();
    this.faultMatching.length = 0;
    this.faultFraction.clear();
  }

  /** Sends every held answer; returns how many. */
  releaseHeld(): number {
    const held = this.held;
    this.held = [];
    for (const h of held) if (!h.res.destroyed) this.writeJson(h.res, 200, h.body);
    return held.length;
  }

  heldCount(method?: string): number {
    return this.held.filter((h) => method === undefined || h.method === method).length;
  }

  /** Calls of `method` a `delayMs` fault has not finished yet. */
  delayedCount(method: string): number {
    return this.delaying.get(method) ?? 0;
  }

  callCount(method: string): number {
    return this.calls.filter((c) => c.method === method).length;
  }

  setUsergroup(usergroupId: string, userIds: string[]): void {
    this.usergroups.set(usergroupId, [...userIds]);
  }

  setUser(user: Partial<FakeUser> & { id: string }): void {
    this.users.set(user.id, { ...this.defaultUser(user.id), ...user });
  }

  /** A message someone else (a person) posted; returns its ts. */
  addMessage(channel: string, msg: { user: string; text: string; thread_ts?: string; blocks?: unknown[] }): string {
    const ts = this.nextTs();
    this.store({ channel, ts, text: msg.text, user: msg.user, thread_ts: msg.thread_ts, blocks: msg.blocks, updates: 0 });
    return ts;
  }

  /** A response_url on this fake; posts to it are recorded and shown as Slack would show them. */
  responseUrl(id: string = this.newId('R'), context: Omit<ResponseUrlContext, 'uses'> = {}): string {
    if (!this.responseContexts.has(id)) this.responseContexts.set(id, { ...context, uses: 0 });
    return `${this.baseUrl}/response/${id}`;
  }

  // ----- what a user sees -----------------------------------------------------------------------

  /** Root-level messages of a channel in order, current content, each with its replies in order. */
  channel(channelId: string): ChannelMessage[] {
    const all = this.live(channelId);
    return all
      .filter((m) => this.isRoot(m))
      .map((m) => ({ ...m, replies: all.filter((r) => r.thread_ts === m.ts && r.ts !== m.ts) }));
  }

  /** A thread: the parent (when it exists) then the replies, oldest first. */
  thread(channelId: string, ts: string): FakeMessage[] {
    return this.live(channelId).filter((m) => m.ts === ts || m.thread_ts === ts);
  }

  /** One message by channel and ts (deleted ones included), or undefined. */
  message(channelId: string, ts: string): FakeMessage | undefined {
    const m = this.messages.get(channelId)?.find((x) => x.ts === ts);
    return m ? { ...m } : undefined;
  }

  ephemerals(userId: string): Ephemeral[] {
    return [...(this.ephemeralsByUser.get(userId) ?? [])];
  }

  responses(): ResponseUrlPost[] {
    return [...this.responsePosts];
  }

  views(): Array<{ trigger_id: string; view: unknown }> {
    return [...this.openedViews];
  }

  messageText(msg: { text?: string; blocks?: unknown; attachments?: unknown; files?: FakeFile[] }): string {
    return messageText(msg);
  }

  waitFor<T>(predicate: () => T | Promise<T>, opts?: { timeoutMs?: number; intervalMs?: number; what?: string }): Promise<Truthy<T>> {
    return waitFor(predicate, opts);
  }

  // ----- Socket Mode ---------------------------------------------------------------------------

  /** Open Socket Mode connections that still take envelopes. */
  openSockets(): number {
    return [...this.sockets].filter((s) => s.readyState === WebSocket.OPEN && !this.retiring.has(s)).length;
  }

  /**
   * Delivers an envelope and resolves with the app's ack payload. With no connection it waits
   * for one; when the connection dies before the ack, it is delivered again (retry_attempt + 1),
   * as Slack retries. Rejects when no ack came within `timeoutMs`.
   */
  sendEnvelope(type: EnvelopeType, payload: Record<string, unknown>, opts: SendEnvelopeOptions = {}): Promise<Record<string, unknown>> {
    const timeoutMs = opts.timeoutMs ?? 5000;
    const envelope: Envelope = {
      envelope_id: randomUUID(),
      type,
      payload,
      accepts_response_payload: type !== 'events_api',
      retry_attempt: 0,
      retry_reason: '',
    };
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(envelope.envelope_id);
        const state = entry.sentAt === undefined ? 'never delivered (no connection)' : 'delivered';
        reject(new Error(`fake slack: ${type} envelope ${envelope.envelope_id} not acked within ${timeoutMs} ms (${state})`));
      }, timeoutMs);
      const entry: PendingEnvelope = { envelope, resolve, reject, timer };
      this.pending.set(envelope.envelope_id, entry);
      this.deliverQueued();
    });
  }

  /** Sends `{"type":"disconnect","reason":…}` to every open connection; they stop getting envelopes. */
  disconnect(reason = 'refresh_requested'): void {
    for (const socket of this.sockets) {
      if (socket.readyState !== WebSocket.OPEN || this.retiring.has(socket)) continue;
      this.retiring.add(socket);
      socket.send(JSON.stringify({ type: 'disconnect', reason, debug_info: { host: 'fake-slack' } }));
    }
  }

  /**
   * The longest stretch during which two or more Socket Mode connections were open at once (ms;
   * 0 when they never overlapped). Open connections count until now.
   */
  longestSocketOverlapMs(now = Date.now()): number {
    const edges = this.socketSpans.flatMap((span) => [
      { at: span.openedAt, delta: 1 },
      { at: span.closedAt ?? now, delta: -1 },
    ]);
    // Closings first at the same instant: a hand-over in the same millisecond is no overlap.
    edges.sort((a, b) => a.at - b.at || a.delta - b.delta);
    let open = 0;
    let since = 0;
    let longest = 0;
    for (const edge of edges) {
      const before = open;
      open += edge.delta;
      if (before < 2 && open >= 2) since = edge.at;
      if (before >= 2 && open < 2) longest = Math.max(longest, edge.at - since);
    }
    return open >= 2 ? Math.max(longest, now - since) : longest;
  }

  /** Kills every Socket Mode connection without a close handshake (a network drop). */
  dropSocket(): void {
    for (const socket of this.sockets) socket.terminate();
  }

  // ----- payload builders --------------------------------------------------------------------------

  slashPayload(p: { command: string; text?: string; user_id?: string; channel_id?: string; [k: string]: unknown }): Record<string, string> {
    const user_id = p.user_id ?? 'U0ONCALL1';
    const channel_id = p.channel_id ?? 'C0ALERTS1';
    const base: Record<string, string> = {
      token: 'fake-verification-token',
      team_id: this.teamId,
      team_domain: 'driftwatch-test',
      channel_id,
      channel_name: 'alerts',
      user_id,
      user_name: user_id.toLowerCase(),
      command: p.command,
      text: p.text ?? '',
      api_app_id: this.appId,
      is_enterprise_install: 'false',
      response_url: this.responseUrl(this.newId('R'), { user_id, channel_id }),
      trigger_id: this.triggerId(),
    };
    for (const [k, v] of Object.entries(p)) if (v !== undefined) base[k] = String(v);
    return base;
  }

  blockActionPayload(p: {
    user: string;
    channel: string;
    message_ts: string;
    action_id: string;
    value?: string;
    block_id?: string;
    thread_ts?: string;
  }): Record<string, unknown> {
    const stored = this.message(p.channel, p.message_ts);
    const message = stored ? this.wire(stored, true) : { type: 'message', ts: p.message_ts, text: '' };
    const thread_ts = p.thread_ts ?? stored?.thread_ts;
    return {
      type: 'block_actions',
      user: { id: p.user, username: p.user.toLowerCase(), name: p.user.toLowerCase(), team_id: this.teamId },
      api_app_id: this.appId,
      token: 'fake-verification-token',
      container: { type: 'message', message_ts: p.message_ts, channel_id: p.channel, is_ephemeral: false, ...(thread_ts ? { thread_ts } : {}) },
      trigger_id: this.triggerId(),
      team: { id: this.teamId, domain: 'driftwatch-test' },
      enterprise: null,
      is_enterprise_install: false,
      channel: { id: p.channel, name: 'alerts' },
      message,
      state: { values: {} },
      response_url: this.responseUrl(this.newId('R'), { user_id: p.user, channel_id: p.channel, message_ts: p.message_ts }),
      actions: [
        {
          action_id: p.action_id,
          block_id: p.block_id ?? 'actions',
          text: { type: 'plain_text', text: p.value ?? p.action_id, emoji: true },
          value: p.value ?? '',
          type: 'button',
          action_ts: this.nowSecondsString(),
        },
      ],
    };
  }

  messageShortcutPayload(p: {
    callback_id: string;
    user: string;
    channel: string;
    message: { ts: string; text: string; thread_ts?: string; user?: string };
  }): Record<string, unknown> {
    return {
      type: 'message_action',
      token: 'fake-verification-token',
      action_ts: this.nowSecondsString(),
      team: { id: this.teamId, domain: 'driftwatch-test' },
      user: { id: p.user, username: p.user.toLowerCase(), name: p.user.toLowerCase(), team_id: this.teamId },
      channel: { id: p.channel, name: 'alerts' },
      is_enterprise_install: false,
      enterprise: null,
      callback_id: p.callback_id,
      trigger_id: this.triggerId(),
      response_url: this.responseUrl(this.newId('R'), { user_id: p.user, channel_id: p.channel }),
      message_ts: p.message.ts,
      message: { type: 'message', user: p.message.user ?? this.botUserId, ts: p.message.ts, text: p.message.text, ...(p.message.thread_ts ? { thread_ts: p.message.thread_ts } : {}) },
    };
  }

  /** An Events API `event_callback` wrapping `event`. */
  eventCallback(event: Record<string, unknown>): Record<string, unknown> {
    return {
      token: 'fake-verification-token',
      team_id: this.teamId,
      api_app_id: this.appId,
      event: { event_ts: this.nowSecondsString(), ...event },
      type: 'event_callback',
      event_id: this.newId('Ev'),
      event_time: Math.floor(this.clock() / 1000),
      authorizations: [{ team_id: this.teamId, user_id: this.botUserId, is_bot: true, is_enterprise_install: false }],
      is_ext_shared_channel: false,
    };
  }

  async close(): Promise<void> {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error('fake slack closed'));
    }
    this.pending.clear();
    for (const h of this.held) h.res.destroy();
    this.held = [];
    for (const socket of this.sockets) socket.terminate();
    this.wss.close();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const c of this.connections) c.destroy();
    await closed;
  }

  // ----- HTTP routing ----------------------------------------------------------------------------

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.baseUrl);
    const raw = await readBody(req);
    const [, section, name] = url.pathname.split('/');
    if (section === 'api' && name) return this.handleApi(name, req, res, url, raw);
    if (section === 'upload' && name) return this.handleUpload(name, req, res, url, raw);
    if (section === 'response' && name) return this.handleResponseUrl(name, req, res, url, raw);
    res.writeHead(404, { 'content-type': 'text/plain' }).end(`fake slack: no route ${url.pathname}`);
  }

  private async handleApi(method: string, req: IncomingMessage, res: ServerResponse, url: URL, raw: Buffer): Promise<void> {
    const parsed = await parseParams(req, url, raw);
    const { token, params } = extractToken(req, parsed.params);
    const tokenKind = kindOf(token);
    const fault = this.takeFault(method, params);
    this.calls.push({ method, params, at: Date.now(), tokenKind, ...(token ? { tokenTail: token.slice(-4) } : {}), ...(fault ? { fault } : {}) });
    if (fault && 'drop' in fault) {
      req.socket.destroy();
      return;
    }
    if (fault && 'status' in fault) {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (fault.retryAfter !== undefined) headers['retry-after'] = String(fault.retryAfter);
      const error = fault.status === 429 ? 'ratelimited' : 'fatal_error';
      res.writeHead(fault.status, headers).end(JSON.stringify({ ok: false, error }));
      return;
    }
    if (fault && 'error' in fault && !fault.stored) return this.writeJson(res, 200, fail(fault.error));
    if (fault && 'delayMs' in fault) {
      this.delaying.set(method, (this.delaying.get(method) ?? 0) + 1);
      await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
      this.delaying.set(method, (this.delaying.get(method) ?? 1) - 1);
    }
    if (parsed.error) return this.writeJson(res, 200, fail(parsed.error));

    const authError = this.authProblem(method, token, tokenKind);
    const dispatched = authError ? fail(authError) : this.dispatch(method, params);
    const result = fault && 'error' in fault ? fail(fault.error) : dispatched;
    if (fault && 'hold' in fault) {
      this.held.push({ method, res, body: result });
      return;
    }
    this.writeJson(res, 200, result);
  }

  private takeFault(method: string, params: Record<string, unknown> = {}): Fault | undefined {
    const matching = this.faultMatching.find((entry) => entry.left > 0 && (entry.method === method || entry.method === '*') && entry.match(params));
    if (matching) {
      matching.left -= 1;
      return matching.fault;
    }
    const refusal = this.refusedChannels.get(str(params.channel) ?? str(params.channel_id) ?? '');
    if (refusal && ['chat.postMessage', 'chat.update', 'files.completeUploadExternal'].includes(method)) return { error: refusal };
    const storm = this.faultFraction.get(method);
    if (storm) {
      const before = Math.floor(storm.seen * storm.fraction);
      storm.seen += 1;
      if (Math.floor(storm.seen * storm.fraction) > before) return storm.fault;
    }
    for (const key of [method, '*']) {
      const queue = this.faultQueue.get(key);
      if (queue && queue.length > 0) return queue.shift();
    }
    return this.faultAlways.get(method) ?? this.faultAlways.get('*');
  }

  private authProblem(method: string, token: string | undefined, kind: TokenKind): string | undefined {
    if (!token) return 'not_authed';
    if (method === 'apps.connections.open') {
      if (kind !== 'app') return 'not_allowed_token_type';
      if (this.opts.appToken && token !== this.opts.appToken) return 'invalid_auth';
      return undefined;
    }
    if (kind === 'app') return 'not_allowed_token_type';
    if (kind === 'none') return 'invalid_auth';
    if (kind === 'bot' && this.opts.botToken && token !== this.opts.botToken) return 'invalid_auth';
    return undefined;
  }

  private dispatch(method: string, p: Params): ApiResult {
    switch (method) {
      case 'auth.test':
        return {
          ok: true,
          url: `${this.baseUrl}/`,
          team: 'Driftwatch Test',
          user: 'driftwatch',
          team_id: this.teamId,
          user_id: this.botUserId,
          bot_id: this.botId,
          is_enterprise_install: false,
        };
      case 'apps.connections.open': {
        const ticket = randomUUID();
        this.tickets.add(ticket);
        return { ok: true, url: `ws://127.0.0.1:${this.port}/socket?ticket=${ticket}&app_id=${this.appId}` };
      }
      case 'chat.postMessage':
        return this.postMessage(p);
      case 'chat.update':
        return this.updateMessage(p);
      case 'chat.delete':
        return this.deleteMessage(p);
      case 'chat.postEphemeral':
        return this.postEphemeral(p);
      case 'chat.getPermalink': {
        const channel = str(p.channel);
        const ts = str(p.message_ts);
        if (!channel || !ts || !this.message(channel, ts)) return fail('message_not_found');
        return { ok: true, channel, permalink: `${this.baseUrl}/archives/${channel}/p${ts.replace('.', '')}` };
      }
      case 'conversations.history':
        return this.history(p);
      case 'conversations.replies':
        return this.replies(p);
      case 'usergroups.users.list': {
        const users = this.usergroups.get(str(p.usergroup) ?? '');
        return users ? { ok: true, users: [...users] } : fail('no_such_subteam');
      }
      case 'users.info': {
        const id = str(p.user) ?? '';
        const user = this.users.get(id) ?? (USER_ID.test(id) ? this.defaultUser(id) : undefined);
        if (!user) return fail('user_not_found');
        return {
          ok: true,
          user: {
            id: user.id,
            team_id: this.teamId,
            name: user.name,
            real_name: user.real_name,
            tz: user.tz,
            is_bot: user.is_bot ?? false,
            deleted: false,
            profile: { real_name: user.real_name, display_name: user.display_name ?? user.name },
          },
        };
      }
      case 'files.getUploadURLExternal': {
        const filename = str(p.filename);
        const length = Number(p.length);
        if (!filename || !Number.isInteger(length) || length < 0) return fail('invalid_arguments');
        const id = this.newId('F');
        this.files.set(id, { id, name: filename, title: filename, size: length, content: '', bytes: Buffer.alloc(0), uploaded: false });
        return { ok: true, upload_url: `${this.baseUrl}/upload/${id}`, file_id: id };
      }
      case 'files.completeUploadExternal':
        return this.completeUpload(p);
      case 'views.open': {
        if (!str(p.trigger_id)) return fail('invalid_trigger_id');
        if (!p.view || typeof p.view !== 'object') return fail('invalid_arguments');
        this.openedViews.push({ trigger_id: String(p.trigger_id), view: p.view });
        return { ok: true, view: { id: this.newId('V'), team_id: this.teamId, app_id: this.appId, ...(p.view as object) } };
      }
      default:
        return fail('unknown_method');
    }
  }

  // ----- Web API methods ---------------------------------------------------------------------------

  private postMessage(p: Params): ApiResult {
    const channel = str(p.channel);
    if (!channel || !CHANNEL_ID.test(channel)) return fail('channel_not_found');
    const content = messageContent(p);
    if ('error' in content) return fail(content.error, content.extra);
    if (content.text === undefined && !content.blocks && !content.attachments) return fail('no_text');
    const thread_ts = str(p.thread_ts);
    const msg: FakeMessage = {
      channel,
      ts: this.nextTs(),
      text: content.text ?? '',
      user: this.botUserId,
      bot_id: this.botId,
      updates: 0,
      ...(content.blocks ? { blocks: content.blocks } : {}),
      ...(content.attachments ? { attachments: content.attachments } : {}),
      ...(content.metadata ? { metadata: content.metadata } : {}),
      ...(thread_ts ? { thread_ts } : {}),
      ...(thread_ts && bool(p.reply_broadcast) ? { reply_broadcast: true } : {}),
    };
    this.store(msg);
    return { ok: true, channel, ts: msg.ts, message: this.wire(msg, true) };
  }

  private updateMessage(p: Params): ApiResult {
    const channel = str(p.channel);
    const ts = str(p.ts);
    const msg = channel && ts ? this.messages.get(channel)?.find((m) => m.ts === ts && !m.deleted) : undefined;
    if (!msg) return fail('message_not_found');
    if (msg.user !== this.botUserId) return fail('cant_update_message');
    const content = messageContent(p);
    if ('error' in content) return fail(content.error, content.extra);
    if (content.text !== undefined) msg.text = content.text;
    if (content.blocks) msg.blocks = content.blocks;
    if (content.attachments) msg.attachments = content.attachments;
    if (content.metadata) msg.metadata = content.metadata;
    msg.edited = { user: this.botUserId, ts: this.nextTs() };
    msg.updates += 1;
    return { ok: true, channel: msg.channel, ts: msg.ts, text: msg.text, message: this.wire(msg, true) };
  }

  private deleteMessage(p: Params): ApiResult {
    const channel = str(p.channel);
    const ts = str(p.ts);
    const msg = channel && ts ? this.messages.get(channel)?.find((m) => m.ts === ts && !m.deleted) : undefined;
    if (!msg) return fail('message_not_found');
    if (msg.user !== this.botUserId) return fail('cant_delete_message');
    msg.deleted = true;
    return { ok: true, channel: msg.channel, ts: msg.ts };
  }

  private postEphemeral(p: Params): ApiResult {
    const channel = str(p.channel);
    const user = str(p.user);
    if (!channel || !CHANNEL_ID.test(channel)) return fail('channel_not_found');
    if (!user || !USER_ID.test(user)) return fail('user_not_found');
    const content = messageContent(p);
    if ('error' in content) return fail(content.error, content.extra);
    if (content.text === undefined && !content.blocks && !content.attachments) return fail('no_text');
    const ts = this.nextTs();
    const thread_ts = str(p.thread_ts);
    this.addEphemeral({
      channel,
      user,
      text: content.text ?? '',
      ts,
      via: 'chat.postEphemeral',
      ...(content.blocks ? { blocks: content.blocks } : {}),
      ...(thread_ts ? { thread_ts } : {}),
    });
    return { ok: true, message_ts: ts };
  }

  private history(p: Params): ApiResult {
    const channel = str(p.channel);
    if (!channel || !CHANNEL_ID.test(channel)) return fail('channel_not_found');
    const roots = this.live(channel)
      .filter((m) => this.isRoot(m))
      .filter((m) => inRange(m.ts, p))
      .reverse();
    return this.page(roots, p, 100, bool(p.include_all_metadata));
  }

  private replies(p: Params): ApiResult {
    const channel = str(p.channel);
    const ts = str(p.ts);
    if (!channel || !CHANNEL_ID.test(channel)) return fail('channel_not_found');
    const target = ts ? this.messages.get(channel)?.find((m) => m.ts === ts && !m.deleted) : undefined;
    if (!target) return fail('thread_not_found');
    const parentTs = target.thread_ts ?? target.ts;
    const thread = this.live(channel).filter((m) => m.ts === parentTs || m.thread_ts === parentTs);
    const kept = thread.filter((m) => m.ts === parentTs || inRange(m.ts, p));
    return this.page(kept, p, 1000, bool(p.include_all_metadata));
  }

  private page(list: FakeMessage[], p: Params, defaultLimit: number, withMetadata: boolean): ApiResult {
    const limit = Math.max(1, Number(str(p.limit) ?? defaultLimit) || defaultLimit);
    const cursor = str(p.cursor);
    const offset = cursor ? Number(Buffer.from(cursor, 'base64').toString().replace('offset:', '')) || 0 : 0;
    const slice = list.slice(offset, offset + limit);
    const hasMore = offset + limit < list.length;
    return {
      ok: true,
      messages: slice.map((m) => this.wire(m, withMetadata)),
      has_more: hasMore,
      response_metadata: { next_cursor: hasMore ? Buffer.from(`offset:${offset + limit}`).toString('base64') : '' },
    };
  }

  private completeUpload(p: Params): ApiResult {
    const list = p.files;
    if (!Array.isArray(list) || list.length === 0) return fail('invalid_arguments');
    const done: FakeFile[] = [];
    for (const entry of list as Array<{ id?: string; title?: string }>) {
      const file = entry.id ? this.files.get(entry.id) : undefined;
      if (!file) return fail('file_not_found');
      if (!file.uploaded) return fail('file_upload_not_complete');
      if (entry.title) file.title = entry.title;
      done.push({ id: file.id, name: file.name, title: file.title, size: file.size, content: file.content, bytes: file.bytes });
    }
    const channel = str(p.channel_id);
    if (channel) {
      if (!CHANNEL_ID.test(channel)) return fail('channel_not_found');
      const thread_ts = str(p.thread_ts);
      this.store({
        channel,
        ts: this.nextTs(),
        text: str(p.initial_comment) ?? '',
        user: this.botUserId,
        bot_id: this.botId,
        files: done,
        updates: 0,
        ...(thread_ts ? { thread_ts } : {}),
      });
    }
    return { ok: true, files: done.map((f) => ({ id: f.id, title: f.title, name: f.name })) };
  }

  // ----- uploads and response_url ------------------------------------------------------------------

  private async handleUpload(fileId: string, req: IncomingMessage, res: ServerResponse, url: URL, raw: Buffer): Promise<void> {
    const fault = this.takeFault('upload');
    this.calls.push({ method: 'upload', params: { file_id: fileId, bytes: raw.length }, at: Date.now(), tokenKind: kindOf(bearer(req)), ...(fault ? { fault } : {}) });
    if (fault && 'drop' in fault) return void req.socket.destroy();
    if (fault && 'status' in fault) return void res.writeHead(fault.status).end();
    const file = this.files.get(fileId);
    if (!file) return void res.writeHead(404, { 'content-type': 'text/plain' }).end('file not found');
    const parsed = await parseParams(req, url, raw);
    // The WebClient sends the bytes as one form field; a raw body works too.
    const field = Object.values(parsed.params).find((v) => Buffer.isBuffer(v) || typeof v === 'string');
    const content = field === undefined ? raw : Buffer.isBuffer(field) ? field : Buffer.from(String(field));
    file.content = content.toString('utf8');
    file.bytes = content;
    file.size = content.length;
    file.uploaded = true;
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`OK - ${content.length}`);
  }

  private async handleResponseUrl(id: string, req: IncomingMessage, res: ServerResponse, url: URL, raw: Buffer): Promise<void> {
    const parsed = await parseParams(req, url, raw);
    const body = (typeof parsed.params.payload === 'string' ? safeJson(parsed.params.payload) : parsed.params) as Record<string, unknown>;
    const fault = this.takeFault('response_url');
    this.calls.push({ method: 'response_url', params: { id, ...body }, at: Date.now(), tokenKind: 'none', ...(fault ? { fault } : {}) });
    if (fault && 'drop' in fault) return void req.socket.destroy();
    if (fault && 'status' in fault) return void res.writeHead(fault.status).end();
    const context = this.responseContexts.get(id) ?? { uses: 0 };
    this.responseContexts.set(id, context);
    if (context.uses >= RESPONSE_URL_MAX_USES) {
      return void res.writeHead(404, { 'content-type': 'text/plain' }).end('used_url');
    }
    context.uses += 1;
    this.responsePosts.push({ id, body, at: Date.now() });
    this.applyResponse(context, body);
    this.writeJson(res, 200, { ok: true });
  }

  /** What a response_url post does in Slack: replace/delete the source message, post, or whisper. */
  private applyResponse(context: ResponseUrlContext, body: Record<string, unknown>): void {
    const content = messageContent(body);
    const text = 'error' in content ? '' : (content.text ?? '');
    const blocks = 'error' in content ? undefined : content.blocks;
    const source = context.channel_id && context.message_ts ? this.messages.get(context.channel_id)?.find((m) => m.ts === context.message_ts) : undefined;
    if (bool(body.delete_original) && source) {
      source.deleted = true;
      return;
    }
    if (bool(body.replace_original) && source) {
      source.text = text;
      if (blocks) source.blocks = blocks;
      else delete source.blocks;
      source.updates += 1;
      return;
    }
    if (body.response_type === 'in_channel' && context.channel_id) {
      const thread_ts = str(body.thread_ts);
      this.store({ channel: context.channel_id, ts: this.nextTs(), text, user: this.botUserId, bot_id: this.botId, updates: 0, ...(blocks ? { blocks } : {}), ...(thread_ts ? { thread_ts } : {}) });
      return;
    }
    if (context.user_id) {
      this.addEphemeral({ channel: context.channel_id, user: context.user_id, text, ts: this.nextTs(), via: 'response_url', ...(blocks ? { blocks } : {}) });
    }
  }

  // ----- Socket Mode internals ---------------------------------------------------------------------

  private upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const url = new URL(req.url ?? '/', this.baseUrl);
    const ticket = url.searchParams.get('ticket') ?? '';
    if (url.pathname !== '/socket' || !this.tickets.delete(ticket)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onSocket(ws));
  }

  private onSocket(ws: WebSocket): void {
    this.sockets.add(ws);
    const span: { openedAt: number; closedAt: number | undefined } = { openedAt: Date.now(), closedAt: undefined };
    this.socketSpans.push(span);
    ws.on('close', () => (span.closedAt ??= Date.now()));
    ws.on('message', (data) => this.onSocketMessage(data.toString()));
    ws.on('close', () => this.onSocketClosed(ws));
    ws.on('error', () => ws.terminate());
    this.connectCount += 1;
    ws.send(
      JSON.stringify({
        type: 'hello',
        num_connections: this.sockets.size,
        debug_info: { host: 'fake-slack', build_number: 1, approximate_connection_time: 18060 },
        connection_info: { app_id: this.appId },
      }),
    );
    this.deliverQueued();
  }

  private onSocketMessage(text: string): void {
    const msg = safeJson(text) as { envelope_id?: unknown; payload?: unknown } | undefined;
    if (!msg || typeof msg.envelope_id !== 'string') return;
    const payload = (msg.payload && typeof msg.payload === 'object' ? msg.payload : {}) as Record<string, unknown>;
    const entry = this.pending.get(msg.envelope_id);
    if (!entry) {
      this.acks.push({ envelope_id: msg.envelope_id, type: 'unknown', payload, retryAttempt: 0 });
      return;
    }
    this.pending.delete(msg.envelope_id);
    clearTimeout(entry.timer);
    this.acks.push({
      envelope_id: msg.envelope_id,
      type: entry.envelope.type,
      payload,
      latencyMs: entry.sentAt === undefined ? undefined : Date.now() - entry.sentAt,
      retryAttempt: entry.envelope.retry_attempt,
    });
    entry.resolve(payload);
  }

  private onSocketClosed(ws: WebSocket): void {
    this.sockets.delete(ws);
    // Slack redelivers what the lost connection never acked.
    for (const entry of this.pending.values()) {
      if (entry.socket !== ws) continue;
      entry.socket = undefined;
      entry.envelope.retry_attempt += 1;
      entry.envelope.retry_reason = 'timeout';
    }
    this.deliverQueued();
  }

  private deliverQueued(): void {
    const target = [...this.sockets].reverse().find((s) => s.readyState === WebSocket.OPEN && !this.retiring.has(s));
    if (!target) return;
    for (const entry of this.pending.values()) {
      if (entry.socket) continue;
      entry.socket = target;
      entry.sentAt = Date.now();
      const { retry_attempt, retry_reason, ...rest } = entry.envelope;
      target.send(JSON.stringify(retry_attempt > 0 ? { ...rest, retry_attempt, retry_reason } : rest));
    }
  }

  // ----- storage ----------------------------------------------------------------------------------

  private store(msg: FakeMessage): void {
    const list = this.messages.get(msg.channel) ?? [];
    list.push(msg);
    list.sort((a, b) => tsCompare(a.ts, b.ts));
    this.messages.set(msg.channel, list);
  }

  private addEphemeral(e: Ephemeral): void {
    const list = this.ephemeralsByUser.get(e.user) ?? [];
    list.push(e);
    this.ephemeralsByUser.set(e.user, list);
  }

  private live(channelId: string): FakeMessage[] {
    return (this.messages.get(channelId) ?? []).filter((m) => !m.deleted).map((m) => ({ ...m }));
  }

  private isRoot(m: FakeMessage): boolean {
    return !m.thread_ts || m.thread_ts === m.ts || m.reply_broadcast === true;
  }

  /** A message as the Web API returns it. */
  private wire(m: FakeMessage, withMetadata: boolean): Record<string, unknown> {
    const replies = m.thread_ts ? [] : (this.messages.get(m.channel) ?? []).filter((r) => r.thread_ts === m.ts && !r.deleted);
    const out: Record<string, unknown> = {
      type: 'message',
      user: m.user,
      text: m.text,
      ts: m.ts,
      team: this.teamId,
    };
    if (m.bot_id) Object.assign(out, { bot_id: m.bot_id, app_id: this.appId });
    if (m.blocks) out.blocks = m.blocks;
    if (m.attachments) out.attachments = m.attachments;
    if (m.files) out.files = m.files.map(({ content: _content, bytes: _bytes, ...f }) => f);
    if (m.edited) out.edited = m.edited;
    if (m.thread_ts) {
      out.thread_ts = m.thread_ts;
      const parent = this.messages.get(m.channel)?.find((x) => x.ts === m.thread_ts);
      if (parent) out.parent_user_id = parent.user;
    } else if (replies.length > 0) {
      out.thread_ts = m.ts;
      out.reply_count = replies.length;
      out.reply_users = [...new Set(replies.map((r) => r.user))];
      out.latest_reply = replies[replies.length - 1]?.ts;
    }
    if (withMetadata && m.metadata) out.metadata = m.metadata;
    return out;
  }

  private nextTs(): string {
    const micros = Math.max(Math.floor(this.clock() * 1000), this.lastTsMicros + 100);
    this.lastTsMicros = micros;
    return `${Math.floor(micros / 1e6)}.${String(micros % 1e6).padStart(6, '0')}`;
  }

  private nowSecondsString(): string {
    return (this.clock() / 1000).toFixed(6);
  }

  private newId(prefix: string): string {
    this.idCounter += 1;
    return `${prefix}0${String(this.idCounter).padStart(6, '0')}${randomBytes(2).toString('hex').toUpperCase()}`;
  }

  private triggerId(): string {
    return `${Math.floor(this.clock() / 1000)}.${this.teamId.slice(1)}.${randomBytes(16).toString('hex')}`;
  }

  private defaultUser(id: string): FakeUser {
    return { id, name: id.toLowerCase(), real_name: `User ${id}`, tz: 'UTC' };
  }

  private writeJson(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
  }
}

export async function startFakeSlack(opts: FakeSlackOptions = {}): Promise<FakeSlack> {
  const fake = new FakeSlack(opts);
  await fake.listen();
  return fake;
}

// ---------------------------------------------------------------------------------------------
// Request parsing
// ---------------------------------------------------------------------------------------------

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Query, form, JSON or multipart parameters; JSON-string fields parsed (an error names the bad one). */
async function parseParams(req: IncomingMessage, url: URL, raw: Buffer): Promise<{ params: Params; error?: string }> {
  const params: Params = Object.fromEntries(url.searchParams);
  const contentType = req.headers['content-type'] ?? '';
  const mediaType = contentType.split(';')[0]?.trim().toLowerCase();
  if (mediaType === 'application/json' && raw.length > 0) {
    const body = safeJson(raw.toString('utf8'));
    if (!body || typeof body !== 'object') return { params, error: 'invalid_json' };
    Object.assign(params, body);
  } else if (mediaType === 'application/x-www-form-urlencoded') {
    Object.assign(params, Object.fromEntries(new URLSearchParams(raw.toString('utf8'))));
  } else if (mediaType === 'multipart/form-data') {
    const form = await new Response(new Uint8Array(raw), { headers: { 'content-type': contentType } }).formData();
    for (const [key, value] of form) {
      params[key] = typeof value === 'string' ? value : Buffer.from(await value.arrayBuffer());
    }
  }
  for (const [key, error] of Object.entries(JSON_STRING_PARAMS)) {
    const value = params[key];
    if (typeof value !== 'string') continue;
    const parsed = safeJson(value);
    if (parsed === undefined) return { params, error };
    params[key] = parsed;
  }
  return { params };
}

function bearer(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization ?? '';
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  return match?.[1];
}

function extractToken(req: IncomingMessage, params: Params): { token?: string; params: Params } {
  const { token: bodyToken, ...rest } = params;
  return { token: bearer(req) ?? str(bodyToken), params: rest };
}

function kindOf(token: string | undefined): TokenKind {
  if (!token) return 'none';
  if (token.startsWith('xoxb-')) return 'bot';
  if (token.startsWith('xapp-')) return 'app';
  if (token.startsWith('xoxp-')) return 'user';
  return 'none';
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** text/blocks/attachments/metadata of a post or update, checked as Slack checks them. */
function messageContent(p: Params):
  | { text?: string; blocks?: unknown[]; attachments?: unknown[]; metadata?: MessageMetadata }
  | { error: string; extra?: ApiResult } {
  const text = typeof p.text === 'string' ? p.text : undefined;
  if (text !== undefined && text.length > 40_000) return { error: 'msg_too_long' };
  let blocks: unknown[] | undefined;
  if (p.blocks !== undefined && p.blocks !== '') {
    const problem = blockKitProblem(p.blocks);
    if (problem) return { error: 'invalid_blocks', extra: { errors: [problem], response_metadata: { messages: [`[ERROR] ${problem}`] } } };
    blocks = p.blocks as unknown[];
  }
  let attachments: unknown[] | undefined;
  if (p.attachments !== undefined && p.attachments !== '') {
    if (!Array.isArray(p.attachments)) return { error: 'invalid_attachments' };
    attachments = p.attachments;
  }
  let metadata: MessageMetadata | undefined;
  if (p.metadata !== undefined && p.metadata !== '') {
    const m = p.metadata as Partial<MessageMetadata> | null;
    if (!m || typeof m !== 'object' || typeof m.event_type !== 'string' || !m.event_payload || typeof m.event_payload !== 'object') {
      return { error: 'invalid_metadata_format' };
    }
    metadata = { event_type: m.event_type, event_payload: m.event_payload };
  }
  return {
    ...(text !== undefined ? { text } : {}),
    ...(blocks ? { blocks } : {}),
    ...(attachments ? { attachments } : {}),
    ...(metadata ? { metadata } : {}),
  };
}

/** Slack's `oldest`/`latest` window (exclusive unless `inclusive`). */
function inRange(ts: string, p: Params): boolean {
  const inclusive = bool(p.inclusive);
  const oldest = str(p.oldest);
  const latest = str(p.latest);
  if (oldest && (inclusive ? tsCompare(ts, oldest) < 0 : tsCompare(ts, oldest) <= 0)) return false;
  if (latest && (inclusive ? tsCompare(ts, latest) > 0 : tsCompare(ts, latest) >= 0)) return false;
  return true;
}
