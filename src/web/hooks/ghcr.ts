/**
 * `POST /hooks/ghcr`: GitHub `package` and `registry_package` events for ghcr.io images. GitHub
 * signs the raw body: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256>` with the webhook's secret.
 * The payload may come as JSON or form-encoded (`payload=<json>`), as the webhook is set up.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { isDigest } from '../../domain/image-ref.js';
import { accepted, ignored, isObject, jsonObject, malformed, mediaTypeOf, text, unauthorized, unsupportedMediaType, type HookVerdict } from './verdict.js';
import { checksFor, type WatchedTags } from './watched-tags.js';

const FORM = 'application/x-www-form-urlencoded';
const CONTENT_TYPES = ['application/json', FORM];
const PACKAGE_EVENTS = new Set(['package', 'registry_package']);
const PUSH_ACTIONS = new Set(['published', 'updated']);

export interface GhcrDelivery {
  /** `X-Hub-Signature-256` */
  signature: string | undefined;
  /** `X-GitHub-Event` */
  event: string | undefined;
  contentType: string | undefined;
  body: Buffer;
}

/** `sha256=<hex>` as GitHub computes it over `body`. */
export function githubSignature(secret: string, body: Buffer | string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** True when `header` is GitHub's signature of `body` with `secret`, compared in constant time. */
export function validGithubSignature(header: string | undefined, secret: string | undefined, body: Buffer | string): boolean {
  if (header === undefined || secret === undefined || secret === '') return false;
  const given = /^sha256=([0-9a-f]{64})$/i.exec(header.trim())?.[1];
  if (given === undefined) return false;
  const expected = createHmac('sha256', secret).update(body).digest();
  return timingSafeEqual(Buffer.from(given, 'hex'), expected);
}

/** Checks the signature, then the payload; names the watched refs a published container tag names. */
export function verifyGhcrDelivery(delivery: GhcrDelivery, secret: string | undefined, watched: WatchedTags): HookVerdict {
  if (!validGithubSignature(delivery.signature, secret, delivery.body)) {
    return unauthorized(delivery.signature === undefined ? 'no X-Hub-Signature-256' : 'wrong X-Hub-Signature-256');
  }
  const unsupported = unsupportedMediaType(delivery.contentType, CONTENT_TYPES);
  if (unsupported) return unsupported;
  let raw: Buffer | string = delivery.body;
  if (mediaTypeOf(delivery.contentType) === FORM) {
    const payload = new URLSearchParams(delivery.body.toString('utf8')).get('payload');
    if (payload === null) return malformed('form body without a payload field');
    raw = payload;
  }
  const parsed = jsonObject(raw);
  if ('reason' in parsed) return malformed(parsed.reason);
  const event = delivery.event?.trim().toLowerCase();
  if (event === 'ping') return ignored('ping');
  if (event === undefined || !PACKAGE_EVENTS.has(event)) return ignored(`not a package event (${event ?? 'no X-GitHub-Event'})`);
  const body = parsed.value;
  const pkg = body[event];
  if (!isObject(pkg)) return malformed(`no ${event} object in the payload`);
  if (!PUSH_ACTIONS.has(String(body.action))) return ignored(`action ${JSON.stringify(String(body.action)).slice(0, 40)} publishes nothing`);
  const type = text(pkg.package_type);
  if (type !== undefined && type.toLowerCase() !== 'container') return ignored('not a container package');
  const owner = isObject(pkg.owner) ? text(pkg.owner.login) : undefined;
  const namespace = (text(pkg.namespace) ?? owner)?.toLowerCase();
  const name = text(pkg.name)?.toLowerCase();
  if (namespace === undefined || name === undefined) return malformed(`${event} without a namespace (or owner.login) and a name`);
  const version = isObject(pkg.package_version) ? pkg.package_version : undefined;
  const metadata = version && isObject(version.container_metadata) ? version.container_metadata : undefined;
  const tagInfo = metadata && isObject(metadata.tag) ? metadata.tag : undefined;
  const tag = text(tagInfo?.name);
  if (tag === undefined) return ignored('no tag (a push by digest moves no tag)');
  const digest = text(tagInfo?.digest);
  let repository = `${namespace}/${name}`;
  try {
    repository = `${namespace}/${decodeURIComponent(name)}`;
  } catch {
    // a name that isn't URI-encoded stays as it is
  }
  const pushed = { registry: 'ghcr.io', repository, tag, ...(digest !== undefined && isDigest(digest) ? { digest } : {}) };
  return accepted(checksFor([pushed], watched), 'no watched image named');
}
