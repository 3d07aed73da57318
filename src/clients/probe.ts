/**
 * HTTP probe client: asks a public endpoint which version it serves, whether it is up, whether
 * its TLS certificate is valid and whether its CORS preflight passes. One shared undici Agent,
 * a concurrency bound of its own and an exact per-probe deadline (AbortSignal.timeout, because
 * undici's own timers fire late).
 */
import tls, { type PeerCertificate, type TLSSocket } from 'node:tls';
import { Agent, buildConnector, interceptors, request, type Dispatcher } from 'undici';
import { logger } from '../log.js';
import { Limiter } from './limiter.js';
import { formatMs } from '../domain/duration.js';
import { tagOfImage } from '../domain/image-ref.js';

export interface ProbeTarget {
  url: string;
  /** Shown in error messages ("relay-dfw1: …"); the URL's host when absent. */
  name?: string;
  headers?: Record<string, string>;
  versionHeader?: string;
  followRedirects?: boolean;
  cors?: { origin: string; method?: string };
}

export type ProbeErrorKind = 'dns' | 'refused' | 'timeout' | 'tls' | 'http' | 'reset' | 'redirect' | 'other';

export interface ProbeTls {
  validTo: string;
  daysLeft: number;
  subject: string;
  issuer: string;
  authorized: boolean;
  authorizationError?: string;
}

export interface ProbeCors {
  ok: boolean;
  status?: number;
  allowOrigin?: string;
  reason?: string;
}

export interface ProbeResult {
  at: number;
  url: string;
  status?: number;
  latencyMs: number;
  /** Normalised: 'v0.2.0' → '0.2.0'. */
  version?: string;
  versionRaw?: string;
  versionProblem?: 'missing' | 'garbage';
  /** Where a 3xx pointed, when redirects are reported rather than followed. */
  location?: string;
  error?: { kind: ProbeErrorKind; message: string };
  tls?: ProbeTls;
  cors?: ProbeCors;
}

export interface ProberOptions {
  /** Probes running at once; the rest wait their turn. */
  concurrency?: number;
  /** Deadline for one probe (all its requests together). */
  timeoutMs?: number;
  connectTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
  /** Extra CA certificates (PEM) trusted on top of the system roots. */
  ca?: string | string[];
  /** How long a bad certificate's details are reused before the next failing probe looks again. */
  tlsInfoTtlMs?: number;
  /** The most body bytes read before the connection is dropped. */
  maxBodyBytes?: number;
  now?: () => number;
}

export interface ProberStats {
  probes: number;
  inFlight: number;
  inFlightMax: number;
  queued: number;
}

const DAY_MS = 86_400_000;
const MAX_VERSION_LENGTH = 64;

/**
 * A served version string as we compare it: trimmed, a leading `v` dropped before a digit.
 * Undefined when there is none or it doesn't look like a version (see `looksLikeVersion`).
 */
export function normaliseVersion(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const trimmed = raw.trim();
  if (!looksLikeVersion(trimmed)) return undefined;
  return /^[vV]\d/.test(trimmed) ? trimmed.slice(1) : trimmed;
}

/** At most 64 printable characters, starting with a digit or v+digit, or a sha-like build tag. */
export function looksLikeVersion(value: string): boolean {
  if (value.length === 0 || value.length > MAX_VERSION_LENGTH) return false;
  if (!/^[\x21-\x7e]+$/.test(value)) return false;
  if (/^[vV]?\d/.test(value)) return true;
  return isShaLike(value);
}

function isShaLike(value: string): boolean {
  return /^(sha-)?[0-9a-f]{7,64}$/i.test(value);
}

/**
 * The release version in an image reference's tag: `ghcr.io/clevertree/relay:v0.2.0` → '0.2.0'.
 * Build tags (`sha-39a4e17`), moving tags (`latest`) and digest-only references give undefined.
 */
