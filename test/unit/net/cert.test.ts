// Node certificate generation and the refuse-to-overwrite write path behind `csync tls init`.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fingerprintOfDer, generateNodeCertificate, writeNodeCertificate, type NodeCertificate } from '../../../src/net/cert.ts';
import { CsyncError } from '../../../src/core/errors.ts';

/** node:crypto prints "AB:CD:…"; csync pins are "sha256:abcd…". */
function pinFormOf(nodeFingerprint256: string): string {
  return `sha256:${nodeFingerprint256.replaceAll(':', '').toLowerCase()}`;
}

describe('generateNodeCertificate', () => {
  let generated: NodeCertificate;
  before(async () => {
    generated = await generateNodeCertificate('web1');
  });

  it('produces a certificate node:crypto parses, with CN = node name', () => {
    const cert = new X509Certificate(generated.certPem);
    assert.equal(cert.subject, 'CN=web1');
    assert.equal(cert.issuer, 'CN=web1');
    assert.ok(cert.checkIssued(cert), 'self-signed');
  });

  it('reports a fingerprint equal to X509Certificate.fingerprint256 in pin form', () => {
    const cert = new X509Certificate(generated.certPem);
    assert.match(generated.fingerprint, /^sha256:[0-9a-f]{64}$/);
    assert.equal(generated.fingerprint, pinFormOf(cert.fingerprint256));
    assert.equal(fingerprintOfDer(cert.raw), generated.fingerprint);
  });

  it('uses an ECDSA P-256 PKCS#8 key that matches the certificate', () => {
    assert.match(generated.keyPem, /^-----BEGIN PRIVATE KEY-----/);
    const key = createPrivateKey(generated.keyPem);
    assert.equal(key.asymmetricKeyType, 'ec');
    assert.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.ok(new X509Certificate(generated.certPem).checkPrivateKey(key));
  });

  it('is valid for about 100 years by default and for `days` when given', async () => {
    const yearsOf = (pem: string): number =>
      (Date.parse(new X509Certificate(pem).validTo) - Date.now()) / (365.25 * 86_400_000);
    assert.ok(Math.abs(yearsOf(generated.certPem) - 100) < 0.1);
    const short = await generateNodeCertificate('web1', { days: 10 });
    const days = (Date.parse(new X509Certificate(short.certPem).validTo) - Date.now()) / 86_400_000;
    assert.ok(days > 9.9 && days <= 10, `validity ${days} days`);
  });

  it('gives every generated certificate its own key and fingerprint', async () => {
    const other = await generateNodeCertificate('web1');
    assert.notEqual(other.fingerprint, generated.fingerprint);
  });

  it('refuses a node name that would inject into the certificate name', async () => {
    await assert.rejects(generateNodeCertificate('web1,O=evil'), (err: unknown) => err instanceof CsyncError && err.code === 'CSYNC_USAGE');
    await assert.rejects(generateNodeCertificate(''), (err: unknown) => err instanceof CsyncError && err.code === 'CSYNC_USAGE');
  });
});

describe('writeNodeCertificate', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'csync-cert-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates parent directories, writes the key with mode 0600 and the certificate it returns', async () => {
    const certPath = join(dir, 'a', 'tls', 'web1.crt');
    const keyPath = join(dir, 'a', 'tls', 'web1.key');
    const written = await writeNodeCertificate({ certPath, keyPath, nodeName: 'web1', overwrite: false });
    assert.equal((await stat(keyPath)).mode & 0o777, 0o600);
    assert.equal(await readFile(certPath, 'utf8'), written.certPem);
    assert.equal(await readFile(keyPath, 'utf8'), written.keyPem);
    assert.equal(pinFormOf(new X509Certificate(written.certPem).fingerprint256), written.fingerprint);
  });

  it('refuses to overwrite an existing key or certificate and leaves it untouched', async () => {
    const certPath = join(dir, 'b', 'web1.crt');
    const keyPath = join(dir, 'b', 'web1.key');
    await writeNodeCertificate({ certPath, keyPath, nodeName: 'web1', overwrite: false });
    const keyBefore = await readFile(keyPath, 'utf8');
    await assert.rejects(writeNodeCertificate({ certPath, keyPath, nodeName: 'web1', overwrite: false }), (err: unknown) => {
      assert.ok(err instanceof CsyncError);
      assert.equal(err.code, 'CSYNC_USAGE');
      assert.ok(err.message.includes(JSON.stringify(certPath)));
      assert.ok(err.hint !== undefined && err.hint.length > 0);
      return true;
    });
    assert.equal(await readFile(keyPath, 'utf8'), keyBefore);
  });

  it('refuses when only the key exists, without writing the certificate', async () => {
    const certPath = join(dir, 'c', 'web1.crt');
    const keyPath = join(dir, 'c', 'web1.key');
    await writeNodeCertificate({ certPath: join(dir, 'c', 'other.crt'), keyPath, nodeName: 'web1', overwrite: false });
    await assert.rejects(writeNodeCertificate({ certPath, keyPath, nodeName: 'web1', overwrite: false }), /already exists/);
    await assert.rejects(stat(certPath), { code: 'ENOENT' });
  });

  it('replaces both files when overwrite is true', async () => {
    const certPath = join(dir, 'd', 'web1.crt');
    const keyPath = join(dir, 'd', 'web1.key');
    const first = await writeNodeCertificate({ certPath, keyPath, nodeName: 'web1', overwrite: false });
    await writeFile(join(dir, 'd', 'unrelated'), 'x');
    const second = await writeNodeCertificate({ certPath, keyPath, nodeName: 'web1', overwrite: true });
    assert.notEqual(second.fingerprint, first.fingerprint);
    assert.equal(await readFile(keyPath, 'utf8'), second.keyPem);
    assert.equal((await stat(keyPath)).mode & 0o777, 0o600);
  });
});
