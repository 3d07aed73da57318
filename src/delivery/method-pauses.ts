/**
 * Slack rate-limits per Web API method: a 429 with `Retry-After` means every caller of that
 * method waits, not only the message that got it. One instance is shared by all delivery lanes.
 */
export class MethodPauses {
  private readonly until = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Nobody calls `method` before `now + ms` (a later pause never shortens an earlier one). */
  pause(method: string, ms: number): void {
    const until = this.now() + ms;
    if (until > (this.until.get(method) ?? 0)) this.until.set(method, until);
  }

  /** How long a call of `method` must wait now (0: go). */
  waitMs(method: string): number {
    return Math.max(0, (this.until.get(method) ?? 0) - this.now());
  }

  /** Resolves when `method` may be called; re-checks, since a pause can grow while waiting. */
  async ready(method: string): Promise<void> {
    for (let wait = this.waitMs(method); wait > 0; wait = this.waitMs(method)) {
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}
