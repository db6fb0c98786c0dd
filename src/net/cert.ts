// ⚙ Node certificates: generates a self-signed ECDSA P-256 certificate per node and writes it safely
// (backs `csync tls init`). Owns nothing about trust decisions; see net/pinning.ts for those.

import { createHash, randomBytes, webcrypto } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { CsyncError } from '../core/errors.ts';

/**
 * Default validity: 100 years. Trust in csync comes from pinning the certificate's fingerprint
 * (docs/security.md) plus the group-key HMAC, not from expiry or a CA, so an expiring certificate would only
 * break clusters without adding security. Replace a certificate with `csync tls init` + `trust forget`.
 */
export const DEFAULT_CERT_DAYS = 36_500;

const EC_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

/** A generated certificate: PEM texts and the "sha256:<hex>" fingerprint of the certificate DER. */
export interface NodeCertificate {
  readonly certPem: string;
  readonly keyPem: string;
  readonly fingerprint: string;
}

/**
 * Returns "sha256:<64 lowercase hex>" of a certificate's DER bytes. This is the pin format of
 * `tls.pins` and of Transport.peerFingerprint().
 */
export function fingerprintOfDer(der: Uint8Array): string {
  return `sha256:${createHash('sha256').update(der).digest('hex')}`;
}

/**
 * Generates a self-signed X.509 certificate with CN = `nodeName` and an ECDSA P-256 key (PKCS#8 PEM).
 * Valid from one day ago (clock skew) for `opts.days` days (default DEFAULT_CERT_DAYS). Throws
 * CsyncError('CSYNC_USAGE') for an empty node name or non-positive days.
 */
export async function generateNodeCertificate(nodeName: string, opts: { days?: number } = {}): Promise<NodeCertificate> {
  const days = opts.days ?? DEFAULT_CERT_DAYS;
  if (nodeName === '' || /[,=+<>#;\\"\n\r\0]/.test(nodeName)) {
    throw new CsyncError('CSYNC_USAGE', `tls init: node name ${JSON.stringify(nodeName)} is not usable as a certificate name`, {
      hint: 'use the node name from [hosts], e.g. `csync tls init -N web1`',
    });
  }
  if (!Number.isInteger(days) || days <= 0) {
    throw new Error(`bug: certificate validity must be a positive integer of days, got ${days}`);
  }
  const x509 = await loadX509();
  const keys = (await webcrypto.subtle.generateKey(EC_ALGORITHM, true, ['sign', 'verify']));
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialHex(),
    name: `CN=${nodeName}`,
    notBefore: new Date(now - DAY_MS),
    notAfter: new Date(now + days * DAY_MS),
    keys,
    signingAlgorithm: EC_ALGORITHM,
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return {
    certPem: cert.toString('pem') + '\n',
    keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') + '\n',
    fingerprint: fingerprintOfDer(new Uint8Array(cert.rawData)),
  };
}

/**
 * Loads @peculiar/x509 on first use (it is large and only `csync tls init` needs it; TlsTransport
 * imports this file for fingerprintOfDer) and points it at Node's WebCrypto.
 */
async function loadX509(): Promise<typeof import('@peculiar/x509')> {
  const x509 = await import('@peculiar/x509');
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  return x509;
}

/** A positive 128-bit serial number in hex (RFC 5280: positive, at most 20 octets). */
function randomSerialHex(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f | 0x01;
  return bytes.toString('hex');
}

/**
 * Generates a certificate for `nodeName` and writes it to `certPath` (mode 0644) and `keyPath`
 * (mode 0600), creating parent directories. Each file is written to a temporary name, fsynced and
 * renamed into place. Refuses with CsyncError('CSYNC_USAGE') when either file already exists, unless
 * `overwrite` is true. Returns the generated certificate (its fingerprint is worth printing).
 */
export async function writeNodeCertificate(opts: {
  certPath: string;
  keyPath: string;
  nodeName: string;
  overwrite: boolean;
  days?: number;
}): Promise<NodeCertificate> {
  if (!opts.overwrite) {
    for (const path of [opts.certPath, opts.keyPath]) await refuseExisting(path);
  }
  const generated = await generateNodeCertificate(opts.nodeName, opts.days === undefined ? {} : { days: opts.days });
  await writeFileAtomic(opts.keyPath, generated.keyPem, 0o600);
  await writeFileAtomic(opts.certPath, generated.certPem, 0o644);
  return generated;
}

async function refuseExisting(path: string): Promise<void> {
  const exists = await stat(path).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return false;
      throw new CsyncError('CSYNC_IO', `tls init: cannot check ${JSON.stringify(path)}: ${err.code ?? err.message}`, { cause: err });
    },
  );
  if (exists) {
    throw new CsyncError('CSYNC_USAGE', `tls init: ${JSON.stringify(path)} already exists`, {
      hint: 'remove it first if you really want a new certificate; peers that pinned the old one must run `csync trust forget <this node>`',
    });
  }
}

/** Writes `text` to `path` via a temp file in the same directory (fsync + rename), with `mode`. */
async function writeFileAtomic(path: string, text: string, mode: number): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.tmp-${randomBytes(6).toString('hex')}`);
  try {
    await mkdir(dir, { recursive: true });
    const handle = await open(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, mode);
    try {
      await handle.writeFile(text);
      await handle.chmod(mode); // the process umask applies to open(); make the mode exact
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
    await syncDirectory(dir);
  } catch (err) {
    await rm(tmp, { force: true });
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new CsyncError('CSYNC_IO', `tls init: cannot write ${JSON.stringify(path)}: ${code}`, {
      cause: err,
      hint: 'check that the directory is writable by this user',
    });
  }
}

/** Fsyncs a directory so a rename survives a crash. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, fsConstants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
