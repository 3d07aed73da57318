/**
 * Which watched refs a push names. A payload names a repository and tag, and usually the
 * registry host; a watched ref matches when all three agree. A registry name pointed elsewhere
 * with `registries.<name>.url` also answers to that address's host (a mirror reports its own).
 */
import { parseImageRef } from '../../domain/image-ref.js';

/** A tag push as a webhook reports it. */
export interface PushedTag {
  /** The registry host the payload names; undefined: any registry serving this repository. */
  registry?: string;
  repository: string;
  tag: string;
  /** The digest the payload claims; never trusted, only compared with what the registry serves. */
  digest?: string;
}

/** A watched ref to check, with the digest the payload claimed for it. */
export interface TagCheck {
  ref: string;
  digest?: string;
}

/** The registry host as refs spell it: Docker Hub's names are one, hosts are lower case. */
export function registryHost(host: string): string | undefined {
  const text = host.trim().toLowerCase();
  // A bare name (`registry`, a Kubernetes service) is a host here, not a Docker Hub user.
  if (!text.includes('.') && !text.includes(':') && text !== '') return text;
  try {
    return parseImageRef(`${text}/probe`).registry.toLowerCase();
  } catch {
    return undefined;
  }
}

export class WatchedTags {
  /** `repository:tag` → the watched refs with that repository and tag, and the hosts each answers to. */
  private readonly byTag = new Map<string, Array<{ ref: string; hosts: Set<string> }>>();

  /**
   * @param refs the watched refs, as written (their first spelling is the subject they post under)
   * @param urls `registries.<name>.url` by registry name
   */
  constructor(refs: Iterable<string>, urls: Record<string, string | undefined> = {}) {
    const aliases = new Map<string, string[]>();
    for (const [name, url] of Object.entries(urls)) {
      const registry = url === undefined ? undefined : registryHost(name);
      if (registry === undefined || url === undefined) continue;
      try {
        aliases.set(registry, [...(aliases.get(registry) ?? []), new URL(url).host.toLowerCase()]);
      } catch {
        // config validation already refused a URL that doesn't parse
      }
    }
    for (const ref of refs) {
      let parsed;
      try {
        parsed = parseImageRef(ref);
      } catch {
        continue;
      }
      if (parsed.tag === undefined) continue;
      const registry = parsed.registry.toLowerCase();
      const key = `${parsed.repository}:${parsed.tag}`;
      this.byTag.set(key, [...(this.byTag.get(key) ?? []), { ref, hosts: new Set([registry, ...(aliases.get(registry) ?? [])]) }]);
    }
  }

  /** The watched refs `pushed` names (none when nobody watches that tag). */
  named(pushed: PushedTag): TagCheck[] {
    const candidates = this.byTag.get(`${pushed.repository}:${pushed.tag}`) ?? [];
    const host = pushed.registry === undefined ? undefined : (registryHost(pushed.registry) ?? pushed.registry.toLowerCase());
    return candidates
      .filter((candidate) => host === undefined || candidate.hosts.has(host))
      .map((candidate) => (pushed.digest === undefined ? { ref: candidate.ref } : { ref: candidate.ref, digest: pushed.digest }));
  }
}

/** Every watched ref the pushes name, once each (the last claimed digest wins). */
export function checksFor(pushes: PushedTag[], watched: WatchedTags): TagCheck[] {
  const out = new Map<string, TagCheck>();
  for (const pushed of pushes) for (const check of watched.named(pushed)) out.set(check.ref, check);
  return [...out.values()];
}
