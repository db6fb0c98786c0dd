// csync2.cfg → csync TOML: every fixture in test/fixtures/csync2/ converts to a config that passes
// the validation of `csync config check` on each of its hosts, with exactly the notes listed here;
// the grammar accepts what csync2's cfgfile_parser.y accepts and refuses what it refuses.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../../../src/core/errors.ts';
import { compileMatcher } from '../../../src/core/matcher.ts';
import { importCsync2, type Csync2Import } from '../../../src/config/import-csync2.ts';
import { parseConfig } from '../../../src/config/parse.ts';
import { resolveNode } from '../../../src/config/resolve.ts';
import type { Config } from '../../../src/config/types.ts';

const DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../test/fixtures/csync2');
const readFile = (path: string): string => readFileSync(path, 'utf8');

function importFixture(name: string): Csync2Import {
  const path = join(DIR, name);
  return importCsync2(readFile(path), { path, readFile });
}

/** What `csync config check` reports on each host, key files aside (they live on the hosts). */
function checkProblems(toml: string): string[] {
  const problems: string[] = [];
  const collect = (err: unknown): void => {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.issues.map((i) => `${i.keyPath}: ${i.message}`));
  };
  try {
    const config = parseConfig(toml, 'imported');
    for (const host of Object.keys(config.hosts)) {
      try {
        resolveNode(config, host);
      } catch (err) {
        collect(err);
      }
    }
  } catch (err) {
    collect(err);
  }
  return problems;
}

function load(name: string): { result: Csync2Import; config: Config } {
  const result = importFixture(name);
  return { result, config: parseConfig(result.toml, name) };
}

const NO_GROUP = 'no group in this file (csync2 would refuse to run: "not a member of any configured group"): add a [groups.NAME] table with hosts, key and include (see csync.example.toml)';

/** Every fixture and the exact notes its import prints. */
const EXPECTED_NOTES: Readonly<Record<string, readonly string[]>> = {
  'web.cfg': [
    'line 2: nossl * * is dropped: csync always uses TLS 1.3, with certificates made by `csync tls init`',
    'line 4: tempdir /tmp is dropped: csync writes each incoming file to a temporary name in that file\'s own directory, so the final rename is atomic',
  ],
  'sample.cfg': [NO_GROUP],
  'fqdn.cfg': [],
  'patterns.cfg': [
    'line 11: group app: include /opt/*/conf.d: csync also syncs files that match /opt/* (csync2 only steps through such directories): exclude them if that matters',
    'line 13: group app: /srv/data/**/cache: csync2 lets every "*" of a pattern holding "**" match "/"; csync\'s "*" stays within one name and "**" spans whole directories: check the result',
    'line 15: group app: include keep.log also brings back a file of that name that a path exclude excluded (csync2 keeps it excluded): check the exclude list',
    'line 17: group app: compare /etc/apache2/ports.conf is dropped: csync2 uses compare patterns only in its -o/-TT compare modes; csync -T compares every file of the group',
  ],
  'actions.cfg': [
    'line 22: exec has 2 words, which csync2 runs as 2 separate commands; written that way ("touch; /run/app.stamp"): if they are one command, write exec = "touch /run/app.stamp"',
    'line 23: logfile %data%/csync2-action.log is dropped: csync2 opens it as written, relative to its working directory and without expanding %prefix%; csync logs the output unless logfile is an absolute path',
    'line 25: group cfg: action: pattern *.conf never matches in csync2 (action patterns are matched against the whole path): dropped',
    'line 25: group cfg: action has no pattern that matches, so it never runs: not converted',
    'line 29: group cfg: action has no exec, so it runs nothing: not converted',
  ],
  'globals.cfg': [
    'line 2: nossl 10.0.0.* 10.0.0.* is dropped: csync always uses TLS 1.3, with certificates made by `csync tls init`',
    'line 3: database /var/lib/csync2/custom.db is dropped: csync keeps its own state in state_dir (default /var/lib/csync) and does not read the csync2 database',
    'line 4: tempdir /var/tmp/csync2 is dropped: csync writes each incoming file to a temporary name in that file\'s own directory, so the final rename is atomic',
    'line 5: lock-timeout 30 is dropped: csync\'s state database waits up to 5 s for a lock, and a `csync -x` is handed to a running daemon instead of waiting',
  ],
  'includes.cfg': [
    `line 2: config conf.d/common.cfg was read as ${DIR}/conf.d/common.cfg; csync2 opens a relative include from its working directory`,
    `line 5: config conf.d/mail-hosts.cfg was read as ${DIR}/conf.d/mail-hosts.cfg; csync2 opens a relative include from its working directory`,
  ],
  'edge.cfg': [
    'line 2: group lonely has one host, so it syncs nothing; csync needs two or more: not converted',
    'line 8: group web+static is written as [groups.web_static] (csync group names are unique and use A-Z, a-z, 0-9, ".", "_", "-")',
    'line 12: group web_static: backup-directory backups is relative (csync2 takes it from its working directory): set backup_dir to an absolute path',
    'line 16: group mirror: every host is in ( ), so none could send a change; receive_only is left out: list in it the hosts that must only receive',
    'line 22: group nothing includes no path, so it syncs nothing: not converted',
    'line 28: group mirror is written as [groups.mirror_2] (csync group names are unique and use A-Z, a-z, 0-9, ".", "_", "-")',
  ],
};

