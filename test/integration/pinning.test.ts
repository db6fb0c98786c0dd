// Certificate pinning over real TLS (docs/security.md): a peer's certificate is pinned on first contact; a
// changed one is refused for that peer only, naming `csync trust forget PEER`, until it is forgotten.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LogicalPath } from '../../src/core/types.ts';
import { startCluster } from '../helpers/tls-cluster.ts';

const c = await startCluster(after, { nodes: ['a', 'b', 'c'] });

/** Reads `rel` under node `n`'s root, or undefined when it is not there. */
function read(n: string, rel: string): string | undefined {
  const p = join(c.root(n), rel);
  return existsSync(p) ? readFileSync(p, 'utf8') : undefined;
}

describe('certificate pinning', () => {
  it('pins both peers on the first successful sync', async () => {
    writeFileSync(join(c.root('a'), 'one.txt'), 'one\n');
    const r = await c.run('a', '-x');
    assert.equal(r.status, 0, r.out + r.err);
    const pins = c.runtime('a').store.listPins().map((p) => p.peer).sort();
    assert.deepEqual(pins, ['b', 'c']);
    const listed = await c.run('a', 'trust', 'list');
    assert.equal(listed.status, 0, listed.err);
    assert.match(listed.out, /\bc\b.*sha256:[0-9a-f]{64}/);
  });

  it('refuses c after its certificate was regenerated, naming `csync trust forget c`, and still serves b (exit 77)', async () => {
    const oldCert = readFileSync(c.tlsFiles('c').cert, 'utf8');
    await c.stop('c');
    rmSync(c.tlsFiles('c').cert);
    rmSync(c.tlsFiles('c').key);
    const init = await c.run('c', 'tls', 'init', '-q');
    assert.equal(init.status, 0, init.err);
    assert.notEqual(readFileSync(c.tlsFiles('c').cert, 'utf8'), oldCert);
    await c.restart('c');

    writeFileSync(join(c.root('a'), 'two.txt'), 'two\n');
    const r = await c.run('a', '-x');
    assert.equal(r.status, 77, r.out + r.err);
    assert.match(r.out + r.err, /csync trust forget c/);
    assert.doesNotMatch(r.out + r.err, /csync trust forget b/);
    assert.match(r.out, /^b: sent 1\b/m);
    assert.equal(read('b', 'two.txt'), 'two\n', 'b is not affected');
    assert.equal(read('c', 'two.txt'), undefined, 'c got nothing');
    assert.equal(c.runtime('c').store.get('%data%/two.txt' as LogicalPath), undefined);
  });

  it('accepts c again after `csync trust forget c` on a, and pins the new certificate', async () => {
    const pinBefore = c.runtime('a').store.getPin('c')?.fingerprint;
    const forget = await c.run('a', 'trust', 'forget', 'c');
    assert.equal(forget.status, 0, forget.err);
    const r = await c.run('a', '-x');
    assert.equal(r.status, 0, r.out + r.err);
    assert.equal(read('c', 'two.txt'), 'two\n');
    const pinAfter = c.runtime('a').store.getPin('c')?.fingerprint;
    assert.match(pinAfter ?? '', /^sha256:/);
    assert.notEqual(pinAfter, pinBefore);
  });
});
