// Unit tests for the pure action selection and command building (docs/security.md, docs/daemon.md "Actions").
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ActionConfig, GroupConfig } from '../../../src/config/types.ts';
import {
  buildActionCommand,
  expandExec,
  MAX_ENV_FILES_LENGTH,
  selectActions,
  shellQuote,
  type ActionChange,
  type ActionOrigin,
} from '../../../src/actions/select.ts';

const action = (over: Partial<ActionConfig>): ActionConfig => ({
  pattern: ['*'],
  exec: 'true',
  logfile: undefined,
  doLocal: false,
  doLocalOnly: false,
  timeoutMs: 300_000,
  ...over,
});

const group = (actions: ActionConfig[]): GroupConfig => ({
  name: 'web',
  hosts: ['a', 'b'],
  receiveOnly: [],
  keyFile: '/etc/csync/web.key',
  include: ['%www%/htdocs'],
  exclude: [],
  auto: 'none',
  backupDir: undefined,
  backupGenerations: 0,
  ignore: [],
  watch: true,
  checkIntervalMs: 3_600_000,
  maxDeletePercent: 50,
  actions,
});

const change = (rel: string): ActionChange => ({ logical: `%www%/htdocs/${rel}`, abs: `/srv/www/htdocs/${rel}` });
const C_CSS = change('css/site.css');
const C_CSS2 = change('css/print.css');
const C_HTML = change('index.html');
const C_CONF = change('conf/nginx.conf');

const A_CSS = action({ pattern: ['*.css'], exec: 'css %%' });
const A_ANCHORED = action({ pattern: ['%www%/htdocs/conf'], exec: 'reload' });
const A_LOCAL = action({ pattern: ['*.html'], exec: 'local', doLocal: true });
const A_LOCAL_ONLY = action({ pattern: ['*'], exec: 'only-here', doLocalOnly: true });
const A_NEGATED = action({ pattern: ['*.css', '!print.css'], exec: 'neg' });

describe('selectActions', () => {
  const rows: { description: string; actions: ActionConfig[]; changes: ActionChange[]; origin: ActionOrigin; expected: [number, string[]][] }[] = [
    {
      description: 'a received batch runs an unanchored pattern matching the last component',
      actions: [A_CSS],
      changes: [C_HTML, C_CSS],
      origin: 'received',
      expected: [[0, [C_CSS.abs]]],
    },
    {
      description: 'an anchored %prefix% pattern selects everything beneath the directory',
      actions: [A_CSS, A_ANCHORED],
      changes: [C_CONF, C_HTML],
      origin: 'received',
      expected: [[1, [C_CONF.abs]]],
    },
    {
      description: 'nothing is selected when no pattern matches',
      actions: [A_CSS, A_ANCHORED],
      changes: [C_HTML],
      origin: 'received',
      expected: [],
    },
    {
      description: 'a received batch skips do_local_only but runs do_local actions',
      actions: [A_LOCAL, A_LOCAL_ONLY],
      changes: [C_HTML],
      origin: 'received',
      expected: [[0, [C_HTML.abs]]],
    },
    {
      description: 'a local batch runs only do_local and do_local_only actions',
      actions: [A_CSS, A_LOCAL, A_LOCAL_ONLY],
      changes: [C_CSS, C_HTML],
      origin: 'local',
      expected: [[1, [C_HTML.abs]], [2, [C_CSS.abs, C_HTML.abs]]],
    },
    {
      description: 'each action appears once per batch with de-duplicated, sorted paths',
      actions: [A_CSS],
      changes: [C_CSS, C_CSS2, C_CSS, C_HTML],
      origin: 'received',
      expected: [[0, [C_CSS2.abs, C_CSS.abs].sort()]],
    },
    {
      description: 'a ! pattern deselects a path, last match wins',
      actions: [A_NEGATED],
      changes: [C_CSS, C_CSS2],
      origin: 'received',
      expected: [[0, [C_CSS.abs]]],
    },
    {
      description: 'an empty batch selects nothing',
      actions: [A_LOCAL_ONLY, A_CSS],
      changes: [],
      origin: 'local',
      expected: [],
    },
  ];
  for (const row of rows) {
    it(row.description, () => {
      const got = selectActions(group(row.actions), row.changes, row.origin);
      assert.deepEqual(got.map((s) => [s.actionIndex, s.abs]), row.expected);
      for (const s of got) assert.equal(s.action, row.actions[s.actionIndex]);
    });
  }
});

