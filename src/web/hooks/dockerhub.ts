/**
 * `POST /hooks/dockerhub/<token>`: Docker Hub repository webhooks. Docker Hub signs nothing, so
 * the secret is the last path segment of the URL configured there. Its payload names the
 * repository (`repository.repo_name`) and the tag (`push_data.tag`), never a digest.
 */
import { parseImageRef } from '../../domain/image-ref.js';
import { accepted, isObject, jsonObject, malformed, sameSecret, text, unauthorized, unsupportedMediaType, type HookVerdict } from './verdict.js';
import { checksFor, type WatchedTags } from './watched-tags.js';

export interface DockerHubDelivery {
  /** The path segment after `/hooks/dockerhub/`. */
  pathToken: string | undefined;
  contentType: string | undefined;
  body: Buffer;
}

export function verifyDockerHubDelivery(delivery: DockerHubDelivery, token: string | undefined, watched: WatchedTags): HookVerdict {
  if (!sameSecret(delivery.pathToken, token)) return unauthorized(delivery.pathToken ? 'wrong token in the path' : 'no token in the path');
  const unsupported = unsupportedMediaType(delivery.contentType, ['application/json']);
  if (unsupported) return unsupported;
  const parsed = jsonObject(delivery.body);
  if ('reason' in parsed) return malformed(parsed.reason);
  const body = parsed.value;
  const tag = isObject(body.push_data) ? text(body.push_data.tag) : undefined;
  const repoName = isObject(body.repository) ? text(body.repository.repo_name) : undefined;
  if (tag === undefined || repoName === undefined) return malformed('expected push_data.tag and repository.repo_name');
  let ref;
  try {
    ref = parseImageRef(`docker.io/${repoName}:${tag}`);
  } catch (error) {
    return malformed(`repository.repo_name and push_data.tag are not an image reference: ${(error as Error).message.slice(0, 200)}`);
  }
  return accepted(checksFor([{ registry: ref.registry, repository: ref.repository, tag: ref.tag ?? tag }], watched), 'no watched image named');
}