export function versionFromImageTag(image: string): string | undefined {
  const tag = tagOfImage(image);
  if (tag === undefined || !/^[vV]?\d+(\.\d+)*([-+][0-9A-Za-z.+-]+)?$/.test(tag)) return undefined;
  return tag.replace(/^[vV]/, '');
}

/** Down = no answer at all (error) or a server error. */
export function isDown(result: ProbeResult): boolean {
  return result.error !== undefined || (result.status !== undefined && result.status >= 500);
}

/** Preflight verdict from the OPTIONS answer. `*` matches any origin. */
export function corsVerdict(origin: string, status: number, allowOrigin: string | undefined): ProbeCors {
  const base = { status, ...(allowOrigin !== undefined ? { allowOrigin } : {}) };
  if (status >= 300) return { ok: false, ...base, reason: `preflight answered ${status}` };
  if (allowOrigin === undefined || allowOrigin === '') {
    return { ok: false, ...base, reason: 'preflight has no Access-Control-Allow-Origin' };
  }
  if (allowOrigin !== '*' && allowOrigin !== origin) {
    return { ok: false, ...base, reason: `Access-Control-Allow-Origin is ${allowOrigin}, not ${origin}` };
  }
  return { ok: true, ...base };
}

/** Node's verification codes in words a responder understands. */
export function describeTlsProblem(code: string | undefined, cert: PeerCertificate | undefined, host: string): string {
  const validTo = cert?.valid_to ? isoDay(cert.valid_to) : undefined;
  const validFrom = cert?.valid_from ? isoDay(cert.valid_from) : undefined;
  switch (code) {
    case 'CERT_HAS_EXPIRED':
      return `TLS certificate has expired${validTo ? ` (notAfter ${validTo})` : ''}`;
    case 'CERT_NOT_YET_VALID':
      return `TLS certificate is not valid yet${validFrom ? ` (notBefore ${validFrom})` : ''}`;
    case 'ERR_TLS_CERT_ALTNAME_INVALID': {
      const names = cert ? certificateNames(cert) : [];
      return `TLS certificate does not match ${host}${names.length ? ` (it is for ${names.join(', ')})` : ''}`;
    }
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
      return `TLS certificate is self-signed${cert ? ` (${formatName(cert.subject)})` : ''}`;
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
      return `TLS certificate is signed by an untrusted issuer${cert ? ` (${formatName(cert.issuer)})` : ''}`;
    case 'CERT_REVOKED':
      return 'TLS certificate has been revoked';
    default:
      return `TLS handshake failed${code ? ` (${code})` : ''}`;
  }
}

const TLS_CODES = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_REVOKED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'EPROTO',
]);

/** Which kind of failure an error from undici / net / tls is. */
export function classifyError(err: unknown): { kind: ProbeErrorKind; code?: string } {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, name } = e as { code?: string; name?: string };
    if (name === 'TimeoutError') return { kind: 'timeout', code: name };
    if (!code) continue;
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME' || code === 'EAI_FAIL') return { kind: 'dns', code };
    if (code === 'ECONNREFUSED') return { kind: 'refused', code };
    if (code === 'ETIMEDOUT' || code.startsWith('UND_ERR_') && code.endsWith('_TIMEOUT')) return { kind: 'timeout', code };
    if (TLS_CODES.has(code) || code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_') || code.startsWith('ERR_OSSL_')) return { kind: 'tls', code };
    if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_SOCKET' || code === 'ECONNABORTED') return { kind: 'reset', code };
  }
  return { kind: 'other' };
}

interface CertRecord {
  cert: PeerCertificate;
  authorized: boolean;
  authorizationError?: string;
  seenAt: number;
}

export class Prober {
  private readonly agent: Agent;
  private readonly redirecting: Dispatcher;
  private readonly slots: Limiter;
  private readonly timeoutMs: number;
  private readonly ca: string[];
  private readonly tlsInfoTtlMs: number;
  private readonly maxBodyBytes: number;
  private readonly now: () => number;
  /** Certificates seen per origin (`host:port`), recorded when a connection is made. */
  private readonly certs = new Map<string, CertRecord>();
  private readonly counters = { probes: 0, inFlightMax: 0 };
  private readonly log = logger().child({ component: 'probe' });

