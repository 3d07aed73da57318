/**
 * HTTP-mode request checks beyond Bolt's own (PRODUCTION.md "Listeners"): a timestamp more than
 * 5 minutes off *either way* is refused (Bolt only refuses old ones), and so is a signature seen
 * in the last 5 minutes — a captured request cannot be played again.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export const REQUEST_WINDOW_MS = 5 * 60_000;

export type RequestVerdict = { ok: true } | { ok: false; reason: string };

/** The pure decision, with the memory of recent signatures passed in. */
export function judgeSlackRequest(
  request: { timestamp: string | undefined; signature: string | undefined; body: Buffer },
  secret: string,
  now: number,
  seen: SeenSignatures,
): RequestVerdict {
  const { timestamp, signature } = request;
  if (!timestamp || !/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: 'no X-Slack-Request-Timestamp' };
  if (Math.abs(now - Number(timestamp) * 1000) > REQUEST_WINDOW_MS) return { ok: false, reason: `timestamp ${timestamp} is more than 5 minutes off` };
  if (!signature || !/^v0=[0-9a-f]{64}$/.test(signature)) return { ok: false, reason: 'no valid X-Slack-Signature' };
  const expected = `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:`).update(request.body).digest('hex')}`;
  if (!timingSafeEqual(Buffer.from(expected), Buffer.from(signature))) return { ok: false, reason: 'signature does not match' };
  // Only valid signatures are remembered, so nobody can fill the memory with made-up ones.
  if (!seen.remember(signature, now)) return { ok: false, reason: 'signature seen in the last 5 minutes (a replay)' };
  return { ok: true };
}

/** Signatures of the last 5 minutes; a request older than that is refused by its timestamp anyway. */
export class SeenSignatures {
  private readonly seen = new Map<string, number>();

  /** False when `signature` was seen within the window; otherwise remembers it. */
  remember(signature: string, now: number): boolean {
    for (const [old, at] of this.seen) {
      if (now - at <= REQUEST_WINDOW_MS) break; // insertion order is time order
      this.seen.delete(old);
    }
    if (this.seen.has(signature)) return false;
    this.seen.set(signature, now);
    return true;
  }
}

type Listener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Wraps Bolt's HTTP request listener: the body is read once (Bolt reuses a buffered `rawBody`),
 * judged, and a refused request gets 401 without reaching Bolt.
 */
export function guardSlackRequests(inner: Listener, options: { secret: string; now?: () => number; bodyLimit?: number; refused?: (reason: string) => void }): Listener {
  const seen = new SeenSignatures();
  const limit = options.bodyLimit ?? 1024 * 1024;
  return (req, res) => {
    if (req.method !== 'POST') {
      inner(req, res);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) tooBig = true;
      else chunks.push(chunk);
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      if (tooBig) {
        res.writeHead(413).end();
        return;
      }
      const body = Buffer.concat(chunks);
      const header = (name: string) => {
        const value = req.headers[name];
        return typeof value === 'string' ? value : undefined;
      };
      // Slack's SSL check carries no signature; Bolt answers it and strips anything else.
      const sslCheck = /^ssl_check=1(&|$)/.test(body.toString('utf8'));
      const verdict = sslCheck ? { ok: true as const } : judgeSlackRequest({ timestamp: header('x-slack-request-timestamp'), signature: header('x-slack-signature'), body }, options.secret, (options.now ?? Date.now)(), seen);
      if (!verdict.ok) {
        options.refused?.(verdict.reason);
        res.writeHead(401).end();
        return;
      }
      (req as IncomingMessage & { rawBody?: Buffer }).rawBody = body;
      inner(req, res);
    });
  };
}
