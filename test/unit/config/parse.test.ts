// Tests parseConfig(): valid fixtures with defaults, and one invalid fixture per problem.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ConfigError, hasCode } from '../../../src/core/errors.ts';
import { parseConfig } from '../../../src/config/parse.ts';
import type { Config } from '../../../src/config/types.ts';

const FIXTURES = new URL('../../../../test/fixtures/config/', import.meta.url);

function fixture(kind: 'valid' | 'invalid', name: string): string {
  return readFileSync(new URL(`${kind}/${name}.toml`, FIXTURES), 'utf8');
}

/** Parses text that must be invalid and returns the ConfigError. */
function parseInvalid(text: string, source = 'test.toml'): ConfigError {
  try {
    parseConfig(text, source);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.ok(hasCode(err, 'CSYNC_CONFIG_INVALID'));
    return err;
  }
  assert.fail('parseConfig accepted an invalid config');
}

interface InvalidCase {
  readonly description: string;
  readonly file: string;
  readonly keyPath: string;
  readonly line: number | undefined;
  readonly message: RegExp;
}

const INVALID_CASES: readonly InvalidCase[] = [
  { description: 'a TOML syntax error, with its position', file: 'syntax-error', keyPath: '(syntax)', line: 11, message: /^invalid TOML: unexpected end of input/ },
  { description: 'an unknown top-level key, with a suggestion', file: 'unknown-top-key', keyPath: 'prot', line: 1, message: /unknown key \(did you mean "port"\?\)/ },
  { description: 'an unknown group key', file: 'unknown-group-key', keyPath: 'groups.web.recieve_only', line: 9, message: /did you mean "receive_only"/ },
  { description: 'a port given as a string', file: 'port-wrong-type', keyPath: 'port', line: 1, message: /must be an integer from 1 to 65535, got "30865"/ },
  { description: 'a relative state_dir', file: 'state-dir-relative', keyPath: 'state_dir', line: 1, message: /must be an absolute path/ },
  { description: 'a group host missing from [hosts]', file: 'host-not-in-hosts', keyPath: 'groups.web.hosts[1]', line: 6, message: /host "web9" is not in \[hosts\]/ },
  { description: 'an upper-case host name', file: 'bad-host-name', keyPath: 'hosts.Web3', line: 5, message: /"Web3" is not a valid host name/ },
  { description: 'a host port out of range', file: 'bad-host-address', keyPath: 'hosts.web2', line: 3, message: /port must be from 1 to 65535, got 99999/ },
  { description: 'a group with one host', file: 'too-few-hosts', keyPath: 'groups.web.hosts', line: 6, message: /at least two hosts, got 1/ },
  { description: 'a receive_only host outside the group', file: 'receive-only-not-member', keyPath: 'groups.web.receive_only[0]', line: 10, message: /"web3" is not in groups\.web\.hosts/ },
  { description: 'a group where every host is receive_only', file: 'receive-only-everyone', keyPath: 'groups.web.receive_only', line: 9, message: /at least one host must be able to originate/ },
  { description: 'a group without key', file: 'missing-key', keyPath: 'groups.web.key', line: 5, message: /is required.*csync -k FILE/ },
  { description: 'a relative include', file: 'include-relative', keyPath: 'groups.web.include[0]', line: 8, message: /"srv\/www" is not absolute/ },
  { description: 'a group without include', file: 'include-missing', keyPath: 'groups.web.include', line: 5, message: /is required/ },
  { description: 'an include using an undefined prefix', file: 'include-unknown-prefix', keyPath: 'groups.web.include[0]', line: 8, message: /prefix "www" is not defined/ },
  { description: 'an include inside another include', file: 'include-nested', keyPath: 'groups.web.include[1]', line: 8, message: /already covered by include "\/srv\/www"/ },
  { description: 'a prefix with no path for a member and no default', file: 'prefix-no-default', keyPath: 'groups.web.include[0]', line: 11, message: /no path for host "web2" and no default/ },
  { description: 'a relative prefix path', file: 'prefix-relative-path', keyPath: 'prefix.www.default', line: 6, message: /must be an absolute path/ },
  { description: 'an unknown auto policy', file: 'auto-unknown', keyPath: 'groups.web.auto', line: 9, message: /must be one of none, first, younger.*got "youngest"/ },
  { description: 'negative backup generations', file: 'backup-generations-negative', keyPath: 'groups.web.backup_generations', line: 10, message: /integer ≥ 0, got integer -1/ },
  { description: 'backup generations without backup_dir', file: 'backup-generations-without-dir', keyPath: 'groups.web.backup_generations', line: 9, message: /needs backup_dir/ },
  { description: 'an unknown ignore attribute', file: 'ignore-unknown', keyPath: 'groups.web.ignore[0]', line: 9, message: /one of uid, gid, mode, got "owner"/ },
  { description: 'watch given as a string', file: 'watch-wrong-type', keyPath: 'groups.web.watch', line: 9, message: /must be a boolean.*got "yes"/ },
  { description: 'check_interval given as a number', file: 'check-interval-bad', keyPath: 'groups.web.check_interval', line: 9, message: /must be a duration.*got integer 3600/ },
  { description: 'max_delete above 100%', file: 'max-delete-out-of-range', keyPath: 'groups.web.max_delete', line: 9, message: /percentage from 0 to 100.*"150%"/ },
  { description: 'an exclude with an unterminated prefix', file: 'exclude-bad-pattern', keyPath: 'groups.web.exclude[0]', line: 9, message: /must start with "%name%"/ },
  { description: 'an action without exec', file: 'action-missing-exec', keyPath: 'groups.web.actions[0].exec', line: 10, message: /is required/ },
  { description: 'an unknown action key', file: 'action-unknown-key', keyPath: 'groups.web.actions[0].command', line: 13, message: /unknown key/ },
  { description: 'actions written as a single table', file: 'actions-not-array', keyPath: 'groups.web.actions', line: 10, message: /array of tables \(write \[\[groups\.web\.actions\]\]\)/ },
  { description: 'a malformed certificate pin', file: 'pin-malformed', keyPath: 'tls.pins.web1', line: 2, message: /"sha256:" followed by 64/ },
  { description: 'a metrics listener on a public address without allow_public', file: 'metrics-public', keyPath: 'metrics.listen', line: 6, message: /"0\.0\.0\.0:9477" is not a loopback address.*allow_public = true/ },
  { description: 'a [metrics] table without listen', file: 'metrics-no-listen', keyPath: 'metrics.listen', line: 5, message: /is required: the address to serve on/ },
  { description: 'a file without groups', file: 'no-groups', keyPath: 'groups', line: undefined, message: /is required/ },
  { description: 'a file without hosts', file: 'hosts-missing', keyPath: 'hosts', line: undefined, message: /is required/ },
];

