/**
 * Redaction (PRODUCTION.md "Secrets and untrusted text"): the configured secrets and the shapes
 * of well-known tokens, replaced by a marker. Every outgoing text passes here *before* it is cut
 * to length or escaped, so neither a cut nor an escape can leave part of a secret behind.
 */

export const REDACTED = '[redacted]';

/** Values that must never reach a log line or a message: tokens, passwords, secrets. */
const secretValues = new Set<string>();

/** Below this length a value can't be told from ordinary text: redacting it would blank words. */
export const MIN_SECRET_LENGTH = 4;

/**
 * Registers a secret value (a token read from the environment or config) for redaction
 * everywhere, with the forms it takes inside JSON and URLs.
 */
export function registerSecret(value: string | undefined): void {
  // Shorter values would blank ordinary words everywhere (the README's Security section says so).
  if (!value || value.length < MIN_SECRET_LENGTH) return;
  secretValues.add(value);
  const escaped = JSON.stringify(value).slice(1, -1);
  if (escaped !== value) secretValues.add(escaped);
  const encoded = encodeURIComponent(value);
  if (encoded !== value) secretValues.add(encoded);
}

/** Forgets every registered secret (tests). */
export function clearSecrets(): void {
  secretValues.clear();
}

/**
 * Token shapes; where a pattern has a group, that part (a label) is kept in front of the marker.
 * Distinctive prefixes match even glued to other text (a log line cut or joined mid-word).
 */
