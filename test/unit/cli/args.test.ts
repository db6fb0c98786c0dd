// parseArgs (cli/args.ts): csync2-style short flags, value flags, subcommands and usage errors.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CsyncError } from '../../../src/core/errors.ts';
import { parseArgs } from '../../../src/cli/args.ts';
import type { Action, Options } from '../../../src/cli/args.ts';

interface Row {
  readonly description: string;
  readonly argv: readonly string[];
  readonly action: Action;
  readonly args?: readonly string[];
  readonly options?: Partial<Options>;
}

const ROWS: readonly Row[] = [
  { description: 'combines -c and -r in -cr', argv: ['-cr'], action: 'check', options: { recursive: true } },
  { description: 'combines -x and -v in -xv', argv: ['-xv'], action: 'check-update', options: { verbose: true, recursive: false } },
  { description: 'combines -r and -x in -rx, in any order', argv: ['-rx', '/data/a'], action: 'check-update', args: ['/data/a'], options: { recursive: true } },
  { description: 'reads -c -u as check-update', argv: ['-c', '-u'], action: 'check-update' },
  { description: 'reads -cu as check-update', argv: ['-cu'], action: 'check-update' },
  { description: 'takes a value after a separate -C', argv: ['-C', '/etc/csync/x.toml', '-u'], action: 'update', options: { config: '/etc/csync/x.toml' } },
  { description: 'takes a value glued to -N', argv: ['-Nweb1', '-c'], action: 'check', options: { node: 'web1' } },
  { description: 'takes a value at the end of a flag cluster', argv: ['-rcNweb2'], action: 'check', options: { node: 'web2', recursive: true } },
  { description: 'splits -G and -P lists on commas, dropping blanks', argv: ['-u', '-G', 'web, db,', '-Pb,c'], action: 'update', options: { groups: ['web', 'db'], peers: ['b', 'c'] } },
  { description: 'reads -D as the state dir', argv: ['-M', '-D', '/tmp/s'], action: 'list-dirty', options: { stateDir: '/tmp/s' } },
  { description: 'reads -d, -q and --json', argv: ['-udq', '--json'], action: 'update', options: { dryRun: true, quiet: true, json: true } },
  { description: 'reads -k FILE as keygen with the file as first arg', argv: ['-k', '/etc/csync/g.key'], action: 'keygen', args: ['/etc/csync/g.key'] },
  { description: 'reads -ii as the daemon', argv: ['-ii'], action: 'daemon' },
  { description: 'reads the daemon subcommand', argv: ['daemon', '-N', 'a'], action: 'daemon', options: { node: 'a' } },
  { description: 'reads the status subcommand', argv: ['status'], action: 'status' },
  { description: 'reads "config check"', argv: ['config', 'check'], action: 'config-check' },
  { description: 'reads "tls init"', argv: ['tls', 'init'], action: 'tls-init' },
  { description: 'reads "trust list"', argv: ['trust', 'list'], action: 'trust-list' },
  { description: 'reads "trust forget X"', argv: ['trust', 'forget', 'web2'], action: 'trust-forget', args: ['web2'] },
  { description: 'reads -m with paths', argv: ['-m', '/data/a', '/data/b'], action: 'mark', args: ['/data/a', '/data/b'] },
  { description: 'reads -f with a path', argv: ['-f', '/data/a'], action: 'force', args: ['/data/a'] },
  { description: 'reads restore with --generation', argv: ['restore', '/data/a', '--generation', '2'], action: 'restore', args: ['/data/a'], options: { generation: 2 } },
  { description: 'reads --allow-mass-delete', argv: ['-x', '--allow-mass-delete'], action: 'check-update', options: { allowMassDelete: true } },
  { description: 'takes everything after -- as paths', argv: ['-m', '--', '-weird-name'], action: 'mark', args: ['-weird-name'] },
  { description: 'lets --help win over any other action, as the help of that action', argv: ['-c', '--help'], action: 'help', args: ['check'] },
  { description: 'reads the help of a subcommand', argv: ['restore', '--help'], action: 'help', args: ['restore'] },
  { description: 'lets -h win too', argv: ['-h'], action: 'help' },
  { description: 'reads --version', argv: ['--version'], action: 'version' },
  { description: 'reads wait with paths and a timeout', argv: ['wait', '/data/a', '--timeout', '2m'], action: 'wait', args: ['/data/a'], options: { timeoutMs: 120_000 } },
  { description: 'reads -u --wait --timeout=500ms', argv: ['-u', '--wait', '--timeout=500ms'], action: 'update', options: { wait: true, timeoutMs: 500 } },
  { description: 'reads status --cluster', argv: ['status', '--cluster'], action: 'status', options: { cluster: true } },
  { description: 'reads a subcommand word later on as a path', argv: ['-m', 'status'], action: 'mark', args: ['status'] },
];

