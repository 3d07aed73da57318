/**
 * Webhooks reach every replica, but only the leader runs the registry watcher. A standby that
 * receives a push stores a "check this tag now" request; the leader looks for requests every
 * `pollMs`, runs the check and stores the answer, which the standby's hook is waiting for. The
 * requests live in the subjects state (subject `check-request:<ref>`), so they need no table of
 * their own and survive a failover: a request no leader answered yet is served by the next one.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../log.js';

/** The part of the store this needs (the subjects state). */
export interface RequestStore {
  setState(subject: string, key: string, value: unknown, at: number): void;
  state<T>(subject: string, key: string): { value: T; updatedAt: number } | undefined;
  allStates<T>(key: string): Array<{ subject: string; value: T; updatedAt: number }>;
}

interface CheckRequest {
  ref: string;
  id: string;
}
interface CheckAnswer {
  id: string;
  served: string | null;
}

const SUBJECT_PREFIX = 'check-request:';
const REQUEST_KEY = 'checkNow';
const ANSWER_KEY = 'checkNowAnswer';

export class CheckRequests {
  private timer: NodeJS.Timeout | undefined;
  /** Request ids this leader is checking now, so a slow check is not started twice. */
  private readonly underWay = new Set<string>();
  private serving = false;

  constructor(
    private readonly store: RequestStore,
    private readonly now: () => number,
    private readonly log: Logger,
    private readonly pollMs = 200,
  ) {}

  /**
   * On a standby: asks the leader to check `ref` now and waits (at most `timeoutMs`) for the
   * digest it found. Resolves to undefined when no answer came (no leader, or the check failed).
   */
  async request(ref: string, timeoutMs = 5_000): Promise<string | undefined> {
    const id = randomUUID();
    const subject = SUBJECT_PREFIX + ref;
    this.store.setState(subject, REQUEST_KEY, { ref, id } satisfies CheckRequest, this.now());
    // One slot per ref: a later push for the same tag (at any replica) overwrites our request. Its
    // check starts after our request was stored, so its answer answers us too.
    const answeredBy = new Set<string>([id]);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      const pending = this.store.state<CheckRequest>(subject, REQUEST_KEY)?.value;
      if (pending) answeredBy.add(pending.id);
      const answer = this.store.state<CheckAnswer>(subject, ANSWER_KEY)?.value;
      if (answer && answeredBy.has(answer.id)) return answer.served ?? undefined;
    }
    return undefined;
  }

  /** On the leader: answers every unanswered request with `check` until `stop`. */
  serve(check: (ref: string) => Promise<string | undefined>): void {
    if (this.serving) return;
    this.serving = true;
    const poll = () => {
      if (!this.serving) return;
      try {
        this.answerPending(check);
      } catch (error) {
        this.log.warn({ err: error }, 'reading the check requests of standby replicas failed; trying again');
      }
      this.timer = setTimeout(poll, this.pollMs);
      this.timer.unref?.();
    };
    poll();
  }

  stop(): void {
    this.serving = false;
    if (this.timer) clearTimeout(this.timer);
  }

  private answerPending(check: (ref: string) => Promise<string | undefined>): void {
    // Two queries a poll, however many tags were ever pushed through a standby.
    const answered = new Map(this.store.allStates<CheckAnswer>(ANSWER_KEY).map(({ subject, value }) => [subject, value.id]));
    for (const { subject, value: request } of this.store.allStates<CheckRequest>(REQUEST_KEY)) {
      if (!subject.startsWith(SUBJECT_PREFIX) || this.underWay.has(request.id)) continue;
      if (answered.get(subject) === request.id) continue;
      this.underWay.add(request.id);
      void check(request.ref)
        .catch(() => undefined)
        .then((served) => {
          if (this.serving) this.store.setState(subject, ANSWER_KEY, { id: request.id, served: served ?? null } satisfies CheckAnswer, this.now());
        })
        .catch((error: unknown) => this.log.warn({ err: error, image: request.ref }, 'storing the answer to a standby replica failed'))
        .finally(() => this.underWay.delete(request.id));
    }
  }
}