describe('importCsync2 on the fixtures', () => {
  it('has an expectation for every fixture', () => {
    const fixtures = readdirSync(DIR).filter((f) => f.endsWith('.cfg')).sort();
    assert.deepEqual(fixtures, Object.keys(EXPECTED_NOTES).sort());
  });

  for (const [name, notes] of Object.entries(EXPECTED_NOTES)) {
    it(`${name}: prints exactly the expected notes`, () => {
      assert.deepEqual(importFixture(name).notes, notes);
    });
    it(`${name}: ${name === 'sample.cfg' ? 'has no group to check' : 'passes the config check on every host'}`, () => {
      const problems = checkProblems(importFixture(name).toml);
      if (name === 'sample.cfg') assert.deepEqual(problems, ['groups: is required: define at least one [groups.NAME] table']);
      else assert.deepEqual(problems, []);
    });
  }
});

describe('importCsync2: what is carried over', () => {
  it('keeps hosts, addresses after @, and ( ) hosts as receive_only', () => {
    const { config } = load('web.cfg');
    assert.deepEqual(config.groups['web']?.hosts, ['web1', 'web2', 'web3']);
    assert.deepEqual(config.groups['web']?.receiveOnly, ['web3']);
    assert.equal(config.hosts['web1']?.address, '10.0.0.11');
    assert.equal(config.hosts['web2']?.address, 'web2');
  });

  it('keeps include, exclude, key, auto, backups and the global ignore (mod becomes mode)', () => {
    const web = load('web.cfg').config.groups['web'];
    assert.deepEqual(web?.include, ['/etc/nginx/sites-enabled', '%www%/htdocs']);
    assert.deepEqual(web?.exclude, ['%www%/htdocs/cache', '*~', '.*.swp']);
    assert.equal(web?.keyFile, '/etc/csync2.key_web');
    assert.equal(web?.auto, 'younger');
    assert.equal(web?.backupDir, '/var/backups/csync2');
    assert.equal(web?.backupGenerations, 3);
    assert.deepEqual(web?.ignore, ['uid', 'mode']);
  });

  it('expands prefix host patterns (web[12]) and turns `on *` into default', () => {
    assert.deepEqual(load('web.cfg').config.prefixes['www'], { web1: '/var/www', web2: '/var/www', default: '/export/www' });
  });

  it('gives each host the path of the first `on` line matching it, with trailing slashes stripped', () => {
    const { config } = load('globals.cfg');
    assert.deepEqual(config.prefixes['home'], { db1: '/export/home', db2: '/home2', db3: '/home2', default: '/home' });
    assert.deepEqual(load('actions.cfg').config.prefixes['data'], { a: '/data', b: '/mnt/data' });
  });

  it('quotes host names with dots, lower-cases them, and reads a relative key from the directory of csync2.cfg', () => {
    const { result, config } = load('fqdn.cfg');
    assert.match(result.toml, /^"node1\.example\.org" = "node1\.example\.org"$/m);
    assert.deepEqual(Object.keys(config.hosts), ['node1.example.org', 'node2.example.org', 'node3.example.org']);
    assert.equal(config.hosts['node3.example.org']?.address, 'node3-eth1.example.org');
    assert.equal(config.groups['www']?.keyFile, join(DIR, 'csync2.key_www'));
    assert.equal(config.groups['group_1']?.keyFile, join(DIR, 'keys/csync2.key_etc'));
    assert.deepEqual(config.groups['group_1']?.include, ['/etc/haproxy', '/etc/keepalived/keepalived.conf']);
  });

  it('quotes every key that is not bare: group, action and prefix headers too', () => {
    const text = 'group a.b { host h1.x h2.x; key /k; include %p.q%/x; action { exec "true"; } }\nprefix p.q { on *: /p; }\n';
    const result = importCsync2(text);
    assert.match(result.toml, /^\[groups\."a\.b"\]$/m);
    assert.match(result.toml, /^\[\[groups\."a\.b"\.actions\]\]$/m);
    assert.match(result.toml, /^\[prefix\."p\.q"\]$/m);
    assert.ok(result.notes.some((n) => n.startsWith('line 2: prefix p.q: csync prefix names use')), result.notes.join('\n'));
  });

  it('follows `config FILE` includes inside groups and inside included files', () => {
    const { config } = load('includes.cfg');
    assert.deepEqual(Object.keys(config.groups), ['dns', 'mail']);
    assert.deepEqual(config.groups['mail']?.hosts, ['mx1', 'mx2', 'mx3']);
    assert.deepEqual(config.groups['mail']?.receiveOnly, ['mx3']);
  });

  it('converts actions: several execs in order, no pattern means the whole group, do-local-only', () => {
    const [reload, reindex, stamp, ...rest] = load('actions.cfg').config.groups['cfg']?.actions ?? [];
    assert.deepEqual(reload?.pattern, ['/etc/app/*.conf', '%data%/shared/templates']);
    assert.equal(reload?.exec, 'systemctl reload app; logger csync2: app reloaded');
    assert.equal(reload?.logfile, '/var/log/csync2_app.log');
    assert.equal(reload?.doLocal, true);
    assert.deepEqual(reindex?.pattern, ['/etc/app', '%data%/shared']);
    assert.equal(reindex?.doLocalOnly, true);
    assert.equal(stamp?.logfile, undefined);
    assert.deepEqual(rest, []);
  });
});