/** Each shape with lower-case substrings it cannot match without: a cheap gate, since most text has none. */
const tokenPatterns: Array<{ pattern: RegExp; hints: string[] }> = [
  // PEM private keys, whole blocks; a block without its end line to the end of the text.
  { pattern: /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?:[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY-----|[\s\S]*$)/g, hints: ['private key-----'] },
  { pattern: /xox[a-z]-[A-Za-z0-9-]{8,}/g, hints: ['xox'] }, // Slack bot/user/config tokens (xoxb-, xoxp-, xoxe-…)
  { pattern: /xapp-[A-Za-z0-9-]{8,}/g, hints: ['xapp-'] }, // Slack app-level tokens
  { pattern: /\bch_[A-Za-z0-9]{4,}[A-Za-z0-9._-]*/g, hints: ['ch_'] }, // ConfigHub worker tokens, as in seed 000's log line
  { pattern: /github_pat_[A-Za-z0-9_]{20,}/g, hints: ['github_pat_'] }, // GitHub fine-grained tokens
  { pattern: /gh[pousr]_[A-Za-z0-9]{20,}/g, hints: ['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_'] }, // GitHub classic tokens
  { pattern: /glpat-[A-Za-z0-9_-]{20,}/g, hints: ['glpat-'] }, // GitLab personal access tokens
  { pattern: /dckr_pat_[A-Za-z0-9_-]{20,}/g, hints: ['dckr_pat_'] }, // Docker Hub personal access tokens
  { pattern: /(?:AKIA|ASIA)[0-9A-Z]{16}(?![0-9A-Z])/g, hints: ['akia', 'asia'] }, // AWS access key ids
  { pattern: /eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{5,}/g, hints: ['eyj'] }, // JWTs
  // docker config.json `"auth": "<base64 user:password>"`, also as escaped JSON inside a log field.
  { pattern: /(\\?"auth\\?"\s*:\s*\\?")[A-Za-z0-9+/=]{6,}/g, hints: ['auth'] },
  { pattern: /\b((?:Bearer|Basic) )[A-Za-z0-9._~+/=-]{8,}/gi, hints: ['bearer ', 'basic '] },
  // `password=…` in URLs and query strings.
  { pattern: /([?&;](?:password|passwd|pwd|pass|token|secret|api_?key|access_token)=)[^&\s#"']+/gi, hints: ['='] },
  {
    pattern: /((?:password|passwd|secret|token|api[_-]?key|access[_-]?key|secret[_-]?key|private[_-]?key)\\?["']?\s*[:=]\s*\\?["']?)[^\s"'\\,}&]{4,}/gi,
    hints: ['pass', 'secret', 'token', 'key'],
  },
  { pattern: /(--(?:password|passwd|token|secret|api-key)[= ])\S+/gi, hints: ['--'] }, // command-line flags
  { pattern: /(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]+:)[^\s@/]+(?=@)/gi, hints: ['://'] }, // passwords in URLs: postgres://app:…@db
];

/** Replaces every known secret and token-shaped string in `text` with a marker. */
export function redact(text: string): string {
  let out = text;
  for (const value of secretValues) if (out.includes(value)) out = out.split(value).join(REDACTED);
  const lower = out.toLowerCase();
  for (const { pattern, hints } of tokenPatterns) {
    if (!hints.some((hint) => lower.includes(hint))) continue;
    out = out.replace(pattern, (_match, label?: unknown) => `${typeof label === 'string' ? label : ''}${REDACTED}`);
  }
  return out;
}

/** Redacts first, then cuts to `max` characters ending in `…`: the only order that cannot leak a secret's head. */
export function redactAndClip(text: string, max: number): string {
  const clean = redact(text);
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
}

/**
 * A log record's fields, redacted before they are serialized (a secret with a `"` in it would
 * be escaped past a line-level match). Errors become the plain shape pino prints for them.
 */
export function redactFields(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redact(value);
  if (value === null || typeof value !== 'object' || depth > 8) return value;
  if (value instanceof Error) {
    const plain: Record<string, unknown> = { type: value.name, message: redact(value.message), ...(value.stack ? { stack: redact(value.stack) } : {}) };
    for (const [key, inner] of Object.entries(value)) plain[key] = redactFields(inner, depth + 1);
    if (value.cause !== undefined) plain.cause = redactFields(value.cause, depth + 1);
    return plain;
  }
  if (Array.isArray(value)) return value.map((item) => redactFields(item, depth + 1));
  if (Buffer.isBuffer(value) || value instanceof Date) return value;
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) out[key] = redactFields(inner, depth + 1);
  return out;
}

const PLAIN_HEADERS = new Set(['accept', 'accept-language', 'accept-encoding', 'host', 'user-agent', 'content-type', 'cache-control', 'pragma']);

/** The secrets a config names: env-held tokens and passwords, endpoint header values, the database URL's password. */
export function configuredSecrets(
  config: {
    confighub?: { tokenEnv?: string } | undefined;
    registries: Record<string, { passwordEnv?: string | undefined }>;
    endpoints: Array<{ headers?: Record<string, string> }>;
    webhooks: Record<string, { tokenEnv?: string; secretEnv?: string } | undefined>;
    store: { url?: string | undefined };
  },
  env: NodeJS.ProcessEnv,
): string[] {
  const names = ['SLACK_BOT_TOKEN', 'SLACK_APP_TOKEN', 'SLACK_SIGNING_SECRET', 'CONFIGHUB_TOKEN', 'DATABASE_URL', config.confighub?.tokenEnv];
  for (const registry of Object.values(config.registries)) names.push(registry.passwordEnv);
  for (const hook of Object.values(config.webhooks)) names.push(hook?.tokenEnv, hook?.secretEnv);
  const values = names.flatMap((name) => (name && env[name] ? [env[name]!] : []));
  // Header values are credentials (Authorization, X-Api-Key…) except the few that describe the request.
  for (const endpoint of config.endpoints) {
    for (const [header, value] of Object.entries(endpoint.headers ?? {})) if (!PLAIN_HEADERS.has(header.toLowerCase())) values.push(value);
  }
  if (config.store.url) {
    try {
      const password = decodeURIComponent(new URL(config.store.url).password);
      if (password) values.push(password);
    } catch {
      // Not a URL: the config check reports it.
    }
  }
  return values;
}
