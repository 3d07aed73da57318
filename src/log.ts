import { pino, type Logger } from 'pino';
import PinoPretty from 'pino-pretty';
import { Writable } from 'node:stream';
import { redact, redactFields } from './domain/redact.js';

export type { Logger };

export { redact, registerSecret } from './domain/redact.js';

/**
 * The process logger: JSON lines by default, pretty on a terminal. Fields and messages are
 * redacted before pino serializes them (so JSON escaping cannot hide a secret from the match),
 * and every line goes through `redact` once more as a whole.
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
  const redacting = {
    formatters: {
      log: (fields: Record<string, unknown>) => redactFields(fields) as Record<string, unknown>,
      bindings: (bindings: Record<string, unknown>) => redactFields(bindings) as Record<string, unknown>,
    },
    hooks: {
      logMethod(this: Logger, args: unknown[], method: (...inner: unknown[]) => void) {
        method.apply(this, args.map((arg) => (typeof arg === 'string' ? redact(arg) : arg)));
      },
    },
  };
  if (pretty) {
    // pino-pretty as a stream in this process (not a worker transport), writing through the redactor.
    return pino({ level, ...redacting }, PinoPretty({ colorize: true, sync: true, destination: redactingStream }));
  }
  return pino({ level, base: { name: 'driftwatch' }, ...redacting }, redactingStream);
}

let rootLogger: Logger | undefined;
export function logger(): Logger {
  rootLogger ??= createLogger();
  return rootLogger;
}
export function setLogger(next: Logger): void {
  rootLogger = next;
}
