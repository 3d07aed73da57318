import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, redact, registerSecret } from '../src/log.js';
import { Poster } from '../src/delivery/poster.js';
import { ManualClock } from '../src/domain/clock.js';
import { Store } from '../src/store/index.js';
import { DeliveryError, type MessageService } from '../src/domain/messages.js';

const botToken = 'xoxb-5555-6666-abcdefghijklmnop';
const configHubToken = 'ch_cjvr7QWERTYzxcv0987';
const registryPassword = 'hunter2-registry-password';

function capture(pretty = false) {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  }) as unknown as NodeJS.WritableStream;
  return { lines, log: createLogger({ level: 'debug', pretty, destination }) };
}

describe('logging', () => {
  it('never writes a configured secret, whatever path it takes', async () => {
    registerSecret(registryPassword);
    const { lines, log } = capture();
    log.info(`connecting with ${botToken}`);
    log.warn({ headers: { authorization: `Bearer ${configHubToken}` }, password: registryPassword }, 'request failed');
    log.error({ err: new Error(`registry said no to ${registryPassword}`) }, 'registry');
    log.child({ token: botToken }).debug('child bindings');
    log.info({ line: '2025/10/01 17:50:31 Starting worker with Token: ch_cjvr7...' }, 'seed 000 log line');

    // The outbox logs delivery failures with the service's error message.
    const store = Store.open(':memory:');
    const leaking: MessageService = {
      post: async () => {
        throw new DeliveryError(`slack chat.postMessage: invalid_auth for ${botToken}`, false);
      },
      update: async () => {},
      upload: async () => {},
      findByKey: async () => undefined,
    };
    store.outbox.enqueue({ key: 'k1', channel: 'C0ALERTS', kind: 'post', incidentId: null, role: 'message', message: { tone: 'info', title: ['hello'] }, at: 0 });
    await new Poster(store, leaking, new ManualClock(), log).runOnce();
    store.close();

    const output = lines.join('');
    expect(output).toContain('request failed');
    expect(output).toContain('invalid_auth');
    for (const secret of [botToken, configHubToken, registryPassword, 'ch_cjvr7']) expect(output).not.toContain(secret);
    expect(output).toContain('[redacted]');
  });

  it('pretty output on a terminal is redacted the same way', () => {
    const { lines, log } = capture(true);
    log.warn({ token: botToken }, `slack said no to ${botToken}`);
    const output = lines.join('');
    expect(output).toContain('slack said no to [redacted]');
    expect(output).not.toContain(botToken);
    expect(output).not.toMatch(/^\{"level"/);
  });

  it('redact keeps the text around a secret readable', () => {
    expect(redact('token: xoxb-1234-5678-abcdefgh rest')).toBe('token: [redacted] rest');
    expect(redact('Authorization: Bearer abc.def.ghi-jkl')).toBe('Authorization: Bearer [redacted]');
    expect(redact('failed to get bridge worker slug: server returned status 404')).toBe('failed to get bridge worker slug: server returned status 404');
    expect(redact('dial postgres://app:S3cretPassw0rd@db.internal:5432/app failed')).toBe('dial postgres://app:[redacted]@db.internal:5432/app failed');
    expect(redact('api_key=AKIAIOSFODNN7EXAMPLE region=eu')).toBe('api_key=[redacted] region=eu');
    expect(redact('X-Api-Key: 9f8e7d6c5b4a')).toBe('X-Api-Key: [redacted]');
    expect(redact('exec worker --password hunter2hunter2 --verbose')).toBe('exec worker --password [redacted] --verbose');
    expect(redact('aws_secret_access_key=wJalrXUtnFEMI/K7MDENG')).toBe('aws_secret_access_key=[redacted]');
    expect(redact('using AKIAIOSFODNN7EXAMPLE')).toBe('using [redacted]');
  });
});

describe('redaction edges', () => {
  it('finds an AWS key id glued to other text and a four-character configured secret', async () => {
    const { redact, registerSecret, clearSecrets } = await import('../src/domain/redact.js');
    expect(redact('key=xAKIAIOSFODNN7EXAMPLEy')).not.toContain('AKIAIOSFODNN7EXAMPLE');
    registerSecret('q7#Z');
    expect(redact('db password q7#Z leaked')).toBe('db password [redacted] leaked');
    clearSecrets();
  });
});
