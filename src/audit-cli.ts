/** `driftwatch audit [--since 24h]`: the audit trail as JSON lines, oldest first (PRODUCTION.md "Access"). */
import { ConfigError } from './config.js';
import { parseDuration } from './domain/duration.js';
import { Store } from './store/index.js';

export function printAudit(storePath: string, since: string, out: NodeJS.WritableStream, now = Date.now()): number {
  const window = parseDuration(since);
  if (window === undefined) throw new ConfigError('audit', [`--since "${since}" is not a duration (like 30m, 24h or 7d)`]);
  // Read-only: the trail can be read while the bot runs (it holds the writer lock).
  const store = Store.open(storePath, { readOnly: true });
  try {
    const entries = store.audit.since(now - window);
    for (const entry of entries) out.write(`${JSON.stringify({ ...entry, at: new Date(entry.at).toISOString() })}\n`);
    return entries.length;
  } finally {
    store.close();
  }
}
