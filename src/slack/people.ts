import type { webApi } from '@slack/bolt';
import type { PeopleDirectory } from '../commands/people.js';

const HOUR = 3_600_000;
/** A failed look-up is not retried for a minute: a rate-limited Slack is not asked again per name. */
const FAILURE_MS = 60_000;

/**
 * Display names from `users.info`: cached for an hour, concurrent look-ups of one id share one
 * call, and each call gives up after `timeoutMs` (the id stands in for the name then).
 */
export class SlackPeople implements PeopleDirectory {
  private readonly cache = new Map<string, { name: string; until: number }>();
  private readonly inflight = new Map<string, Promise<string>>();

  constructor(
    private readonly client: webApi.WebClient,
    private readonly options: { timeoutMs?: number; now?: () => number } = {},
  ) {}

  displayName(user: string): Promise<string> {
    const now = (this.options.now ?? Date.now)();
    const cached = this.cache.get(user);
    if (cached && cached.until > now) return Promise.resolve(cached.name);
    const running = this.inflight.get(user);
    if (running) return running;
    const lookup = this.lookUp(user).finally(() => this.inflight.delete(user));
    this.inflight.set(user, lookup);
    return lookup;
  }

  private async lookUp(user: string): Promise<string> {
    const now = (this.options.now ?? Date.now)();
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('users.info timed out')), this.options.timeoutMs ?? 1000)));
      const answer = await Promise.race([this.client.users.info({ user }), timeout]);
      const profile = answer.user?.profile;
      const name = profile?.display_name || profile?.real_name || answer.user?.real_name || answer.user?.name || user;
      this.cache.set(user, { name, until: now + HOUR });
      return name;
    } catch {
      this.cache.set(user, { name: user, until: now + FAILURE_MS });
      return user;
    } finally {
      clearTimeout(timer);
    }
  }
}