describe('parseConfig', () => {
  it('reads the full example with every setting', () => {
    const config = parseConfig(fixture('valid', 'spec-example'), 'spec.toml');
    assert.equal(config.source, 'spec.toml');
    assert.deepEqual(config.hosts['web3'], { name: 'web3', address: '10.0.0.13', port: 30866 });
    assert.deepEqual(config.prefixes['www'], { default: '/var/www', web2: '/export/www' });
    const web = config.groups['web'];
    assert.ok(web !== undefined);
    assert.deepEqual(web.receiveOnly, ['web3']);
    assert.deepEqual(web.include, ['/etc/nginx/sites-enabled', '%www%/htdocs']);
    assert.equal(web.auto, 'younger');
    assert.equal(web.checkIntervalMs, 3_600_000);
    assert.deepEqual(web.ignore, ['gid']);
    assert.deepEqual(web.actions[0], {
      pattern: ['/etc/nginx/sites-enabled/*'],
      exec: 'nginx -s reload',
      check: 'nginx -t',
      logfile: '/var/log/csync/nginx.log',
      doLocal: true,
      doLocalOnly: false,
      timeoutMs: 300_000,
    });
  });

  it('accepts csync.example.toml as shipped', () => {
    const text = readFileSync(new URL('../../../csync.example.toml', FIXTURES), 'utf8');
    assert.deepEqual(Object.keys(parseConfig(text, 'csync.example.toml').groups), ['web']);
  });

  it('fills in every default for a minimal file', () => {
    const config = parseConfig(fixture('valid', 'minimal'), 'min.toml');
    assert.equal(config.port, 30865);
    assert.equal(config.stateDir, '/var/lib/csync');
    assert.deepEqual(config.tls, { cert: '/etc/csync/tls/%h.crt', key: '/etc/csync/tls/%h.key', pins: {}, requirePins: false });
    const web = config.groups['web'];
    assert.ok(web !== undefined);
    assert.deepEqual(
      { ...web, actions: web.actions.length },
      {
        name: 'web', hosts: ['web1', 'web2'], receiveOnly: [], keyFile: '/etc/csync/web.key', include: ['/srv/www'],
        exclude: [], auto: 'none', backupDir: undefined, backupGenerations: 0, ignore: [], watch: false,
        checkIntervalMs: 3_600_000, maxDeletePercent: 50, allowSetid: false, actions: 0,
      },
    );
  });

  it('reads IPv6 hosts, a custom default port, percentages, compound durations and single-string patterns', () => {
    const config = parseConfig(fixture('valid', 'ipv6-and-prefixes'), 'v6.toml');
    assert.deepEqual(config.hosts['node-a'], { name: 'node-a', address: 'fd00::13', port: 30866 });
    assert.deepEqual(config.hosts['node-b'], { name: 'node-b', address: 'fd00::14', port: 31000 });
    const data = config.groups['data'];
    assert.ok(data !== undefined);
    assert.equal(data.maxDeletePercent, 25);
    assert.equal(data.checkIntervalMs, 5_400_000);
    assert.equal(data.backupGenerations, 3, 'backup_dir without backup_generations keeps 3');
    assert.deepEqual(data.actions.map((a) => [a.pattern, a.doLocalOnly, a.timeoutMs]), [
      [['%data%/shared/*.conf'], true, 30_000],
      [['/tmp/csync-demo/%h/etc/**'], false, 300_000],
    ]);
  });

  it('reads [metrics]: off when absent, loopback by default, a public address only with allow_public', () => {
    const base = fixture('valid', 'minimal');
    assert.equal(parseConfig(base, 'm.toml').metrics, undefined, 'off when absent');
    const withMetrics = (lines: string): Config['metrics'] => parseConfig(`${base}\n${lines}\n`, 'm.toml').metrics;
    assert.deepEqual(withMetrics('[metrics]\nlisten = "127.0.0.1:9477"'), { host: '127.0.0.1', port: 9477, allowPublic: false });
    assert.deepEqual(withMetrics('[metrics]\nlisten = "localhost"'), { host: 'localhost', port: 9477, allowPublic: false }, 'default port');
    assert.deepEqual(withMetrics('[metrics]\nlisten = "[::1]:9100"'), { host: '::1', port: 9100, allowPublic: false });
    assert.deepEqual(withMetrics('[metrics]\nlisten = "10.0.0.11:9477"\nallow_public = true'), { host: '10.0.0.11', port: 9477, allowPublic: true });
    for (const listen of ['10.0.0.11:9477', '[::]:9477', 'metrics.example.com:9477', '128.0.0.1']) {
      assert.throws(() => withMetrics(`[metrics]\nlisten = "${listen}"`), (err: ConfigError) => err.issues.some((i) => i.keyPath === 'metrics.listen' && /not a loopback address/.test(i.message)), listen);
    }
  });

  describe('rejects invalid files with the key path and line of the problem', () => {
    for (const row of INVALID_CASES) {
      it(`rejects ${row.description} (${row.file}.toml)`, () => {
        const err = parseInvalid(fixture('invalid', row.file), `${row.file}.toml`);
        const issue = err.issues.find((i) => i.keyPath === row.keyPath);
        assert.ok(issue !== undefined, `no issue at ${row.keyPath}; got ${JSON.stringify(err.issues)}`);
        assert.match(issue.message, row.message);
        assert.equal(issue.line, row.line);
        assert.equal(err.source, `${row.file}.toml`);
      });
    }
  });

  it('reports every problem of a file at once, ordered by line', () => {
    const err = parseInvalid(fixture('invalid', 'many-problems'), 'many.toml');
    assert.deepEqual(
      err.issues.map((i) => [i.line, i.keyPath]),
      [
        [1, 'port'],
        [2, 'colour'],
        [6, 'hosts.db 2'],
        [9, 'groups.web.hosts[1]'],
        [10, 'groups.web.key'],
        [12, 'groups.web.backup_generations'],
      ],
    );
    assert.equal(err.message, 'config many.toml has 6 problems');
    assert.match(err.issues[5]?.message ?? '', /must be an integer ≥ 0, got "three"/);
  });

  it('gives a syntax error its column', () => {
    const err = parseInvalid('[hosts]\nweb1 = 10.0.0.1\n');
    assert.equal(err.issues.length, 1);
    assert.equal(err.issues[0]?.line, 2);
    assert.equal(typeof err.issues[0]?.column, 'number');
  });

  it('does not report a host with a bad address a second time where a group lists it', () => {
    const err = parseInvalid(fixture('invalid', 'bad-host-address'));
    assert.deepEqual(err.issues.map((i) => i.keyPath), ['hosts.web2']);
  });
});