  constructor(options: ProberOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.slots = new Limiter(Math.max(1, options.concurrency ?? 64));
    this.tlsInfoTtlMs = options.tlsInfoTtlMs ?? 5 * 60_000;
    this.maxBodyBytes = options.maxBodyBytes ?? 64 * 1024;
    this.now = options.now ?? Date.now;
    const extra = options.ca === undefined ? [] : Array.isArray(options.ca) ? options.ca : [options.ca];
    // `ca` replaces Node's trust store, so the system roots go in alongside the extra CA.
    this.ca = extra.length ? [...tls.rootCertificates, ...extra] : [];
    const connectTimeout = options.connectTimeoutMs ?? Math.min(this.timeoutMs, 10_000);
    const connector = buildConnector({ timeout: connectTimeout, ...(this.ca.length ? { ca: this.ca } : {}) });
    this.agent = new Agent({
      connect: (opts, callback) => {
        connector(opts, (...args) => {
          const [err, socket] = args;
          if (!err && socket && 'getPeerCertificate' in socket) this.recordCert(hostKey(opts.hostname, opts.port, opts.protocol), socket);
          callback(...args);
        });
      },
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
      keepAliveTimeout: options.keepAliveTimeoutMs ?? 4_000,
    });
    this.redirecting = this.agent.compose(interceptors.redirect({ maxRedirections: 5 }));
  }

  stats(): ProberStats {
    return { probes: this.counters.probes, inFlight: this.slots.inUse, inFlightMax: this.counters.inFlightMax, queued: this.slots.queued };
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  probe(target: ProbeTarget): Promise<ProbeResult> {
    return this.slots.run(async () => {
      this.counters.probes++;
      this.counters.inFlightMax = Math.max(this.counters.inFlightMax, this.slots.inUse);
      return this.probeNow(target);
    });
  }

  private async probeNow(target: ProbeTarget): Promise<ProbeResult> {
    const at = this.now();
    const started = performance.now();
    // A deadline cleared when the probe ends: AbortSignal.timeout would keep a timer and the
    // signal alive for the whole timeout after every probe (2000 endpoints: thousands at once).
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(new DOMException('probe timed out', 'TimeoutError')), this.timeoutMs);
    timer.unref?.();
    try {
      return await this.probeWithin(target, at, started, deadline.signal);
    } finally {
      clearTimeout(timer);
    }
  }

  private async probeWithin(target: ProbeTarget, at: number, started: number, signal: AbortSignal): Promise<ProbeResult> {
    let url: URL;
    try {
      url = new URL(target.url);
    } catch {
      return { at, url: target.url, latencyMs: 0, error: { kind: 'other', message: `${target.name ?? target.url}: not a valid URL` } };
    }
    const label = target.name ?? url.host;
    const result: ProbeResult = { at, url: target.url, latencyMs: 0 };
    try {
      let answer = await this.send(url, 'HEAD', target, signal);
      if (answer.statusCode === 405 || answer.statusCode === 501) answer = await this.send(url, 'GET', target, signal);
      result.latencyMs = Math.round(performance.now() - started);
      result.status = answer.statusCode;
      this.readVersion(result, target, answer.headers);
      if (answer.statusCode >= 300 && answer.statusCode < 400) {
        const location = headerValue(answer.headers, 'location');
        if (location !== undefined) result.location = location;
        result.error = { kind: 'redirect', message: `${label}: redirected with ${answer.statusCode} to ${location ?? '(no Location)'}` };
      } else if (answer.statusCode >= 500) {
        result.error = { kind: 'http', message: `${label}: HTTP ${answer.statusCode} from ${url.host}` };
      }
      if (url.protocol === 'https:') {
        const tlsInfo = this.tlsFromRecord(this.certs.get(originKey(url)));
        if (tlsInfo) result.tls = tlsInfo;
      }
      if (target.cors) result.cors = await this.preflight(url, target, signal);
    } catch (err) {
      result.latencyMs = Math.round(performance.now() - started);
      result.error = await this.describeFailure(err, url, label, signal);
      if (result.error.kind === 'tls') {
        const tlsInfo = this.tlsFromRecord(this.certs.get(originKey(url)));
        if (tlsInfo) result.tls = tlsInfo;
      }
    }
    if (result.error) this.log.debug({ url: target.url, error: result.error }, 'probe failed');
    return result;
  }

