// `csync import-csync2` as an operator runs it: the real binary converts a csync2.cfg (with its
// key files and includes next to it), and `csync config check` accepts the result on each host
// unedited; what cannot be converted is named on stderr and the check says what is missing.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const BIN = join(HERE, '../../../bin/csync.cjs');
const FIXTURES = join(HERE, '../../../test/fixtures/csync2');
const dir = mkdtempSync(join(tmpdir(), 'csync-import-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function csync(...args: string[]): { status: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, CSYNC_NO_DAEMON: '1' }, timeout: 30_000 });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

/** A csync2 key file as `csync2 -k` writes it: 64 characters and a newline, mode 0600. */
function writeKey(path: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${'k3yMaterial.'.repeat(6).slice(0, 64)}\n`, { mode: 0o600 });
}

/** Copies a fixture (and conf.d/) into its own directory as csync2.cfg, pointing /etc keys into that directory. */
function stage(name: string): string {
  const home = join(dir, name.replace(/\.cfg$/, ''));
  mkdirSync(join(home, 'conf.d'), { recursive: true });
  const copy = (from: string, to: string): void => {
    const text = readFileSync(join(FIXTURES, from), 'utf8').replace(/\bkey \/etc\/(\S+);/g, (_m, file: string) => `key ${join(home, file)};`);
    writeFileSync(join(home, to), text);
  };
  copy(name, 'csync2.cfg');
  for (const inc of readdirSync(join(FIXTURES, 'conf.d'))) copy(join('conf.d', inc), join('conf.d', inc));
  return home;
}

function importAndCheck(home: string, hosts: readonly string[]): { importErr: string } {
  const imported = csync('import-csync2', join(home, 'csync2.cfg'));
  assert.equal(imported.status, 0, imported.err);
  const toml = join(home, 'csync.toml');
  writeFileSync(toml, imported.out);
  for (const host of hosts) {
    const check = csync('-C', toml, '-N', host, '-D', join(home, 'state', host), 'config', 'check');
    assert.equal(check.status, 0, `config check on ${host}:\n${check.err}`);
    assert.match(check.out, new RegExp(`^node +${host.replaceAll('.', '\\.')} `, 'm'));
  }
  return { importErr: imported.err };
}

describe('csync import-csync2 then csync config check', () => {
  it('fqdn.cfg: FQDN hosts and relative keys pass the check on every host, with no note', () => {
    const home = stage('fqdn.cfg');
    writeKey(join(home, 'csync2.key_www'));
    writeKey(join(home, 'keys/csync2.key_etc'));
    const { importErr } = importAndCheck(home, ['node1.example.org', 'node2.example.org', 'node3.example.org']);
    assert.doesNotMatch(importErr, /^note:/m);
    assert.match(importErr, /^converted .*csync2\.cfg; review it, then run `csync config check`$/m);
  });

  it('includes.cfg: groups and hosts from included files pass the check; the relative includes are named', () => {
    const home = stage('includes.cfg');
    writeKey(join(home, 'csync2.key_dns'));
    writeKey(join(home, 'csync2.key_mail'));
    const { importErr } = importAndCheck(home, ['ns1', 'mx1', 'mx3']);
    assert.match(importErr, /^note: line 2: config conf\.d\/common\.cfg was read as .*\/conf\.d\/common\.cfg/m);
    assert.match(importErr, /with 2 note\(s\) above/);
  });

  it('actions.cfg: prefixes and actions pass the check; the dropped lines are named on stderr', () => {
    const home = stage('actions.cfg');
    writeKey(join(home, 'csync2.key_cfg'));
    const { importErr } = importAndCheck(home, ['a', 'b']);
    assert.match(importErr, /^note: line 23: logfile %data%\/csync2-action\.log is dropped/m);
    assert.match(importErr, /with 5 note\(s\) above/);
  });

  it('sample.cfg (no group): the import says so, and the check fails naming [groups] (exit 78)', () => {
    const home = stage('sample.cfg');
    const imported = csync('import-csync2', join(home, 'csync2.cfg'));
    assert.equal(imported.status, 0, imported.err);
    assert.match(imported.err, /^note: no group in this file/m);
    writeFileSync(join(home, 'csync.toml'), imported.out);
    const check = csync('-C', join(home, 'csync.toml'), '-N', 'host1', '-D', join(home, 'state'), 'config', 'check');
    assert.equal(check.status, 78, check.err);
    assert.match(check.err, /groups/);
  });

  it('a file csync2 would refuse: exit 78 naming the line, nothing on stdout', () => {
    const home = join(dir, 'broken');
    mkdirSync(home, { recursive: true });
    writeFileSync(join(home, 'csync2.cfg'), 'group g {\n  host a b;\n  ssl_cert /etc/x.pem;\n}\n');
    const r = csync('import-csync2', join(home, 'csync2.cfg'));
    assert.equal(r.status, 78, r.err);
    assert.match(r.err, /line 3: syntax error: "ssl_cert"/);
    assert.equal(r.out, '');
  });
});
