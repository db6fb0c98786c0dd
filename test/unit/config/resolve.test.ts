// Tests resolveNode() and pickNodeName(): expansion of %h and %prefix% for one node.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ConfigError } from '../../../src/core/errors.ts';
import { parseConfig } from '../../../src/config/parse.ts';
import { pickNodeName, resolveNode } from '../../../src/config/resolve.ts';
import type { Config } from '../../../src/config/types.ts';

const FIXTURES = new URL('../../../../test/fixtures/config/valid/', import.meta.url);
const SPEC_CONFIG = parseConfig(readFileSync(new URL('spec-example.toml', FIXTURES), 'utf8'), 'spec.toml');
const DEMO_CONFIG = parseConfig(readFileSync(new URL('ipv6-and-prefixes.toml', FIXTURES), 'utf8'), 'demo.toml');

function resolveError(config: Config, self: string): ConfigError {
  try {
    resolveNode(config, self);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err;
  }
  assert.fail('resolveNode accepted the node');
}

describe('resolveNode', () => {
  it('uses the per-node prefix value when there is one', () => {
    const web = resolveNode(SPEC_CONFIG, 'web2').groups.get('web');
    assert.deepEqual([...(web?.roots ?? [])], [
      ['/etc/nginx/sites-enabled', '/etc/nginx/sites-enabled'],
      ['%www%/htdocs', '/export/www/htdocs'],
    ]);
  });

  it('falls back to the default prefix value', () => {
    const web = resolveNode(SPEC_CONFIG, 'web1').groups.get('web');
    assert.equal(web?.roots.get('%www%/htdocs'), '/var/www/htdocs');
  });

  it('expands %h in tls paths and lists the other hosts as peers', () => {
    const view = resolveNode(SPEC_CONFIG, 'web1');
    assert.equal(view.tlsCert, '/etc/csync/tls/web1.crt');
    assert.equal(view.tlsKey, '/etc/csync/tls/web1.key');
    assert.deepEqual(view.listen, { name: 'web1', address: '10.0.0.11', port: 30865 });
    assert.deepEqual(view.groups.get('web')?.peers, ['web2', 'web3']);
    assert.equal(view.groups.get('web')?.receiveOnly, false);
  });

  it('marks a receive_only node', () => {
    assert.equal(resolveNode(SPEC_CONFIG, 'web3').groups.get('web')?.receiveOnly, true);
  });

  it('expands %h inside prefixes, state_dir, key, backup_dir and action logfiles', () => {
    const view = resolveNode(DEMO_CONFIG, 'node-b');
    const data = view.groups.get('data');
    assert.ok(data !== undefined);
    assert.equal(view.stateDir, '/tmp/csync-demo/node-b/state');
    assert.equal(data.roots.get('%data%/shared'), '/tmp/csync-demo/node-b/data/shared');
    assert.equal(data.roots.get('/tmp/csync-demo/%h/etc'), '/tmp/csync-demo/node-b/etc');
    assert.equal(data.keyFile, '/tmp/csync-demo/node-b/group.key');
    assert.equal(data.backupDir, '/tmp/csync-demo/node-b/backups');
    assert.equal(data.config.actions[0]?.logfile, '/tmp/csync-demo/node-b/action.log');
    assert.equal(DEMO_CONFIG.groups['data']?.actions[0]?.logfile, '/tmp/csync-demo/%h/action.log', 'the Config is not mutated');
    assert.deepEqual(view.listen, { name: 'node-b', address: 'fd00::14', port: 31000 });
  });

  it('keeps only the groups this node belongs to', () => {
    const config: Config = {
      ...SPEC_CONFIG,
      groups: { ...SPEC_CONFIG.groups, db: { ...(SPEC_CONFIG.groups['web'] as Config['groups'][string]), name: 'db', hosts: ['web1', 'web2'] } },
    };
    assert.deepEqual([...resolveNode(config, 'web3').groups.keys()], ['web']);
    assert.deepEqual([...resolveNode(config, 'web1').groups.keys()], ['web', 'db']);
  });

  it('rejects a node that is in no group, naming -N and CSYNC_NODE', () => {
    const err = resolveError(SPEC_CONFIG, 'db9');
    assert.equal(err.code, 'CSYNC_CONFIG_INVALID');
    assert.equal(err.issues.length, 1);
    assert.equal(err.issues[0]?.keyPath, 'groups');
    assert.match(err.issues[0]?.message ?? '', /"db9", which is in no group: pass -N NAME or set CSYNC_NODE \(one of "web1", "web2", "web3"\)/);
  });

  it('reports a prefix without a value for this node', () => {
    const config: Config = { ...SPEC_CONFIG, prefixes: { www: { web1: '/var/www' } } };
    const err = resolveError(config, 'web2');
    assert.deepEqual(err.issues.map((i) => i.keyPath), ['groups.web.include[1]']);
    assert.match(err.issues[0]?.message ?? '', /prefix "www" has no path for host "web2" and no default/);
  });
});

describe('pickNodeName', () => {
  it('prefers -N over CSYNC_NODE over the host name', () => {
    assert.equal(pickNodeName({ flag: 'a', env: 'b', hostname: 'C' }), 'a');
    assert.equal(pickNodeName({ flag: undefined, env: 'b', hostname: 'C' }), 'b');
    assert.equal(pickNodeName({ hostname: 'Web1' }), 'web1');
  });
  it('treats blank values as absent', () => {
    assert.equal(pickNodeName({ flag: ' ', env: '', hostname: 'h' }), 'h');
  });
});
