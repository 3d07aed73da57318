/**
 * Test certificates made at test time with the machine's openssl (OpenSSL 3.0 has no
 * `x509 -not_before`, so leaf certificates go through `openssl ca`, which takes explicit
 * start and end dates). Keys are EC P-256: quick to make, and Node's TLS accepts them.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Pem {
  key: string;
  cert: string;
}

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`openssl ${args[0]} failed: ${stderr.trim() || String(err)}`);
  }
}

function withTempDir<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'driftwatch-certs-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** openssl ca wants GeneralizedTime-ish `YYYYMMDDHHMMSSZ`. */
function opensslDate(date: Date): string {
  return date.toISOString().replace(/[-:T]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

/** A certificate authority for tests: trust it through `ca` options or a kubeconfig's caData. */
export function makeCA(commonName = 'driftwatch test CA'): Pem {
  return withTempDir((dir) => {
    openssl(
      [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '3650', '-subj', `/CN=${commonName}`,
        '-addext', 'basicConstraints=critical,CA:TRUE',
        '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
        '-addext', 'subjectKeyIdentifier=hash',
      ],
      dir,
    );
    return { key: readFileSync(join(dir, 'ca.key'), 'utf8'), cert: readFileSync(join(dir, 'ca.crt'), 'utf8') };
  });
}

export interface CertOptions {
  /** DNS names and IP addresses for subjectAltName; the first is also the CN. */
  names: string[];
  notBefore?: Date;
  notAfter?: Date;
  /** Sign with its own key instead of the CA's (the CA is then ignored). */
  selfSigned?: boolean;
}

/** A server certificate signed by `ca` (or self-signed), valid for `names` between the given dates. */
export function makeCert(ca: Pem, options: CertOptions): Pem {
  if (options.names.length === 0) throw new Error('makeCert: at least one name is needed');
  const notBefore = options.notBefore ?? new Date(Date.now() - 60 * 60 * 1000);
  const notAfter = options.notAfter ?? new Date(Date.now() + 365 * 24 * 60 * 60 * 1000);
  const san = options.names.map((name) => (isIP(name) ? `IP:${name}` : `DNS:${name}`)).join(',');
  return withTempDir((dir) => {
    writeFileSync(join(dir, 'index.txt'), '');
    writeFileSync(join(dir, 'serial'), `7${randomBytes(8).toString('hex').slice(1)}\n`); // even hex digits, positive, unique per cert
    writeFileSync(join(dir, 'ca.key'), ca.key);
    writeFileSync(join(dir, 'ca.crt'), ca.cert);
    writeFileSync(
      join(dir, 'ca.cnf'),
      [
        '[ca]', 'default_ca = test_ca',
        '[test_ca]', `dir = ${dir}`, 'database = $dir/index.txt', 'new_certs_dir = $dir',
        'serial = $dir/serial', 'default_md = sha256', 'policy = any_name', 'unique_subject = no',
        'email_in_dn = no', 'x509_extensions = server_ext',
        '[any_name]', 'commonName = supplied',
        '[server_ext]', 'basicConstraints = critical,CA:FALSE', 'keyUsage = critical,digitalSignature,keyEncipherment',
        'extendedKeyUsage = serverAuth', `subjectAltName = ${san}`, 'subjectKeyIdentifier = hash',
        ...(options.selfSigned ? [] : ['authorityKeyIdentifier = keyid,issuer']),
        '',
      ].join('\n'),
    );
    openssl(
      ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', 'server.key', '-out', 'server.csr', '-subj', `/CN=${options.names[0]}`],
      dir,
    );
    const signer = options.selfSigned ? ['-selfsign', '-keyfile', 'server.key'] : ['-cert', 'ca.crt', '-keyfile', 'ca.key'];
    openssl(
      ['ca', '-batch', '-notext', '-config', 'ca.cnf', ...signer, '-in', 'server.csr', '-out', 'server.crt',
        '-startdate', opensslDate(notBefore), '-enddate', opensslDate(notAfter)],
      dir,
    );
    return { key: readFileSync(join(dir, 'server.key'), 'utf8'), cert: readFileSync(join(dir, 'server.crt'), 'utf8') };
  });
}
