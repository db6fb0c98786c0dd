// Group-key authentication over real TLS (docs/security.md): a peer holding another key gets nothing, and the
// failure with that one peer neither aborts the update of the others nor hides itself (exit 77).
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LogicalPath } from '../../src/core/types.ts';
import { startCluster } from '../helpers/tls-cluster.ts';

const c = await startCluster(after, { nodes: ['a', 'b', 'c'] });
const SECRET = 'for members only\n';

describe('a peer with another group key', () => {
  it('is refused with exit 77 while b is updated, and c writes nothing to disk or to its state DB', async () => {
    // A 4th config variant: the same cluster, but c's group key file is a different key.
    const otherKey = join(c.dir, 'other.key');
    const keygen = await c.run('c', '-k', otherKey, '-q');
    assert.equal(keygen.status, 0, keygen.err);
    assert.notDeepEqual(readFileSync(otherKey), readFileSync(c.keyFile));
    const cfgC = c.writeConfig('c-wrong-key', (toml) => toml.replace(JSON.stringify(c.keyFile), JSON.stringify(otherKey)));
    assert.match(readFileSync(cfgC, 'utf8'), /other\.key/);
    await c.restart('c', { configPath: cfgC });
    const before = c.snapshot('c');

    writeFileSync(join(c.root('a'), 'secret.txt'), SECRET);
    const r = await c.run('a', '-x');
    assert.equal(r.status, 77, r.out + r.err);
    assert.match(r.out, /^b: sent 1\b/m, 'b is served');
    assert.match(r.out, /^c: not updated: .*key/im, 'the output names c and the key');
    assert.doesNotMatch(r.err, /^\s+at /m, 'no stack trace');

    assert.equal(readFileSync(join(c.root('b'), 'secret.txt'), 'utf8'), SECRET);
    assert.equal(existsSync(join(c.root('c'), 'secret.txt')), false);
    assert.deepEqual(c.snapshot('c'), before, 'c\'s root is unchanged');
    const store = c.runtime('c').store;
    assert.equal(store.get('%data%/secret.txt' as LogicalPath), undefined, 'c has no row for the path');
    assert.deepEqual(store.list().filter((s) => s.path.includes('secret')), []);

    // a keeps the delivery to c pending (and only to c) for when the keys agree again.
    const dirty = await c.run('a', '-M');
    assert.equal(dirty.status, 0, dirty.err);
    // (The root directory itself was new in a's first check too, so it waits for c as well.)
    const rows = dirty.out.trim().split('\n').map((l) => l.split('\t').slice(0, 3).join('\t'));
    assert.ok(rows.includes('chary\tc\t%data%/secret.txt'), dirty.out);
    assert.deepEqual(rows.filter((r) => !r.startsWith('chary\tc\t')), [], 'nothing waits for b');
  });

  it('delivers the pending change once c has the group key again', async () => {
    await c.restart('c', { configPath: c.cfg });
    const r = await c.run('a', '-u');
    assert.equal(r.status, 0, r.out + r.err);
    assert.equal(readFileSync(join(c.root('c'), 'secret.txt'), 'utf8'), SECRET);
    assert.equal((await c.run('a', '-M')).status, 2, 'nothing left dirty');
  });
});
