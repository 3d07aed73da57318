/** incidents/edit-pacing.ts: how soon a root edit may go out (pure, on a number line of milliseconds). */
import { describe, expect, it } from 'vitest';
import { EditPacer, MACHINE_EDIT_EVERY_MS, STORM_EDIT_EVERY_MS } from '../src/incidents/edit-pacing.js';

describe('root edit pacing', () => {
  it('machine-made edits of one root go out at most once per 10 s; a burst becomes one edit at the due time', () => {
    const pacer = new EditPacer();
    pacer.posted(1, 0);
    // Restart counts change at 1 s, 2 s and 9 s: all wait for 10 s (the outbox keeps the newest).
    expect([1_000, 2_000, 9_000].map((at) => pacer.due(1, 'machine', at, 0))).toEqual([MACHINE_EDIT_EVERY_MS, MACHINE_EDIT_EVERY_MS, MACHINE_EDIT_EVERY_MS]);
    // After that edit went, the next waits another 10 s.
    expect(pacer.due(1, 'machine', 10_500, 0)).toBe(20_000);
    // Another root is paced on its own.
    pacer.posted(2, 10_500);
    expect(pacer.due(2, 'machine', 11_000, 0)).toBe(20_500);
  });

  it("a person's action or a resolution goes at once, and pulls a waiting machine edit forward", () => {
    const pacer = new EditPacer();
    pacer.posted(1, 0);
    expect(pacer.due(1, 'machine', 1_000, 0)).toBe(10_000);
    expect(pacer.due(1, 'human', 2_000, 0)).toBe(2_000);
    // The machine edit was superseded by the person's; the next machine edit counts from it.
    expect(pacer.due(1, 'machine', 3_000, 0)).toBe(12_000);
  });

  it('a storm root takes new incidents at most once a second, restart counts at most once per 10 s', () => {
    const pacer = new EditPacer();
    pacer.posted(9, 0);
    expect(pacer.due(9, 'event', 100, STORM_EDIT_EVERY_MS)).toBe(1_000);
    expect(pacer.due(9, 'event', 600, STORM_EDIT_EVERY_MS)).toBe(1_000);
    expect(pacer.due(9, 'event', 1_200, STORM_EDIT_EVERY_MS)).toBe(2_000);
    expect(pacer.due(9, 'machine', 2_500, STORM_EDIT_EVERY_MS)).toBe(12_000);
    // A new incident while a restart-count edit waits: it goes within a second.
    expect(pacer.due(9, 'event', 2_600, STORM_EDIT_EVERY_MS)).toBe(3_000);
  });
});
