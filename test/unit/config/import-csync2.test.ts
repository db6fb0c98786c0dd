// csync2.cfg → csync TOML: the output parses as a valid csync config and keeps every setting.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { importCsync2 } from '../../../src/config/import-csync2.ts';
import { parseConfig } from '../../../src/config/parse.ts';

const FIXTURE = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../test/fixtures/csync2/web.cfg');

describe('importCsync2', () => {
  const result = importCsync2(readFileSync(FIXTURE, 'utf8'));
  const config = parseConfig(result.toml, 'imported');
  const web = config.groups['web'];

  it('produces a config that csync accepts', () => {
    assert.ok(web);
  });

  it('keeps hosts, addresses after @, and ( ) hosts as receive_only', () => {
    assert.deepEqual(web?.hosts, ['web1', 'web2', 'web3']);
    assert.deepEqual(web?.receiveOnly, ['web3']);
    assert.equal(config.hosts['web1']?.address, '10.0.0.11');
    assert.equal(config.hosts['web2']?.address, 'web2');
  });

  it('keeps include, exclude, key, auto, backups and ignore (mod becomes mode)', () => {
    assert.deepEqual(web?.include, ['/etc/nginx/sites-enabled', '%www%/htdocs']);
    assert.deepEqual(web?.exclude, ['%www%/htdocs/cache', '*~', '.*.swp']);
    assert.equal(web?.keyFile, '/etc/csync2.key_web');
    assert.equal(web?.auto, 'younger');
    assert.equal(web?.backupDir, '/var/backups/csync2');
    assert.equal(web?.backupGenerations, 3);
    assert.deepEqual(web?.ignore, ['uid', 'mode']);
  });

  it('expands prefix host patterns (web[12]) and turns `on *` into default', () => {
    assert.deepEqual(config.prefixes['www'], { web1: '/var/www', web2: '/var/www', default: '/export/www' });
  });

  it('converts actions with pattern, exec, logfile and do-local', () => {
    const [a] = web?.actions ?? [];
    assert.deepEqual(a?.pattern, ['/etc/nginx/sites-enabled/*']);
    assert.equal(a?.exec, 'nginx -t && nginx -s reload');
    assert.equal(a?.logfile, '/var/log/csync2_nginx.log');
    assert.equal(a?.doLocal, true);
  });

  it('names what it could not convert, with the line', () => {
    assert.deepEqual(result.notes, [
      'line 2: top-level "nossl" is not used by csync; dropped',
      'line 21: group web: "tempdir" is not supported by csync; dropped',
    ]);
  });

  it('reports a truncated file with an error instead of a partial config', () => {
    assert.throws(() => importCsync2('group web {\n host a b;\n'), /unexpected end of file/);
  });
});
