import { pino, type Logger } from 'pino';
import PinoPretty from 'pino-pretty';
import { Writable } from 'node:stream';

export type { Logger };

/** Values that must never reach a log line or a message: tokens, passwords, secrets. */
const secretValues = new Set<string>();

/** Registers a secret value (a token read from the environment or config) for redaction everywhere. */
export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 6) secretValues.add(value);
}

/** Token shapes; where a pattern has a group, that part (a label) is kept in front of the marker. */
const tokenPatterns: RegExp[] = [
  /\bxox[abposr]-[A-Za-z0-9-]{8,}/g, // Slack bot/user tokens
  /\bxapp-[A-Za-z0-9-]{8,}/g, // Slack app-level tokens
  /\bch_[A-Za-z0-9]{4,}[A-Za-z0-9._-]*/g, // ConfigHub worker tokens, as in seed 000's log line
  /\bgh[pousr]_[A-Za-z0-9]{20,}/g,
  /\b((?:Bearer|Basic) )[A-Za-z0-9._~+/=-]{8,}/gi,
  /\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{5,}/g, // JWTs
  /((?:password|passwd|secret|token|api[_-]?key|access[_-]?key|secret[_-]?key|private[_-]?key)["']?\s*[:=]\s*["']?)[^\s"',}]{4,}/gi,
  /(--(?:password|passwd|token|secret|api-key)[= ])\S+/gi, // command-line flags
  /(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]+:)[^\s@/]+(?=@)/gi, // passwords in URLs: postgres://app:…@db
  /\bAKIA[0-9A-Z]{16}\b/g, // AWS access key ids
];

/** Replaces every known secret and token-shaped string in `text` with a marker. */
export function redact(text: string): string {
  let out = text;
  for (const value of secretValues) out = out.split(value).join('[redacted]');
  for (const pattern of tokenPatterns) out = out.replace(pattern, (_match, label?: unknown) => `${typeof label === 'string' ? label : ''}[redacted]`);
  return out;
}

/**
 * The process logger: JSON lines by default, pretty on a terminal. Every line goes through
 * `redact` as a whole, so a secret can't slip out through a field nobody thought of.
 */
export function createLogger(options: { level?: string; pretty?: boolean; destination?: NodeJS.WritableStream } = {}): Logger {
  const level = options.level ?? process.env.LOG_LEVEL ?? 'info';
  const target = options.destination ?? process.stderr;
  const redactingStream = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      target.write(redact(String(chunk)));
      done();
    },
  });
  const pretty = options.pretty ?? (target === process.stderr && process.stderr.isTTY === true);
  if (pretty) {
    // pino-pretty as a stream in this process (not a worker transport), writing through the redactor.
    return pino({ level }, PinoPretty({ colorize: true, sync: true, destination: redactingStream }));
  }
  return pino({ level, base: { name: 'driftwatch' } }, redactingStream);
}

let rootLogger: Logger | undefined;
export function logger(): Logger {
  rootLogger ??= createLogger();
  return rootLogger;
}
export function setLogger(next: Logger): void {
  rootLogger = next;
}
