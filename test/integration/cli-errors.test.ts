// How the CLI fails (docs/csync.toml.5.md, docs/csync.1.md): every config problem at once with key path and line (78), usage
// errors with a hint (64), "nothing there" listings (2), and a key file never overwritten.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, startCluster } from '../helpers/tls-cluster.ts';

const c = await startCluster(after, { nodes: ['a', 'b'] });
const STACK_FRAME = /^\s+at .+:\d+/m;

/** The shared config with a stray key in [groups.g] and a group host that [hosts] lacks, plus the lines of both. */
function brokenConfig(): { path: string; unknownLine: number; hostsLine: number } {
  const path = c.writeConfig('broken', (toml) => toml.replace(/^hosts = \["a","b"\]$/m, 'hosts = ["a","b","ghost"]\ncolour = "blue"'));
  const lines = readFileSync(path, 'utf8').split('\n');
  return { path, unknownLine: lines.indexOf('colour = "blue"') + 1, hostsLine: lines.indexOf('hosts = ["a","b","ghost"]') + 1 };
}

describe('csync on the command line, when something is wrong', () => {
  it('reports an unknown key and a host missing from [hosts] together, with key paths and lines (exit 78)', async () => {
    const { path, unknownLine, hostsLine } = brokenConfig();
    assert.ok(unknownLine > 0 && hostsLine > 0, 'the fixture has both problems');
    const r = await runCli(['-C', path, '-N', 'a', '-x']);
    assert.equal(r.status, 78, r.out + r.err);
    assert.match(r.err, new RegExp(`groups\\.g\\.colour \\(line ${unknownLine}\\)`));
    assert.match(r.err, new RegExp(`groups\\.g\\.hosts.* \\(line ${hostsLine}\\).*ghost`));
    assert.doesNotMatch(r.err, STACK_FRAME);
    assert.equal(r.out, '');
  });

  it('rejects an unknown flag with exit 64 and a hint', async () => {
    const r = await c.run('a', '--frobnicate');
    assert.equal(r.status, 64, r.out + r.err);
    assert.match(r.err, /--frobnicate/);
    assert.match(r.err, /^hint: /m);
    assert.doesNotMatch(r.err, STACK_FRAME);
  });

  it('exits 2 for -M when nothing is dirty and for -L on an empty state DB', async () => {
    const dirty = await c.run('a', '-M');
    assert.equal(dirty.status, 2, dirty.err);
    assert.equal(dirty.out, '');
    const db = await c.run('a', '-L');
    assert.equal(db.status, 2, db.err);
    assert.equal(db.out, '');
  });

  it('refuses to overwrite an existing key file with -k and leaves it unchanged', async () => {
    const before = readFileSync(c.keyFile);
    const mode = statSync(c.keyFile).mode;
    const r = await c.run('a', '-k', c.keyFile);
    assert.notEqual(r.status, 0);
    assert.match(r.err, /already exists/);
    assert.match(r.err, /^hint: /m);
    assert.deepEqual(readFileSync(c.keyFile), before);
    assert.equal(statSync(c.keyFile).mode, mode);
  });

  it('names the missing key file of a group (exit 78) instead of starting', async () => {
    const path = c.writeConfig('no-key', (toml) => toml.replace(JSON.stringify(c.keyFile), JSON.stringify(join(c.dir, 'missing.key'))));
    const r = await runCli(['-C', path, '-N', 'a', '-x']);
    assert.equal(r.status, 78, r.out + r.err);
    assert.match(r.err, /groups\.g\.key.*missing\.key/);
    assert.doesNotMatch(r.err, STACK_FRAME);
  });
});
