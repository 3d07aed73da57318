/**
 * What went wrong talking to an apiserver, in one vocabulary: every failure client-node can throw
 * becomes a KubeError whose kind says whether the cluster is unreachable, refuses us, or refused
 * the request.
 */
/* ------------------------------------------------------------------------------------------ */
/* Errors                                                                                     */

export type KubeErrorKind =
  | 'unreachable' // connection refused, DNS, TLS, timeout
  | 'unauthorized' // 401
  | 'forbidden' // 403
  | 'not-found' // 404, or nothing to act on
  | 'gone' // 410: resourceVersion too old
  | 'invalid' // 400, 415, 422
  | 'conflict' // 409
  | 'throttled' // 429
  | 'server' // 5xx
  | 'stalled' // a watch that stopped talking
  | 'protocol' // a watch stream carrying something that is not a watch event
  | 'unknown';

export class KubeError extends Error {
  override readonly name = 'KubeError';
  constructor(
    readonly cluster: string,
    readonly kind: KubeErrorKind,
    /** HTTP status when the apiserver answered. */
    readonly status: number | undefined,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const unreachableCodes = new Set([
  'ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH',
  'EPIPE', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID',
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'ERR_TLS_CERT_ALTNAME_INVALID', 'ERR_SSL_WRONG_VERSION_NUMBER',
]);

function kindForStatus(status: number): KubeErrorKind {
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not-found';
  if (status === 409) return 'conflict';
  if (status === 410) return 'gone';
  if (status === 429) return 'throttled';
  if (status === 400 || status === 415 || status === 422) return 'invalid';
  if (status >= 500) return 'server';
  return 'unknown';
}

/** The apiserver's own words from a Status body (a JSON string or object), if there are any. */
function statusMessage(body: unknown): string | undefined {
  let parsed = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return body.trim() ? body.trim().slice(0, 300) : undefined;
    }
  }
  if (parsed && typeof parsed === 'object' && typeof (parsed as { message?: unknown }).message === 'string') {
    return (parsed as { message: string }).message;
  }
  return undefined;
}

/**
 * What went wrong, from whatever client-node threw: ApiException (`code`, `body`), a watch
 * error (`statusCode`), a Status object from a watch ERROR event, node-fetch's FetchError
 * (`code` like ECONNREFUSED), or an AbortError from our deadline.
 */
export function classifyKubeError(err: unknown): { kind: KubeErrorKind; status?: number; detail: string } {
  if (err instanceof KubeError) return { kind: err.kind, status: err.status, detail: err.message };
  const e = (err ?? {}) as { code?: unknown; statusCode?: unknown; body?: unknown; message?: unknown; name?: unknown; kind?: unknown; cause?: unknown };
  if (e.kind === 'Status' && typeof e.code === 'number') {
    return { kind: kindForStatus(e.code), status: e.code, detail: statusMessage(e) ?? `status ${e.code}` };
  }
  const status = typeof e.code === 'number' ? e.code : typeof e.statusCode === 'number' ? e.statusCode : undefined;
  if (status !== undefined) {
    const detail = statusMessage(e.body) ?? (typeof e.message === 'string' && !e.message.startsWith('HTTP-Code') ? e.message : undefined);
    return { kind: kindForStatus(status), status, detail: detail ?? (status === 401 ? 'Unauthorized' : `status ${status}`) };
  }
  if (e.name === 'AbortError' || e.name === 'TimeoutError') return { kind: 'unreachable', detail: 'request timed out' };
  const message = typeof e.message === 'string' ? e.message : String(err);
  // node-fetch: "request to https://host/path failed, reason: connect ECONNREFUSED 127.0.0.1:6443"
  const reason = /failed, reason: (.*)$/s.exec(message)?.[1] ?? message;
  const code = typeof e.code === 'string' ? e.code : typeof (e.cause as { code?: unknown })?.code === 'string' ? ((e.cause as { code: string }).code) : undefined;
  if ((code && (unreachableCodes.has(code) || code.startsWith('ERR_TLS') || code.startsWith('UND_ERR'))) || /ECONNREFUSED|ENOTFOUND|socket hang up|certificate|timed? ?out/i.test(reason)) {
    return { kind: 'unreachable', detail: reason };
  }
  return { kind: 'unknown', detail: reason };
}
