/** The delivery decisions as pure functions: what an error means, when a lane moves, how long a method pauses. */
import { describe, expect, it } from 'vitest';
import { DeliveryError } from '../src/domain/messages.js';
import { decideAfterError, nextLaneTime } from '../src/delivery/poster.js';
import { MethodPauses } from '../src/delivery/method-pauses.js';
import { classifySlackError } from '../src/slack/service.js';

const platform = (error: string) => ({ code: 'slack_webapi_platform_error', data: { ok: false, error } });

describe('what a Slack failure tells about the message', () => {
  it('answers are definite, silence and 5xx are unknown, a channel that refuses keeps the message', () => {
    expect(classifySlackError({ code: 'slack_webapi_rate_limited_error', retryAfter: 7 }, 'chat.postMessage')).toMatchObject({ outcome: 'definite', retryable: true, retryAfterMs: 7000 });
    expect(classifySlackError(platform('message_limit_exceeded'), 'chat.postMessage')).toMatchObject({ outcome: 'definite', retryable: true });
    // Slack documents that these may have partly succeeded.
    for (const maybeDone of ['internal_error', 'fatal_error']) {
      expect(classifySlackError(platform(maybeDone), 'chat.postMessage')).toMatchObject({ outcome: 'unknown', retryable: true });
    }
    expect(classifySlackError(platform('invalid_blocks'), 'chat.postMessage')).toMatchObject({ outcome: 'definite', retryable: false });
    for (const refusal of ['not_in_channel', 'channel_not_found', 'is_archived']) {
      expect(classifySlackError(platform(refusal), 'chat.postMessage')).toMatchObject({ outcome: 'refused', message: `slack chat.postMessage: ${refusal}` });
    }
    expect(classifySlackError({ code: 'slack_webapi_http_error', statusCode: 400 }, 'chat.update')).toMatchObject({ outcome: 'definite' });
    expect(classifySlackError({ code: 'slack_webapi_http_error', statusCode: 503 }, 'chat.update')).toMatchObject({ outcome: 'unknown', retryable: true });
    expect(classifySlackError({ code: 'slack_webapi_request_error', message: 'socket hang up' }, 'chat.postMessage')).toMatchObject({ outcome: 'unknown', message: 'slack chat.postMessage: socket hang up' });
  });

  it('only an unknown outcome makes the next attempt search first; refusals are kept; 429 waits Retry-After', () => {
    expect(decideAfterError(new DeliveryError('x', true, 1000, 'definite'))).toEqual({ action: 'retry', inDoubt: false, retryAfterMs: 1000 });
    expect(decideAfterError(new DeliveryError('x', true, undefined, 'unknown'))).toEqual({ action: 'retry', inDoubt: true, retryAfterMs: 0 });
    expect(decideAfterError(new DeliveryError('x', false, undefined, 'refused'))).toEqual({ action: 'refused' });
    expect(decideAfterError(new DeliveryError('x', false, undefined, 'definite'))).toEqual({ action: 'failed' });
    expect(decideAfterError(new Error('anything else'))).toEqual({ action: 'retry', inDoubt: true, retryAfterMs: 0 });
  });
});

describe('when a channel can move next', () => {
  const row = (key: string, nextAttemptAt: number, lane: { incidentId?: number; threadOf?: string } = {}) => ({ key, channel: 'C1', incidentId: lane.incidentId ?? null, threadOf: lane.threadOf ?? null, nextAttemptAt });

  it('the earliest lane head counts; rows behind a head wait for it; a reply head waits for its pending parent', () => {
    expect(nextLaneTime([])).toBeUndefined();
    expect(nextLaneTime([row('a', 500, { incidentId: 1 }), row('b', 0, { incidentId: 1 })])).toBe(500);
    expect(nextLaneTime([row('a', 500, { incidentId: 1 }), row('c', 300, { incidentId: 2 })])).toBe(300);
    expect(nextLaneTime([row('parent', 900), row('reply', 0, { threadOf: 'parent' })])).toBe(900);
  });
});

describe('a 429 pauses the method for every caller', () => {
  it('pauses only that method, never shortens a pause, and ends', () => {
    let now = 1_000;
    const pauses = new MethodPauses(() => now);
    pauses.pause('chat.postMessage', 2_000);
    pauses.pause('chat.postMessage', 500);
    expect(pauses.waitMs('chat.postMessage')).toBe(2_000);
    expect(pauses.waitMs('chat.update')).toBe(0);
    now += 2_000;
    expect(pauses.waitMs('chat.postMessage')).toBe(0);
  });
});
