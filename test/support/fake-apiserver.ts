/**
 * The fake Kubernetes apiserver lives in src/sandbox/apiserver.ts (it is also the sandbox behind
 * `driftwatch demo`). Tests get it with a CA and server certificate made at test time, as before,
 * instead of the embedded demo-only pair.
 */
import { startFakeApiserver as startApiserver, type FakeApiserver, type FakeApiserverOptions } from '../../src/sandbox/apiserver.js';
import { makeCA, makeCert } from './certs.js';

export * from '../../src/sandbox/apiserver.js';

export async function startFakeApiserver(options: FakeApiserverOptions = {}): Promise<FakeApiserver> {
  const ca = makeCA('fake-apiserver CA');
  const server = makeCert(ca, { names: ['127.0.0.1', 'localhost'] });
  return startApiserver({ tls: { ca: ca.cert, key: server.key, cert: server.cert }, ...options });
}
