// Tests the ⚙ loader on a real temp dir: missing files, key file checks, the one-step loadNodeView().
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, CsyncError } from '../../../src/core/errors.ts';
import { checkKeyFiles, DEFAULT_CONFIG_PATH, keyFileWarnings, loadConfig, loadNodeView, pickConfigPath } from '../../../src/config/load.ts';
import { parseConfig } from '../../../src/config/parse.ts';
import { resolveNode } from '../../../src/config/resolve.ts';

const dir = mkdtempSync(join(tmpdir(), 'csync-load-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function configText(keyFile: string): string {
  return [
    '[hosts]', 'a = "127.0.0.1:1"', 'b = "127.0.0.1:2"', '',
    '[groups.g]', 'hosts = ["a", "b"]', `key = ${JSON.stringify(keyFile)}`, 'include = ["/srv"]', '',
  ].join('\n');
}

describe('pickConfigPath', () => {
  it('prefers -C, then CSYNC_CONFIG, then the default', () => {
    assert.equal(pickConfigPath({ flag: '/x.toml', env: '/y.toml' }), '/x.toml');
    assert.equal(pickConfigPath({ env: '/y.toml' }), '/y.toml');
    assert.equal(pickConfigPath({ flag: '', env: undefined }), DEFAULT_CONFIG_PATH);
  });
});

describe('loadConfig', () => {
  it('reads and parses a file', () => {
    const path = join(dir, 'ok.toml');
    writeFileSync(path, configText('/k'));
    assert.equal(loadConfig(path).source, path);
  });
  it('fails with CSYNC_CONFIG_INVALID and a hint naming -C when the file is missing', () => {
    assert.throws(() => loadConfig(join(dir, 'missing.toml')), (err: unknown) => {
      assert.ok(err instanceof CsyncError);
      assert.equal(err.code, 'CSYNC_CONFIG_INVALID');
      assert.match(err.message, /missing\.toml": file not found$/);
      assert.match(err.hint ?? '', /-C PATH or set CSYNC_CONFIG/);
      return true;
    });
  });
  it('fails clearly when the path is a directory', () => {
    assert.throws(() => loadConfig(dir), /is a directory/);
  });
});

describe('checkKeyFiles', () => {
  it('reports a missing key file with its key path and line', () => {
    const text = configText(join(dir, 'none.key'));
    const issues = checkKeyFiles(resolveNode(parseConfig(text, 't'), 'a'), text);
    assert.equal(issues.length, 1);
    assert.equal(issues[0]?.keyPath, 'groups.g.key');
    assert.equal(issues[0]?.line, 7);
    assert.match(issues[0]?.message ?? '', /does not exist: make one with `csync -k /);
  });
  it('reports a key file shorter than 32 bytes', () => {
    const key = join(dir, 'short.key');
    writeFileSync(key, 'x'.repeat(31));
    const issues = checkKeyFiles(resolveNode(parseConfig(configText(key), 't'), 'a'));
    assert.match(issues[0]?.message ?? '', /has 31 bytes, needs at least 32/);
    assert.equal(issues[0]?.line, undefined);
  });
  it('accepts a key file of 32 bytes', () => {
    const key = join(dir, 'good.key');
    writeFileSync(key, 'x'.repeat(32), { mode: 0o600 });
    assert.deepEqual(checkKeyFiles(resolveNode(parseConfig(configText(key), 't'), 'a')), []);
  });
  it('refuses a key file other users can read or write, naming chmod 600', () => {
    for (const [mode, what] of [[0o644, 'readable'], [0o602, 'writable']] as const) {
      const key = join(dir, `open-${mode.toString(8)}.key`);
      writeFileSync(key, 'x'.repeat(40));
      chmodSync(key, mode);
      const issues = checkKeyFiles(resolveNode(parseConfig(configText(key), 't'), 'a'));
      assert.equal(issues.length, 1);
      assert.equal(issues[0]?.keyPath, 'groups.g.key');
      assert.match(issues[0]?.message ?? '', new RegExp(`is ${what} by other users \\(mode 0${mode.toString(8)}\\): run \`chmod 600 `));
    }
  });
  it('accepts a key file its group can read, with a warning', () => {
    const key = join(dir, 'group.key');
    writeFileSync(key, 'x'.repeat(40));
    chmodSync(key, 0o640);
    const view = resolveNode(parseConfig(configText(key), 't'), 'a');
    assert.deepEqual(checkKeyFiles(view), []);
    const warnings = keyFileWarnings(view);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /groups\.g\.key: .* is accessible to its group \(mode 0640\); run `chmod 600 /);
    chmodSync(key, 0o600);
    assert.deepEqual(keyFileWarnings(view), []);
  });
});

describe('loadNodeView', () => {
  it('throws one ConfigError for key problems when asked to check keys', () => {
    const path = join(dir, 'nokey.toml');
    writeFileSync(path, configText(join(dir, 'absent.key')));
    assert.throws(() => loadNodeView({ configPath: path, nodeName: 'b', checkKeys: true }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(err.issues.map((i) => i.keyPath), ['groups.g.key']);
      return true;
    });
    assert.equal(loadNodeView({ configPath: path, nodeName: 'b', checkKeys: false }).self, 'b');
  });
});