  private async send(url: URL, method: 'HEAD' | 'GET', target: ProbeTarget, signal: AbortSignal) {
    const answer = await request(url, {
      method,
      headers: target.headers ?? {},
      signal,
      dispatcher: target.followRedirects ? this.redirecting : this.agent,
      // undici closes the socket after every HEAD (undici#258, for servers that send a body anyway);
      // probing thousands of endpoints every 30 s wants connections, and their TLS sessions, kept.
      reset: false,
    });
    // Read a little at most, then drop the connection: a huge body never sits in memory.
    await answer.body.dump({ limit: this.maxBodyBytes, signal }).catch(() => undefined);
    return answer;
  }

  private readVersion(result: ProbeResult, target: ProbeTarget, headers: Record<string, string | string[] | undefined>): void {
    if (!target.versionHeader) return;
    const raw = headerValue(headers, target.versionHeader);
    if (raw === undefined) {
      result.versionProblem = 'missing';
      return;
    }
    result.versionRaw = raw;
    const version = normaliseVersion(raw);
    if (version === undefined) result.versionProblem = 'garbage';
    else result.version = version;
  }

  private async preflight(url: URL, target: ProbeTarget, signal: AbortSignal): Promise<ProbeCors> {
    const cors = target.cors!;
    const headers: Record<string, string> = {
      origin: cors.origin,
      'access-control-request-method': cors.method ?? 'GET',
    };
    // What a browser would ask for when the real request carries these headers.
    const custom = Object.keys(target.headers ?? {}).map((h) => h.toLowerCase());
    if (custom.length) headers['access-control-request-headers'] = custom.join(',');
    try {
      const answer = await request(url, { method: 'OPTIONS', headers, signal, dispatcher: this.agent });
      await answer.body.dump({ limit: this.maxBodyBytes, signal }).catch(() => undefined);
      return corsVerdict(cors.origin, answer.statusCode, headerValue(answer.headers, 'access-control-allow-origin'));
    } catch (err) {
      const { kind } = classifyError(err);
      return { ok: false, reason: `preflight failed: ${kind === 'timeout' || signal.aborted ? 'no answer in time' : errorText(err)}` };
    }
  }

  private async describeFailure(err: unknown, url: URL, label: string, signal: AbortSignal): Promise<{ kind: ProbeErrorKind; message: string }> {
    const { kind, code } = signal.aborted ? { kind: 'timeout' as const, code: undefined } : classifyError(err);
    const host = url.hostname;
    switch (kind) {
      case 'timeout':
        return { kind, message: `${label}: no answer from ${url.host} within ${formatMs(this.timeoutMs)}` };
      case 'dns':
        return { kind, message: `${label}: DNS lookup failed for ${host} (${code})` };
      case 'refused':
        return { kind, message: `${label}: connection refused by ${url.host}` };
      case 'reset':
        return { kind, message: `${label}: connection to ${url.host} was reset (${code})` };
      case 'tls': {
        // The handshake was refused; look again without sending anything to learn why and until
        // when (a bad certificate seen in the last few minutes is not looked at again).
        const known = this.certs.get(originKey(url));
        const fresh = known && !known.authorized && this.now() - known.seenAt <= this.tlsInfoTtlMs;
        const seen = fresh ? known : await this.inspectCertificate(url).catch(() => undefined);
        if (seen) this.certs.set(originKey(url), seen);
        const reasonCode = seen?.authorizationError ?? code;
        return { kind, message: `${label}: ${describeTlsProblem(reasonCode, seen?.cert, host)}` };
      }
      default:
        return { kind, message: `${label}: ${errorText(err)}` };
    }
  }

