/**
 * What every hook decides about one delivery, and the checks they share: constant-time secret
 * comparison, the content type, a JSON body. The order is fixed (PRODUCTION.md): credentials,
 * then the body; the size limit comes first, in the server.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { TagCheck } from './watched-tags.js';

export type RefusalOutcome = 'unauthorized' | 'unsupported_media_type' | 'malformed';
export type AcceptOutcome = 'accepted' | 'ignored';

export type HookVerdict =
  | { status: 401 | 415 | 400; outcome: RefusalOutcome; reason: string }
  /** Valid: `checks` are the watched refs to HEAD now (none: `reason` says why nothing happens). */
  | { status: 202; outcome: AcceptOutcome; checks: TagCheck[]; reason?: string };

export const unauthorized = (reason: string): HookVerdict => ({ status: 401, outcome: 'unauthorized', reason });
export const malformed = (reason: string): HookVerdict => ({ status: 400, outcome: 'malformed', reason });
export const ignored = (reason: string): HookVerdict => ({ status: 202, outcome: 'ignored', checks: [], reason });

export function accepted(checks: TagCheck[], whyNone: string): HookVerdict {
  return checks.length > 0 ? { status: 202, outcome: 'accepted', checks } : ignored(whyNone);
}

/**
 * Equal secrets, in time that depends on neither: both sides are hashed first, so even the
 * length of the configured secret does not show. An unset secret matches nothing.
 */
export function sameSecret(given: string | undefined, expected: string | undefined): boolean {
  if (given === undefined || expected === undefined || expected === '') return false;
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** `application/json; charset=utf-8` → `application/json`. */
export function mediaTypeOf(contentType: string | undefined): string | undefined {
  return contentType?.split(';')[0]?.trim().toLowerCase() || undefined;
}

/** 415 unless the delivery says it is one of `accepted`. */
export function unsupportedMediaType(contentType: string | undefined, acceptable: string[]): HookVerdict | undefined {
  const type = mediaTypeOf(contentType);
  if (type !== undefined && acceptable.includes(type)) return undefined;
  return {
    status: 415,
    outcome: 'unsupported_media_type',
    reason: `${type === undefined ? 'no content type' : `content type ${JSON.stringify(type.slice(0, 100))}`}; expected ${acceptable.join(' or ')}`,
  };
}

/** The body as a JSON object, or the reason it isn't one (never quoting the body). */
export function jsonObject(body: Buffer | string): { value: Record<string, unknown> } | { reason: string } {
  let value: unknown;
  try {
    value = JSON.parse(typeof body === 'string' ? body : body.toString('utf8'));
  } catch {
    return { reason: 'body is not JSON' };
  }
  if (!isObject(value)) return { reason: 'body is not a JSON object' };
  return { value };
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** `value` when it is a non-empty string. */
export function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
