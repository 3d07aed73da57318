/**
 * When the Bolt app is connected. Without `ha` it connects at start and stays. With `ha`, in
 * Socket Mode, only the leader holds the connection (Slack would spread the envelopes over every
 * open socket): it opens when this replica starts leading — retrying until it succeeds while the
 * replica leads — and closes at once when leading stops. HTTP mode listens on every replica.
 */
import type { App } from '@slack/bolt';
import type { Logger } from '../log.js';
import type { LeadershipHooks } from '../runtime.js';

const RETRY_MS = 2_000;

export class SlackConnection implements LeadershipHooks {
  /** Whether the app is started (the socket may still be reconnecting; see `connected`). */
  open = false;
  private wanted = false;
  private first: Promise<void> | undefined;
  private starting: Promise<void> | undefined;
  private retry: NodeJS.Timeout | undefined;

  constructor(
    private readonly app: App,
    private readonly log: Logger,
    private readonly when: 'always' | 'on leadership',
  ) {}

  startedLeading(): void {
    this.wanted = true;
    this.first ??= this.connect();
    if (!this.open && !this.starting) void this.connect().catch(() => undefined);
  }

  /** Resolves when the first start succeeded; rejects with its error (a bad token stops `run`). */
  opened(): Promise<void> {
    return this.first ?? Promise.reject(new Error('Slack: never asked to connect'));
  }

  async stoppedLeading(): Promise<void> {
    this.wanted = false;
    if (this.retry) clearTimeout(this.retry);
    await this.starting?.catch(() => undefined);
    if (!this.open) return;
    this.open = false;
    await this.app.stop().catch((error: unknown) => this.log.warn({ err: error }, 'Slack: closing the connection failed'));
    if (this.when === 'on leadership') this.log.info('Slack: connection closed (no longer leading)');
  }

  private connect(): Promise<void> {
    const attempt = (async () => {
      try {
        await this.app.start();
      } finally {
        this.starting = undefined;
      }
      this.open = true;
      // Leading stopped while the socket was opening: close it now.
      if (!this.wanted) {
        await this.stoppedLeading();
        return;
      }
      if (this.when === 'on leadership') this.log.info('Slack: connected (leading)');
    })();
    this.starting = attempt;
    // With `ha` a failed start is retried while leading; without it the caller sees the error.
    if (this.when === 'on leadership') {
      attempt.catch((error: unknown) => {
        this.log.warn({ err: error }, `Slack: could not connect; trying again in ${RETRY_MS / 1000} s`);
        this.retry = setTimeout(() => {
          if (this.wanted && !this.open) void this.connect().catch(() => undefined);
        }, RETRY_MS);
        this.retry.unref?.();
      });
    }
    return attempt;
  }
}
