/**
 * Image references as people write them (`nginx`, `ghcr.io/org/app:latest`,
 * `127.0.0.1:5000/team/app@sha256:…`), parsed into the parts the registry API needs.
 */

export interface ImageRef {
  /** Host (and port) to talk to: Docker Hub is `registry-1.docker.io`. */
  registry: string;
  /** Repository path inside the registry: Docker Hub short names get `library/`. */
  repository: string;
  tag?: string;
  digest?: string;
  /** Canonical form: `docker.io/library/nginx:latest`, `ghcr.io/org/app@sha256:…`. */
  text: string;
}

export const DOCKER_HUB_REGISTRY = 'registry-1.docker.io';
const DOCKER_HUB_NAMES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);

// The distribution reference grammar, written out piece by piece.
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::[0-9]{1,5})?$/;
export const DIGEST = /^sha256:[a-f0-9]{64}$/;

/** Docker Hub's many names (`docker.io`, `index.docker.io`, …) → the host its API answers on; other hosts as given. */
export function registryHost(host: string): string {
  return DOCKER_HUB_NAMES.has(host.toLowerCase()) ? DOCKER_HUB_REGISTRY : host;
}

/** True when `text` is a full `sha256:` digest. */
export function isDigest(text: string): boolean {
  return DIGEST.test(text);
}

/** Parses an image reference; throws an Error naming the reference and what is wrong with it. */
export function parseImageRef(text: string): ImageRef {
  const fail = (why: string): never => {
    throw new Error(`image "${text}": ${why}`);
  };
  const input = text.trim();
  if (input === '') fail('empty reference');
  if (/\s/.test(input)) fail('contains whitespace');

  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) fail(`digest "${digest}" is not sha256: followed by 64 lowercase hex characters`);
  }

  // The first component is a registry host when it looks like one (a dot, a port, or localhost).
  let registry = DOCKER_HUB_REGISTRY;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost') {
      if (!HOST.test(first)) fail(`registry host "${first}" is not a valid host[:port]`);
      registry = registryHost(first);
      rest = rest.slice(slash + 1);
    }
  }

  // A tag follows the last colon that comes after the last slash.
  let tag: string | undefined;
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > rest.lastIndexOf('/')) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG.test(tag)) fail(`tag "${tag}" is not valid (letters, digits, _ . -, at most 128, not starting with . or -)`);
  }

  if (rest === '') fail('missing repository name');
  const components = rest.split('/');
  for (const component of components) {
    if (!PATH_COMPONENT.test(component)) {
      fail(`repository component "${component}" is not valid (lowercase letters, digits and single separators . _ __ -)`);
    }
  }
  let repository = rest;
  if (registry === DOCKER_HUB_REGISTRY && components.length === 1) repository = `library/${rest}`;
  if (repository.length > 255) fail('repository name longer than 255 characters');

  if (tag === undefined && digest === undefined) tag = 'latest';
  const ref: ImageRef = { registry, repository, text: '' };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  ref.text = formatImageRef(ref);
  return ref;
}

/** `ghcr.io/confighubai/confighub-worker` (Docker Hub as `docker.io/…`), without tag or digest. */
export function repositoryOf(ref: ImageRef): string {
  const host = ref.registry === DOCKER_HUB_REGISTRY ? 'docker.io' : ref.registry;
  return `${host}/${ref.repository}`;
}

/** The canonical text of a reference: repository, then `:tag`, then `@digest`. */
export function formatImageRef(ref: Pick<ImageRef, 'registry' | 'repository' | 'tag' | 'digest'>): string {
  let out = repositoryOf(ref as ImageRef);
  if (ref.tag !== undefined) out += `:${ref.tag}`;
  if (ref.digest !== undefined) out += `@${ref.digest}`;
  return out;
}

/** `sha256:8b96908d…` → `sha256:8b96908d` (the algorithm and the first 8 hex characters). */
export function shortDigest(digest: string): string {
  const colon = digest.indexOf(':');
  if (colon < 0) return digest.slice(0, 8);
  return digest.slice(0, colon + 1 + 8);
}

/** One spelling per image (`nginx` and `docker.io/library/nginx:latest` are the same tag); refs that don't parse stay as written. */
export function canonicalImage(text: string): string {
  try {
    return parseImageRef(text).text;
  } catch {
    return text;
  }
}

/** `docker.io/traderx/reference-data@sha256:…` or `docker-pullable://…@sha256:…` → `sha256:…`. */
export function digestOfImageId(imageID: string | undefined): string | undefined {
  const m = /(sha256:[a-f0-9]{64})/.exec(imageID ?? '');
  return m?.[1];
}

/*
 * Images as written in a pod spec or a config (no parsing, no Docker Hub expansion): what a
 * message quotes and what a pin writes back keep the user's own spelling.
 */

/** `ghcr.io/org/app:latest@sha256:…` → `ghcr.io/org/app`: the image as written, without tag or digest. */
export function imageWithoutTag(image: string): string {
  const at = image.indexOf('@');
  const noDigest = at >= 0 ? image.slice(0, at) : image;
  const colon = noDigest.lastIndexOf(':');
  return colon > noDigest.lastIndexOf('/') ? noDigest.slice(0, colon) : noDigest;
}

/** `relay:v0.2.0@sha256:…` → `v0.2.0`; undefined when the image names no tag (a port is not a tag). */
export function tagOfImage(image: string): string | undefined {
  const at = image.indexOf('@');
  const noDigest = at >= 0 ? image.slice(0, at) : image;
  const colon = noDigest.lastIndexOf(':');
  return colon > noDigest.lastIndexOf('/') ? noDigest.slice(colon + 1) : undefined;
}

/** True when the image is pinned to a digest (`…@sha256:…`). */
export function hasDigest(image: string): boolean {
  return image.includes('@sha256:');
}

/** `app@sha256:…` → `sha256:…`; undefined when the image is not pinned to a digest. */
export function digestOfImage(image: string): string | undefined {
  return hasDigest(image) ? image.slice(image.indexOf('@') + 1) : undefined;
}

/** The repository an image as written belongs to (`ghcr.io/org/app`), or undefined when it can't be parsed. */
export function repositoryOfImage(image: string): string | undefined {
  try {
    return repositoryOf(parseImageRef(image));
  } catch {
    return undefined;
  }
}
