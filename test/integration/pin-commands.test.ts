// Strict pinning made easy (issue 10 item 4): `csync tls pin` prints this node's [tls.pins] line,
// `csync tls pins --collect` dials every peer and prints the table, which pasted into the config with
// `tls.require_pins = true` gives a cluster where every node is pinned and nothing is trusted on first use.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fingerprintOfDer } from '../../src/net/cert.ts';
import { startCluster } from '../helpers/tls-cluster.ts';

const c = await startCluster(after, { nodes: ['a', 'b', 'c'] });
const fp = (n: string): string => fingerprintOfDer(new X509Certificate(readFileSync(c.tlsFiles(n).cert)).raw);

describe('tls pin / tls pins --collect', () => {
  it('`tls pin` prints this node\'s line, ready to paste', async () => {
    const r = await c.run('b', 'tls', 'pin');
    assert.equal(r.status, 0, r.err);
    assert.equal(r.out, `"b" = "${fp('b')}"\n`);
  });

  it('`tls pins --collect` prints every node\'s fingerprint, stores nothing and writes no file', async () => {
    const cfgBefore = readFileSync(c.cfg, 'utf8');
    const r = await c.run('a', 'tls', 'pins', '--collect');
    assert.equal(r.status, 0, r.out + r.err);
    assert.match(r.out, /^\[tls\.pins\]$/m);
    assert.match(r.out, new RegExp(`^"a" = "${fp('a')}"  # this node$`, 'm'));
    for (const n of ['b', 'c']) assert.match(r.out, new RegExp(`^"${n}" = "${fp(n)}"  # proved the group key; new: no pin here yet$`, 'm'));
    assert.deepEqual(c.runtime('a').store.listPins(), [], 'collecting must not pin');
    assert.equal(readFileSync(c.cfg, 'utf8'), cfgBefore);
  });

  it('the collected table with require_pins = true gives a working strict cluster', async () => {
    const table = (await c.run('a', 'tls', 'pins', '--collect')).out;
    const strict = c.writeConfig('strict', (t) => t.replace('[hosts]', `require_pins = true\n${table}\n[hosts]`));
    for (const n of ['a', 'b', 'c']) await c.restart(n, { configPath: strict });
    const check = await c.run('a', 'config', 'check');
    assert.equal(check.status, 0, check.err);
    assert.doesNotMatch(check.err, /require_pins/);
    writeFileSync(join(c.root('a'), 'strict.txt'), 'pinned\n');
    const r = await c.run('a', '-x');
    assert.equal(r.status, 0, r.out + r.err);
    assert.equal(readFileSync(join(c.root('b'), 'strict.txt'), 'utf8'), 'pinned\n');
    assert.equal(readFileSync(join(c.root('c'), 'strict.txt'), 'utf8'), 'pinned\n');
    assert.deepEqual(c.runtime('a').store.listPins(), [], 'strict mode stores no pins of its own');
  });

  it('`tls pins` flags a peer whose certificate differs from its pin, and config check names unpinned hosts', async () => {
    const wrong = c.writeConfig('wrong-pin', (t) => t.replace('[hosts]', `require_pins = true\n[tls.pins]\nb = "sha256:${'0'.repeat(64)}"\n[hosts]`));
    await c.restart('a', { configPath: wrong });
    const r = await c.run('a', 'tls', 'pins', '--collect');
    assert.equal(r.status, 1, r.out + r.err);
    assert.match(r.out, /# "b": presented sha256:[0-9a-f]{64}, which DIFFERS from its pin sha256:0{64}/);
    const check = await c.run('a', 'config', 'check');
    assert.match(check.err, /warning: tls\.require_pins is on but "c" has no pin in \[tls\.pins\]/);
  });
});