  private recordCert(key: string, socket: TLSSocket): void {
    const cert = socket.getPeerCertificate();
    if (!cert || !cert.valid_to) return;
    this.certs.set(key, this.certRecord(socket, cert));
  }

  /** The certificate a connection saw and Node's verdict on it, as of now. */
  private certRecord(socket: TLSSocket, cert: CertRecord['cert']): CertRecord {
    return {
      cert,
      authorized: socket.authorized,
      ...(socket.authorizationError ? { authorizationError: String(socket.authorizationError) } : {}),
      seenAt: this.now(),
    };
  }

  private tlsFromRecord(record: CertRecord | undefined): ProbeTls | undefined {
    // A record is the certificate of the latest connection to the host, however old: a
    // kept-alive connection still talks to the certificate it was opened with.
    if (!record) return undefined;
    const validToMs = Date.parse(record.cert.valid_to);
    return {
      validTo: new Date(validToMs).toISOString(),
      // Whole days, towards zero: 10.9 days left is 10, expired 10.1 days ago is -10.
      daysLeft: Math.trunc((validToMs - this.now()) / DAY_MS) || 0,
      subject: formatName(record.cert.subject),
      issuer: formatName(record.cert.issuer),
      authorized: record.authorized,
      ...(record.authorizationError ? { authorizationError: record.authorizationError } : {}),
    };
  }

  /**
   * A handshake that records the certificate and Node's verdict on it (same trust store, same
   * name check) but doesn't abort on a bad one; no request is ever sent over it.
   */
  private inspectCertificate(url: URL): Promise<CertRecord> {
    const port = Number(url.port || 443);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    return new Promise((resolve, reject) => {
      const socket = tls.connect({
        host,
        port,
        ...(tlsServername(host) ? { servername: host } : {}),
        ...(this.ca.length ? { ca: this.ca } : {}),
        rejectUnauthorized: false,
        timeout: 5_000,
      });
      socket.once('secureConnect', () => {
        const cert = socket.getPeerCertificate();
        socket.destroy();
        resolve(this.certRecord(socket, cert));
      });
      socket.once('timeout', () => socket.destroy(new Error('certificate inspection timed out')));
      socket.once('error', reject);
    });
  }
}

function originKey(url: URL): string {
  return hostKey(url.hostname, url.port, url.protocol);
}

/** `host:port` with the scheme's default port filled in (undici passes '' for it). */
function hostKey(hostname: string, port: string | number | undefined, protocol: string): string {
  return `${hostname}:${port || (protocol === 'https:' ? '443' : '80')}`;
}

/** SNI is for names, not IP addresses. */
function tlsServername(host: string): boolean {
  return !/^[\d.]+$/.test(host) && !host.includes(':');
}

function headerValue(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

function formatName(name: PeerCertificate['subject'] | undefined): string {
  if (!name) return '';
  return Object.entries(name)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : v}`)
    .join(', ');
}

function certificateNames(cert: PeerCertificate): string[] {
  const alt = cert.subjectaltname?.split(',').map((s) => s.trim().replace(/^(DNS|IP Address):/, '')) ?? [];
  if (alt.length) return alt;
  const cn = cert.subject?.CN;
  return cn ? [Array.isArray(cn) ? cn.join(', ') : cn] : [];
}

function isoDay(certDate: string): string {
  const ms = Date.parse(certDate);
  return Number.isNaN(ms) ? certDate : new Date(ms).toISOString().slice(0, 10);
}

function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: string }).code;
    return code && !err.message.includes(code) ? `${err.message} (${code})` : err.message;
  }
  return String(err);
}