describe('importCsync2: include and exclude keep csync2\'s verdicts', () => {
  const app = load('patterns.cfg').config.groups['app'];
  const excluded = compileMatcher(app?.exclude ?? []);
  const cases: readonly [string, boolean][] = [
    ['/etc/apache2/apache2.conf', false],
    ['/etc/apache2/sites-enabled/default.conf', false],
    ['/etc/apache2/sites-enabled/other.conf', true],
    ['/etc/ssl/site.pem', false],
    ['/etc/ssl/private/site.key', true],
    ['/opt/app/conf.d/x.conf', false],
    ['/opt/app/bin/app', true],
    ['/srv/data/a/b.log', true],
    ['/srv/data/keep.log', false],
    ['/srv/data/x/cache/y', true],
    ['/srv/data/x/.git/HEAD', true],
    ['/srv/data/x/y', false],
  ];
  it('uses the literal directories in front of includes as roots', () => {
    assert.deepEqual(app?.include, ['/etc/apache2', '/etc/ssl', '/opt', '/srv/data']);
  });
  for (const [path, want] of cases) {
    it(`${path} is ${want ? 'excluded' : 'synced'}`, () => assert.equal(excluded.isExcluded(path), want));
  }
  it('reopens an excluded directory as "DIR/*" plus the included path below it', () => {
    const { toml } = importCsync2('group g { host a b; key /k; include /a; exclude /a/b; include /a/b/c/d; }');
    assert.match(toml, /^exclude = \["\/a\/b\/\*", "!\/a\/b\/c", "\/a\/b\/c\/\*", "!\/a\/b\/c\/d"\]$/m);
  });
  it('escapes a csync2 pattern that starts with "!" (literal there, a re-include in csync)', () => {
    const { toml } = importCsync2('group g { host a b; key /k; include /a; exclude !x; }');
    assert.match(toml, /^exclude = \["\\\\!x"\]$/m);
  });
});

