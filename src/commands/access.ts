import type { Config } from '../config.js';

/** Looks up the members of a Slack user group (usergroups.users.list in Slack). */
export type GroupMembers = (groupId: string) => Promise<string[]>;

export interface AccessDecision {
  allowed: boolean;
  reason: string;
}

const CACHE_MS = 5 * 60_000;

/**
 * DESIGN.md's access rules: a rule allows the users it lists or members of its groups, in its
 * channels (none = any); a command without a rule is denied.
 */
export class AccessPolicy {
  private readonly groupCache = new Map<string, { members: Set<string>; at: number }>();

  constructor(
    private readonly rules: Config['access'],
    private readonly groupMembers: GroupMembers = async () => [],
  ) {}

  async check(command: string, user: string, channel: string): Promise<AccessDecision> {
    const rule = this.rules[command];
    if (!rule) return { allowed: false, reason: `no access rule for "${command}" — ask an admin to add access."${command}" to the config` };
    if (rule.channels.length > 0 && !rule.channels.includes(channel)) {
      return { allowed: false, reason: `"${command}" may only be used in ${rule.channels.map((id) => `<#${id}>`).join(', ')}` };
    }
    if (rule.users.includes(user)) return { allowed: true, reason: 'listed user' };
    for (const group of rule.groups) {
      if ((await this.members(group)).has(user)) return { allowed: true, reason: `member of <!subteam^${group}>` };
    }
    const who = [...rule.users.map((id) => `<@${id}>`), ...rule.groups.map((id) => `<!subteam^${id}>`)].join(', ') || 'nobody yet';
    return { allowed: false, reason: `"${command}" is allowed for ${who} — ask to be added to access."${command}"` };
  }

  private async members(group: string): Promise<Set<string>> {
    const cached = this.groupCache.get(group);
    if (cached && Date.now() - cached.at < CACHE_MS) return cached.members;
    try {
      const members = new Set(await this.groupMembers(group));
      this.groupCache.set(group, { members, at: Date.now() });
      return members;
    } catch {
      return cached?.members ?? new Set();
    }
  }
}
