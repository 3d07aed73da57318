import type { Config } from '../config.js';

/** Looks up the members of a Slack user group (usergroups.users.list in Slack). */
export type GroupMembers = (groupId: string) => Promise<string[]>;

export interface AccessDecision {
  allowed: boolean;
  reason: string;
  /** Set when the answer is "we could not check", not "you are not on the list". */
  unchecked?: boolean;
}

/** A membership this fresh is used without asking Slack. */
export const GROUP_CACHE_MS = 5 * 60_000;
/** A membership older than this is never used, even when Slack cannot be asked (a removed member stays removed). */
export const GROUP_MAX_AGE_MS = 15 * 60_000;

export interface AccessOptions {
  now?: () => number;
  /** Told about every failed look-up (the runtime logs it). */
  onLookupFailure?: (group: string, error: Error) => void;
}

/** What the asker reads when refused: a failed look-up is said as such, never as "ask to be added". */
export function refusalText(decision: AccessDecision): string {
  return decision.unchecked ? decision.reason : `Not allowed: ${decision.reason}`;
}

class LookupFailed extends Error {}

/**
 * DESIGN.md's access rules: a rule allows the users it lists or members of its groups, in its
 * channels (none = any); a command without a rule is denied. Group memberships: cached 5 minutes,
 * one look-up per group at a time, never older than 15 minutes (PRODUCTION.md "Access").
 */
export class AccessPolicy {
  private readonly groupCache = new Map<string, { members: Set<string>; at: number }>();
  private readonly inflight = new Map<string, Promise<Set<string>>>();
  private readonly now: () => number;

  constructor(
    private readonly rules: Config['access'],
    private readonly groupMembers: GroupMembers = async () => [],
    private readonly options: AccessOptions = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  /** Whether the config has a rule of this name (optional rules apply only when written). */
  hasRule(command: string): boolean {
    return Object.hasOwn(this.rules, command);
  }

  async check(command: string, user: string, channel: string): Promise<AccessDecision> {
    const rule = this.hasRule(command) ? this.rules[command] : undefined;
    if (!rule) return { allowed: false, reason: `no access rule for "${command}" — ask an admin to add access."${command}" to the config` };
    if (rule.channels.length > 0 && !rule.channels.includes(channel)) {
      return { allowed: false, reason: `"${command}" may only be used in ${rule.channels.map((id) => `<#${id}>`).join(', ')}` };
    }
    if (rule.users.includes(user)) return { allowed: true, reason: 'listed user' };
    const failures: string[] = [];
    for (const group of rule.groups) {
      try {
        if ((await this.members(group)).has(user)) return { allowed: true, reason: `member of <!subteam^${group}>` };
      } catch (error) {
        failures.push((error as Error).message);
      }
    }
    if (failures.length > 0) {
      return { allowed: false, unchecked: true, reason: `couldn't check your user groups (${failures.join('; ')}); try again in a minute` };
    }
    const who = [...rule.users.map((id) => `<@${id}>`), ...rule.groups.map((id) => `<!subteam^${id}>`)].join(', ') || 'nobody yet';
    return { allowed: false, reason: `"${command}" is allowed for ${who} — ask to be added to access."${command}"` };
  }

  private members(group: string): Promise<Set<string>> {
    const cached = this.groupCache.get(group);
    if (cached && this.now() - cached.at < GROUP_CACHE_MS) return Promise.resolve(cached.members);
    const running = this.inflight.get(group);
    if (running) return running;
    const lookup = this.lookUp(group).finally(() => this.inflight.delete(group));
    this.inflight.set(group, lookup);
    return lookup;
  }

  private async lookUp(group: string): Promise<Set<string>> {
    const startedAt = this.now();
    try {
      const members = new Set(await this.groupMembers(group));
      this.groupCache.set(group, { members, at: startedAt });
      return members;
    } catch (error) {
      const reason = describeFailure(error);
      this.options.onLookupFailure?.(group, new Error(`usergroups.users.list ${group}: ${reason}`));
      // A recent answer stands in for a failed one; an old one never does.
      const cached = this.groupCache.get(group);
      if (cached && this.now() - cached.at < GROUP_MAX_AGE_MS) return cached.members;
      throw new LookupFailed(reason);
    }
  }
}

/** A short reason for the asker: Slack's error code or HTTP status, never a stack. */
function describeFailure(error: unknown): string {
  const shaped = error as { code?: string; data?: { error?: string }; statusCode?: number; retryAfter?: number; message?: string };
  if (shaped.code === 'slack_webapi_rate_limited_error') return `Slack is rate limiting us${shaped.retryAfter ? ` for ${shaped.retryAfter}s` : ''}`;
  if (shaped.data?.error) return `Slack said ${shaped.data.error}`;
  if (shaped.statusCode) return `Slack answered HTTP ${shaped.statusCode}`;
  return (shaped.message ?? String(error)).replace(/\s+/g, ' ').slice(0, 120);
}