/** Hostile file names: each must come out of `sh -c "printf '%s\n' <quoted>"` byte for byte. */
const HOSTILE = [
  'x; touch pwned',
  "it's",
  "''",
  'two  spaces',
  'new\nline',
  '$(touch pwned)',
  '`touch pwned`',
  '$HOME',
  '$&',
  '\\n',
  '"double"',
  '-rf',
  'a|b&c>d<e',
  '*',
  'ünïcødé €',
];

describe('shellQuote', () => {
  it('wraps a word in single quotes and writes each quote as \'\\\'\'', () => {
    assert.equal(shellQuote("it's"), `'it'\\''s'`);
    assert.equal(shellQuote(''), `''`);
    assert.equal(shellQuote('x; touch pwned'), `'x; touch pwned'`);
  });

  it('leaves nothing outside single quotes but escaped quotes, for every hostile name', () => {
    for (const name of HOSTILE) {
      const quoted = shellQuote(name);
      // Only single-quoted runs and \' escapes, end to end: nothing the shell would interpret.
      assert.match(quoted, /^(?:'[^']*'|\\')+$/, JSON.stringify(name));
      assert.equal(quoted.replace(/'([^']*)'|\\(')/g, '$1$2'), name, 'unquoting gives the name back');
    }
  });
});

describe('expandExec', () => {
  it('replaces every %% with the space-separated quoted paths', () => {
    assert.equal(expandExec('cp %% /dst && ls %%', ['/a b', "/c'd"]), `cp '/a b' '/c'\\''d' /dst && ls '/a b' '/c'\\''d'`);
  });

  it('inserts $& and $1 literally (no replacement patterns)', () => {
    assert.equal(expandExec('echo %%', ['/x$&y', '/$1']), `echo '/x$&y' '/$1'`);
  });

  it('leaves a command without %% unchanged', () => {
    assert.equal(expandExec('systemctl reload nginx', ['/a']), 'systemctl reload nginx');
  });
});

describe('buildActionCommand', () => {
  const ctx = { groupName: 'web', self: 'node1' };

  it('puts the list in CSYNC_FILES and on stdin, and names the group and node', () => {
    const cmd = buildActionCommand({ action: action({ exec: 'run %%', logfile: '/var/log/a.log', timeoutMs: 1234 }), abs: ['/a', '/b c'] }, ctx);
    assert.equal(cmd.commandLine, `run '/a' '/b c'`);
    assert.deepEqual(cmd.env, { CSYNC_GROUP: 'web', CSYNC_NODE: 'node1', CSYNC_FILES: '/a\n/b c' });
    assert.equal(cmd.stdin, '/a\n/b c\n');
    assert.equal(cmd.logfile, '/var/log/a.log');
    assert.equal(cmd.timeoutMs, 1234);
  });

  it('leaves CSYNC_FILES unset when the list exceeds the environment limit, keeping stdin complete', () => {
    const many = Array.from({ length: 2000 }, (_, i) => `/srv/www/htdocs/${'d'.repeat(60)}/file-${i}`);
    assert.ok(many.join('\n').length > MAX_ENV_FILES_LENGTH);
    const cmd = buildActionCommand({ action: action({ exec: 'xargs' }), abs: many }, ctx);
    assert.equal(cmd.env['CSYNC_FILES'], undefined);
    assert.equal(cmd.stdin.split('\n').length, many.length + 1);
  });
});