describe('parseArgs accepts', () => {
  for (const row of ROWS) {
    it(row.description, () => {
      const cmd = parseArgs(row.argv);
      assert.equal(cmd.action, row.action);
      assert.deepEqual(cmd.args, row.args ?? []);
      for (const [k, v] of Object.entries(row.options ?? {})) assert.deepEqual(cmd.options[k as keyof Options], v, k);
    });
  }

  it('defaults every option', () => {
    assert.deepEqual(parseArgs(['-c']).options, {
      config: undefined, node: undefined, stateDir: undefined, groups: undefined, peers: undefined, recursive: false, dryRun: false,
      verbose: false, quiet: false, json: false, allowMassDelete: false, generation: undefined, live: false, collect: false, cluster: false, wait: false, timeoutMs: undefined,
    });
  });
});

describe('parseArgs rejects with CSYNC_USAGE', () => {
  const rows: readonly { description: string; argv: readonly string[]; message: RegExp }[] = [
    { description: 'an unknown short flag', argv: ['-cz'], message: /unknown option -z/ },
    { description: 'an unknown long option', argv: ['-c', '--frobnicate'], message: /unknown option "--frobnicate"/ },
    { description: 'two actions', argv: ['-c', '-M'], message: /choose one action, got "check" and "list-dirty"/ },
    { description: 'two actions in one cluster', argv: ['-uf', '/x'], message: /choose one action/ },
    { description: '-m without a path', argv: ['-m'], message: /-m needs at least one PATH/ },
    { description: '-f without a path', argv: ['-rf'], message: /-f needs at least one PATH/ },
    { description: '--wait without -u or -x', argv: ['-c', '--wait'], message: /--wait goes with -u or -x/ },
    { description: 'a timeout that is not a duration', argv: ['wait', '--timeout', 'soon'], message: /--timeout needs a duration/ },
    { description: '--cluster without status', argv: ['-M', '--cluster'], message: /--cluster goes with `status`/ },
    { description: 'restore without a path', argv: ['restore'], message: /^restore needs at least one PATH$/ },
    { description: '--generation without restore', argv: ['-c', '--generation', '1'], message: /--generation goes with restore/ },
    { description: '--generation without a number', argv: ['restore', '/x', '--generation', 'two'], message: /--generation needs a whole number/ },
    { description: '--generation with a negative number', argv: ['restore', '/x', '--generation', '-1'], message: /--generation needs a whole number/ },
    { description: 'a value flag at the end without its value', argv: ['-c', '-C'], message: /option -C needs a value/ },
    { description: 'no action at all', argv: ['-r'], message: /no action given/ },
    { description: 'nothing at all', argv: [], message: /no action given/ },
    { description: 'an unknown command word', argv: ['frobnicate'], message: /unknown command "frobnicate"/ },
    { description: 'an unknown config subcommand', argv: ['config', 'nope'], message: /unknown command "config nope"/ },
    { description: 'a bare "tls"', argv: ['tls'], message: /unknown command "tls"/ },
    { description: 'trust forget without a peer', argv: ['trust', 'forget'], message: /trust forget needs exactly one PEER/ },
    { description: 'trust forget with two peers', argv: ['trust', 'forget', 'a', 'b'], message: /trust forget needs exactly one PEER/ },
  ];
  for (const row of rows) {
    it(row.description, () => {
      assert.throws(
        () => parseArgs(row.argv),
        (e: unknown) => e instanceof CsyncError && e.code === 'CSYNC_USAGE' && row.message.test(e.message) && e.hint !== undefined,
      );
    });
  }
});
