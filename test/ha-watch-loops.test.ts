/** Each watch and poll loop reports its interval and its last completed cycle (the heartbeat's input). */
import { describe, expect, it } from 'vitest';
import { Scheduler } from '../src/watchers/scheduler.js';

describe('Scheduler.loops', () => {
  it('names every loop with its period; lastCycleAt is set when a run ends, failed runs included', async () => {
    const scheduler = new Scheduler(() => 0);
    let fail = true;
    scheduler.every(30, async () => undefined, () => undefined, 'endpoint relay');
    scheduler.every(
      40,
      async () => {
        if (fail) throw new Error('registry down');
      },
      () => undefined,
    );
    const before = scheduler.loops();
    expect(before).toEqual([
      { name: 'endpoint relay', everyMs: 30, lastCycleAt: undefined },
      { name: 'loop 2', everyMs: 40, lastCycleAt: undefined },
    ]);
    const started = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const after = scheduler.loops();
    expect(after.every((loop) => loop.lastCycleAt !== undefined && loop.lastCycleAt >= started)).toBe(true);
    fail = false;
    await scheduler.stop();
    // A copy: the caller can't change the scheduler's bookkeeping.
    after[0]!.lastCycleAt = 0;
    expect(scheduler.loops()[0]!.lastCycleAt).not.toBe(0);
  });
});
