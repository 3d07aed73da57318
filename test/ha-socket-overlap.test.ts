/** The fake Slack's measure of Socket Mode overlap, which the HA suites assert on, measures. */
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeSlack, type FakeSlack } from './support/fake-slack.js';

let slack: FakeSlack | undefined;
afterEach(async () => {
  await slack?.close();
});

describe('FakeSlack.longestSocketOverlapMs', () => {
  it('is the longest stretch with two or more connections open; a hand-over in the same ms is none', async () => {
    slack = await startFakeSlack();
    expect(slack.longestSocketOverlapMs(100)).toBe(0);
    slack.socketSpans.push({ openedAt: 0, closedAt: 1000 }, { openedAt: 1000, closedAt: 5000 });
    expect(slack.longestSocketOverlapMs(6000)).toBe(0);
    slack.socketSpans.push({ openedAt: 4000, closedAt: 4700 }, { openedAt: 4900, closedAt: undefined });
    // 4000–4700 (700 ms), then 4900–5000 (100 ms); the last one is open alone until now.
    expect(slack.longestSocketOverlapMs(6000)).toBe(700);
    slack.socketSpans.push({ openedAt: 5500, closedAt: undefined });
    // Two open until now: 5500–9000.
    expect(slack.longestSocketOverlapMs(9000)).toBe(3500);
  });
});
