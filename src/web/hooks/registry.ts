/**
 * `POST /hooks/registry`: CNCF distribution notifications (the Debian `docker-registry`, Harbor,
 * GitLab's registry…). The registry sends `Authorization: Bearer <token>` as configured in its
 * `notifications.endpoints[].headers`, and an envelope `{"events":[…]}`. Only manifest pushes to
 * a tag count; blob pushes, pulls, deletes and pushes by digest name no tag move.
 */
import { MEDIA_TYPES } from '../../clients/registry.js';
import { isDigest } from '../../domain/image-ref.js';
import { accepted, isObject, jsonObject, malformed, sameSecret, text, unauthorized, unsupportedMediaType, type HookVerdict } from './verdict.js';
import { checksFor, type PushedTag, type WatchedTags } from './watched-tags.js';

// distribution 2.8 (Debian's docker-registry) sends the v1 type; the v2 type is the same envelope.
const CONTENT_TYPES = ['application/vnd.docker.distribution.events.v1+json', 'application/vnd.docker.distribution.events.v2+json', 'application/json'];
const MANIFEST_TYPES = new Set<string>(Object.values(MEDIA_TYPES));

export interface RegistryDelivery {
  authorization: string | undefined;
  contentType: string | undefined;
  body: Buffer;
}

/** Checks the bearer token, then the envelope; names the watched refs its tag pushes name. */
export function verifyRegistryDelivery(delivery: RegistryDelivery, token: string | undefined, watched: WatchedTags): HookVerdict {
  const given = /^Bearer\s+(.+)$/i.exec(delivery.authorization?.trim() ?? '')?.[1];
  if (!sameSecret(given, token)) return unauthorized(given === undefined ? 'no bearer token' : 'wrong bearer token');
  const unsupported = unsupportedMediaType(delivery.contentType, CONTENT_TYPES);
  if (unsupported) return unsupported;
  const parsed = jsonObject(delivery.body);
  if ('reason' in parsed) return malformed(parsed.reason);
  const events = parsed.value.events;
  if (!Array.isArray(events)) return malformed('expected {"events":[…]}');
  const pushes: PushedTag[] = [];
  for (const [index, event] of events.entries()) {
    if (!isObject(event)) return malformed(`events[${index}] is not an object`);
    const pushed = tagPushOf(event);
    if (pushed) pushes.push(pushed);
  }
  if (pushes.length === 0) return accepted([], 'no manifest pushed to a tag');
  return accepted(checksFor(pushes, watched), 'no watched image named');
}

/** The tag a distribution event moved, or undefined when it moved none. */
export function tagPushOf(event: Record<string, unknown>): PushedTag | undefined {
  if (event.action !== 'push' || !isObject(event.target)) return undefined;
  const target = event.target;
  const mediaType = text(target.mediaType);
  const repository = text(target.repository);
  const tag = text(target.tag);
  if (mediaType === undefined || !MANIFEST_TYPES.has(mediaType) || repository === undefined || tag === undefined) return undefined;
  const pushed: PushedTag = { repository, tag };
  const host = isObject(event.request) ? text(event.request.host) : undefined;
  if (host !== undefined) pushed.registry = host;
  const digest = text(target.digest);
  if (digest !== undefined && isDigest(digest)) pushed.digest = digest;
  return pushed;
}
