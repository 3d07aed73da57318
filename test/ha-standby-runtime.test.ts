/**
 * A replica that lost the Lease, in-process: the sink writes nothing to the store (a stale check of
 * an ex-leader must not record history the new leader judges by), and standing down does not wait
 * on a Slack call in flight (fencing already stops it), so the next lead() is not held up.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import { ManualClock } from '../src/domain/clock.js';
import type { MessageService } from '../src/domain/messages.js';
import { createLogger } from '../src/log.js';
import { Runtime } from '../src/runtime.js';
import { RecordingService } from './support/recording-service.js';

const quiet = createLogger({ level: 'silent' });
const runtimes: Runtime[] = [];
afterEach(async () => {
  for (const runtime of runtimes.splice(0)) await runtime.stop(0).catch(() => {});
});

/** The runtime's leadership internals the elector drives (no apiserver here). */
type Internals = { elector: { isLeader(): boolean } | undefined; leaderWork: boolean; standDown(): Promise<void> };

function start(clock = new ManualClock()) {
  const runtime = new Runtime(parseConfig({ slack: { channel: 'C0ALERTS' }, store: { path: join(mkdtempSync(join(tmpdir(), 'dw-')), 'db.sqlite') } }), { clock, log: quiet });
  runtimes.push(runtime);
  return { runtime, internals: runtime as unknown as Internals };
}

describe('a replica that lost the Lease', () => {
  it('records no links, tag digests or running pods through the sink', () => {
    const { runtime, internals } = start();
    let leading = true;
    internals.elector = { isLeader: () => leading };
    const sink = runtime.sink();
    const ref = 'ghcr.io/confighubai/confighub-worker:latest';
    expect(sink.tagDigest(ref, 'sha256:aa', {})).toBeUndefined();
    leading = false;
    // the old leader's stale registry check: the tag moved, but it may not say so, nor record it
    expect(sink.tagDigest(ref, 'sha256:bb', {})).toBeUndefined();
    sink.links('worker:cost-optimizer-worker', 'kube', [`image:${ref}`]);
    sink.running('worker:cost-optimizer-worker', [{ pod: 'worker-1', container: 'app', image: ref, digest: 'sha256:bb', ready: true }]);
    expect(runtime.store.digests.historyOf(ref).map((entry) => entry.digest)).toEqual(['sha256:aa']);
    expect([...runtime.store.subjects.linked('worker:cost-optimizer-worker')]).toEqual([]);
    expect(runtime.store.digests.healthyOf('ghcr.io/confighubai/confighub-worker')).toEqual([]);
    // the new leader sees the move
    leading = true;
    expect(sink.tagDigest(ref, 'sha256:bb', {})).toBe('sha256:aa');
  });

  it('stands down without waiting for a Slack call in flight', async () => {
    const { runtime, internals } = start();
    let posting = false;
    const hung: MessageService = Object.assign(new RecordingService(), {
      post: () => {
        posting = true;
        return new Promise<{ ts: string }>(() => undefined);
      },
    });
    internals.leaderWork = true;
    runtime.startDelivery(hung);
    runtime.store.outbox.enqueue({ key: 'hello', channel: 'C0ALERTS', kind: 'post', incidentId: null, role: 'message', message: { tone: 'info', title: ['hello'] } as never, at: Date.now() });
    const until = Date.now() + 5_000;
    while (!posting && Date.now() < until) {
      runtime.channelJoined('C0ALERTS');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(posting).toBe(true);
    const outcome = await Promise.race([internals.standDown().then(() => 'stood down'), new Promise((resolve) => setTimeout(resolve, 5_000, 'still waiting on the send'))]);
    expect(outcome).toBe('stood down');
  }, 15_000);
});