describe('importCsync2: csync2\'s grammar', () => {
  const group = (body: string): string => `group g { host a b; key /k; include /x; ${body} }`;

  it('reads `compare a b c` as csync2 does: include a, include b, compare c', () => {
    const r = importCsync2(group('compare /y /z /w;'));
    assert.match(r.toml, /^include = \["\/x", "\/y", "\/z"\]$/m);
    assert.equal(r.notes.length, 1);
    assert.match(r.notes[0] as string, /compare \/w is dropped/);
  });

  it('numbers unnamed groups as csync2 does (group_1, group_2)', () => {
    const r = importCsync2('group { host a b; key /k; include /x; } group { host a b; key /k2; include /y; }');
    assert.match(r.toml, /^\[groups\.group_1\][\s\S]*^\[groups\.group_2\]$/m);
  });

  it('splits words as csync2\'s scanner does: "{" glued to a word is part of it, a word may hold ":" but not end with it', () => {
    assert.throws(() => importCsync2('group g{ host a b; key /k; include /x; }'), /line 1: syntax error/);
    const r = importCsync2(`${group('')}\nprefix p { on a:/p; }`.replace('on a:/p', 'on a: /p'));
    assert.deepEqual(r.notes, []);
    assert.throws(() => importCsync2('prefix p { on a:/p; }'), /line 1: syntax error: expected ":"/);
  });

  it('an empty quoted string is no word at all, and a word ends at # (a comment)', () => {
    const r = importCsync2(group('exclude "" *.tmp#comment\n;'));
    assert.match(r.toml, /^exclude = \["\*\.tmp"\]$/m);
  });

  const refused: readonly [string, string, RegExp][] = [
    ['ssl_cert (not a csync2 statement)', 'ssl_cert /etc/x.pem;', /line 1: syntax error: "ssl_cert" cannot start a statement here/],
    ['ignore inside a group (csync2 has it at the top level only)', group('ignore uid;'), /line 1: syntax error: "ignore" is not a group statement/],
    ['a group without a key', 'group g { host a b; include /x; }', /group g has no key/],
    ['a second key', group('key /k2;'), /second key/],
    ['an unknown auto method', group('auto newest;'), /unknown auto setting "newest"/],
    ['an unknown ignore property', 'ignore size;', /unknown ignore property "size"/],
    ['a relative prefix path', 'prefix p { on *: p; }', /"p" is not an absolute path/],
    ['a quote that is never closed', 'group "g {', /quoted string is never closed/],
    ['a truncated file', 'group web {\n host a b;\n', /unexpected end of file/],
    ['an include without a reader', 'config /etc/other.cfg;', /line 1: cannot open included config file "\/etc\/other\.cfg"/],
  ];
  for (const [what, text, error] of refused) {
    it(`refuses ${what}, naming the line`, () => assert.throws(() => importCsync2(text), error));
  }

  it('refuses includes nested more than 10 deep (an include of itself)', () => {
    const read = (): string => 'config /self.cfg;';
    assert.throws(() => importCsync2('config /self.cfg;', { path: '/etc/csync2.cfg', readFile: read }), /nested too deeply/);
  });

  it('reads `host web[12]` as csync2 does, one host literally named so (csync2 has no host lists)', () => {
    const r = importCsync2('group g { host web[12] b; key /k; include /x; }');
    assert.match(r.toml, /^hosts = \["web\[12\]", "b"\]$/m);
    assert.ok(r.notes.some((n) => n.startsWith('line 1: host web[12] cannot be a csync node name')), r.notes.join('\n'));
  });

  it('drops no-cygwin-lowercase with a note, and matches prefix hosts with [!…] as fnmatch does', () => {
    const r = importCsync2(`no-cygwin-lowercase;\n${group('include %p%;')}\nprefix p { on [!a]: /other; on *: /p; }`);
    assert.equal(r.notes[0], 'line 1: no-cygwin-lowercase is dropped: csync runs on Linux only');
    assert.match(r.toml, /^\[prefix\.p\]\nb = "\/other"\ndefault = "\/p"$/m);
  });

  it('notes a relative key when the directory of csync2.cfg is not known', () => {
    const r = importCsync2('group g { host a b; key k; include /x; }');
    assert.ok(r.notes.includes('line 1: key k is relative: write the absolute path (csync2 reads it from the directory of csync2.cfg)'), r.notes.join('\n'));
    assert.ok(r.notes.some((n) => n.includes('does not pass `csync config check` yet: groups.g.key')), r.notes.join('\n'));
  });

  it('notes what still fails the check, such as a host name csync cannot use', () => {
    const r = importCsync2('group g { host web_1! b; key /k; include /x; }');
    assert.ok(r.notes.some((n) => n.startsWith('line 1: host web_1! cannot be a csync node name')), r.notes.join('\n'));
    assert.ok(r.notes.some((n) => n.startsWith('the result does not pass `csync config check` yet: hosts.web_1!')), r.notes.join('\n'));
  });
});
