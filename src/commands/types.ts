/**
 * The shapes every command shares: who asked where, what a handler returns, what a face gets
 * back. Apart from the bus so the bus, confirmations and handlers depend on these, not on each other.
 */
import type { MessageModel } from '../domain/messages.js';

/** Who asked, where: the same for Slack and the console. */
export interface CommandContext {
  user: string;
  channel: string;
  /** Set when the command came from a thread or a message shortcut. */
  threadTs?: string;
  face: 'slack' | 'console';
}

/** What a cluster-changing command will do, shown before anyone confirms. */
export interface Plan {
  /** Access rule name, e.g. `worker pin`. */
  rule: string;
  /** The incident it acts on, if any: its cancels, expiries and foreign presses go on that timeline too. */
  incidentId?: number;
  /** Before → after, namespace, cluster, warnings. */
  preview: MessageModel;
  /** Does it; returns what happened. Called at most once. */
  execute(ctx: CommandContext): Promise<MessageModel>;
}

export type CommandReply =
  | { kind: 'message'; message: MessageModel; visibility: 'ephemeral' | 'channel' }
  | { kind: 'confirm'; id: string; preview: MessageModel };

export class UsageError extends Error {}

/** An answer that is the whole reply: no usage line (visibility refusals say nothing more). */
export class PlainRefusal extends Error {}

export interface CommandSpec {
  family: string;
  name: string;
  usage: string;
  summary: string;
  /** Cluster-changing: access rule `${family} ${name}` and a confirmation first. */
  guarded?: boolean;
  /** Guarded commands return a plan; others answer directly. `rawArgs` is the text as typed (notes keep their quotes). */
  handle(args: string[], ctx: CommandContext, rawArgs: string): Promise<MessageModel | Plan>;
}

export const info = (text: string, tone: MessageModel['tone'] = 'info'): MessageModel => ({ tone, title: [text] });
