/**
 * Who we are to a registry: the settings from config (`insecure`, Basic credentials from
 * `passwordEnv`), `~/.docker/config.json` credentials, and the `WWW-Authenticate` challenge a
 * registry answers with. The client (registry.ts) uses these; the runtime builds the settings.
 */
import { readFileSync } from 'node:fs';
import type { Config } from '../config.js';
import { registryHost } from '../domain/image-ref.js';
import { registerSecret } from '../log.js';

export interface RegistrySettings {
  insecure?: boolean;
  /**
   * Where this registry name is really served, e.g. `http://127.0.0.1:5000` for `ghcr.io` (a
   * mirror or pull-through cache). Refs, token scopes and credentials keep the registry name.
   */
  url?: string;
  username?: string;
  password?: string;
}

export interface Credentials {
  username: string;
  password: string;
}

export interface Challenge {
  scheme: 'bearer' | 'basic';
  realm?: string;
  service?: string;
  scope?: string;
}

/** Registry client settings from config: `insecure`, and Basic credentials read from `passwordEnv`. */
export function registrySettings(config: Pick<Config, 'registries'>, env: NodeJS.ProcessEnv = process.env): Record<string, RegistrySettings> {
  const out: Record<string, RegistrySettings> = {};
  for (const [host, entry] of Object.entries(config.registries)) {
    const settings: RegistrySettings = { insecure: entry.insecure, ...(entry.url !== undefined ? { url: entry.url } : {}) };
    const password = entry.passwordEnv ? env[entry.passwordEnv] : undefined;
    if (entry.username !== undefined && password !== undefined) {
      settings.username = entry.username;
      settings.password = password;
    }
    out[host] = settings;
  }
  return out;
}

/**
 * The `auths` of a docker config, keyed by registry host (Docker Hub's keys map to its registry
 * host). No file means no credentials; a file that is not JSON calls `onInvalid` and gives what
 * was read before the fault.
 */
export function readDockerConfigAuths(path: string, onInvalid: () => void): Map<string, Credentials> {
  const auths = new Map<string, Credentials>();
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return auths; // no docker config: anonymous
  }
  try {
    const config = JSON.parse(text) as { auths?: Record<string, { auth?: unknown; username?: unknown; password?: unknown }> };
    for (const [key, entry] of Object.entries(config.auths ?? {})) {
      let creds: Credentials | undefined;
      if (typeof entry.auth === 'string' && entry.auth !== '') {
        const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
        const colon = decoded.indexOf(':');
        if (colon > 0) creds = { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
      } else if (typeof entry.username === 'string' && typeof entry.password === 'string') {
        creds = { username: entry.username, password: entry.password };
      }
      if (creds === undefined) continue;
      registerSecret(creds.password);
      auths.set(dockerConfigHost(key), creds);
    }
  } catch {
    onInvalid();
  }
  return auths;
}

/** `https://index.docker.io/v1/` → `registry-1.docker.io`; `ghcr.io` → `ghcr.io`. */
function dockerConfigHost(key: string): string {
  return registryHost(key.replace(/^[a-z]+:\/\//i, '').split('/')[0]!.toLowerCase());
}

export function basicHeader(creds: Credentials): string {
  return `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
}

/** `Bearer realm="https://…",service="…",scope="…"` or `Basic realm="…"`. */
export function parseChallenge(value: string | undefined): Challenge | undefined {
  if (value === undefined) return undefined;
  const match = /^\s*(\w+)\s*(.*)$/s.exec(value);
  if (match === null) return undefined;
  const scheme = match[1]!.toLowerCase();
  if (scheme !== 'bearer' && scheme !== 'basic') return undefined;
  const challenge: Challenge = { scheme };
  const params = /(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  for (let m = params.exec(match[2]!); m !== null; m = params.exec(match[2]!)) {
    const name = m[1]!.toLowerCase();
    const text = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]!;
    if (name === 'realm' || name === 'service' || name === 'scope') challenge[name] = text;
  }
  return challenge;
}
