/** Standbys' "check this tag now" requests, answered by the leader through the shared store. */
import { describe, expect, it } from 'vitest';
import { CheckRequests, type RequestStore } from '../src/ha/check-requests.js';
import { createLogger } from '../src/log.js';

/** The subjects state as the replicas share it (one database). */
class MemoryStates implements RequestStore {
  private readonly states = new Map<string, { subject: string; key: string; value: unknown; updatedAt: number }>();
  setState(subject: string, key: string, value: unknown, at: number): void {
    this.states.set(`${subject}\u0000${key}`, { subject, key, value: structuredClone(value), updatedAt: at });
  }
  state<T>(subject: string, key: string): { value: T; updatedAt: number } | undefined {
    const found = this.states.get(`${subject}\u0000${key}`);
    return found && { value: structuredClone(found.value) as T, updatedAt: found.updatedAt };
  }
  allStates<T>(key: string): Array<{ subject: string; value: T; updatedAt: number }> {
    return [...this.states.values()].filter((entry) => entry.key === key).map((entry) => ({ subject: entry.subject, value: structuredClone(entry.value) as T, updatedAt: entry.updatedAt }));
  }
}

const quiet = createLogger({ level: 'silent' });

describe('CheckRequests', () => {
  it('two pushes for the same tag at two standbys within one check both get the digest', async () => {
    const store = new MemoryStates();
    const standbyA = new CheckRequests(store, () => Date.now(), quiet);
    const standbyB = new CheckRequests(store, () => Date.now(), quiet);
    const leader = new CheckRequests(store, () => Date.now(), quiet, 50);
    const ref = 'ghcr.io/confighubai/confighub-worker:latest';
    const checked: string[] = [];
    const first = standbyA.request(ref, 3_000);
    const second = standbyB.request(ref, 3_000);
    // the leader looks after both requests were stored: the second overwrote the first
    leader.serve(async (image) => {
      checked.push(image);
      return 'sha256:bb';
    });
    try {
      expect(await Promise.all([first, second])).toEqual(['sha256:bb', 'sha256:bb']);
      expect(checked).toEqual([ref]);
    } finally {
      leader.stop();
    }
  });

  it('a request no leader answers resolves to undefined after its timeout', async () => {
    const store = new MemoryStates();
    expect(await new CheckRequests(store, () => Date.now(), quiet).request('ghcr.io/a/b:1', 200)).toBeUndefined();
  });
});
