/**
 * The fencing term survives a deleted or recreated Lease (leaseTransitions back at 0): rows claimed
 * under the old terms are still delivered by the new leader, after the search by key.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Poster } from '../src/delivery/poster.js';
import { systemClock } from '../src/domain/clock.js';
import type { MessageModel } from '../src/domain/messages.js';
import { beginFencingTerm, nextFencingTerm } from '../src/ha/fencing-term.js';
import { createLogger } from '../src/log.js';
import { Store } from '../src/store/index.js';
import { RecordingService } from './support/recording-service.js';

const quiet = createLogger({ level: 'silent' });
const stores: Store[] = [];
afterEach(() => {
  for (const store of stores.splice(0)) store.close();
});

function freshStore(): Store {
  const store = Store.open(join(mkdtempSync(join(tmpdir(), 'dw-fencing-')), 'db.sqlite'));
  stores.push(store);
  return store;
}

const alert = (title: string): MessageModel => ({ tone: 'critical', title: [title] }) as MessageModel;

/** Two alerts the old leader claimed under term 5; the first one reached Slack before it died. */
async function claimedUnderTermFive(store: Store, service: RecordingService): Promise<void> {
  for (const key of ['alert-sent', 'alert-unsent']) {
    store.outbox.enqueue({ key, channel: 'C0ALERTS', kind: 'post', incidentId: null, role: 'message', message: alert(key), at: Date.now() });
    expect(store.outbox.claim(store.outbox.byKey(key)!.id, 5, 0)).toBe(true);
  }
  await service.post({ channel: 'C0ALERTS', key: 'alert-sent', message: alert('alert-sent') });
}

function poster(store: Store, service: RecordingService, term: () => number | undefined): Poster {
  return new Poster(store, service, systemClock, quiet, { baseBackoffMs: 10, term });
}

describe('the fencing term', () => {
  it('is the Lease term unless the store saw that term or a higher one', () => {
    expect(nextFencingTerm(3, undefined)).toBe(3);
    expect(nextFencingTerm(3, 1)).toBe(3);
    expect(nextFencingTerm(0, 5)).toBe(6);
    expect(nextFencingTerm(6, 6)).toBe(7);
  });

  it('rows claimed under term 5 are delivered by a leader of a Lease recreated at 0, after the search by key', async () => {
    const store = freshStore();
    const service = new RecordingService();
    await claimedUnderTermFive(store, service);

    // Fencing with the Lease's own term, the rows stay blocked (the bug this guards against).
    const raw = poster(store, service, () => 0);
    expect(await raw.drain(300)).toBe(false);
    await raw.stop(Date.now());
    expect(service.posted.map((message) => message.key)).toEqual(['alert-sent']);

    const term = beginFencingTerm(store, 0, Date.now());
    expect(term).toBe(6);
    const fenced = poster(store, service, () => term);
    expect(await fenced.drain(5_000)).toBe(true);
    await fenced.stop(Date.now());
    // the one in Slack already is found by its key, not posted twice
    expect(service.posted.map((message) => message.key).sort()).toEqual(['alert-sent', 'alert-unsent']);
  });

  it('each new leadership gets a higher term than the last, even one that claimed nothing', () => {
    const store = freshStore();
    expect(beginFencingTerm(store, 0, Date.now())).toBe(0);
    expect(beginFencingTerm(store, 1, Date.now())).toBe(1);
    // the Lease is recreated twice; nothing was claimed in between
    expect(beginFencingTerm(store, 0, Date.now())).toBe(2);
    expect(beginFencingTerm(store, 0, Date.now())).toBe(3);
    expect(beginFencingTerm(store, 4, Date.now())).toBe(4);
  });
});
