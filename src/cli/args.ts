// Command-line parsing: argv → a Command value. Pure; csync2's short flags keep their meaning.
import { CsyncError } from '../core/errors.ts';

/** The action a command line asks for. */
export type Action =
  | 'check' | 'update' | 'check-update' | 'mark' | 'force' | 'list-dirty' | 'list-db' | 'compare' | 'remove-stale'
  | 'keygen' | 'daemon' | 'status' | 'tls-init' | 'tls-pin' | 'tls-pins' | 'trust-list' | 'trust-forget' | 'restore' | 'demo' | 'config-check'
  | 'import-csync2' | 'wait' | 'help' | 'version';

/** Options shared by every action. */
export interface Options {
  readonly config: string | undefined;
  readonly node: string | undefined;
  readonly stateDir: string | undefined;
  readonly groups: readonly string[] | undefined;
  readonly peers: readonly string[] | undefined;
  readonly recursive: boolean;
  readonly dryRun: boolean;
  readonly verbose: boolean;
  readonly quiet: boolean;
  readonly json: boolean;
  readonly allowMassDelete: boolean;
  readonly generation: number | undefined;
  /** demo: keep running daemons (live mode) */
  readonly live: boolean;
  /** tls pins: dial every peer to see its certificate (else only known pins are printed) */
  readonly collect: boolean;
  /** status: ask every peer for its summary too (the fleet table) */
  readonly cluster: boolean;
  /** -u/-x: then wait until every peer holds this node's version (as `csync wait`) */
  readonly wait: boolean;
  /** wait, --wait, status --cluster: give up after this many ms */
  readonly timeoutMs: number | undefined;
}

/** A parsed command line. */
export interface Command {
  readonly action: Action;
  readonly args: readonly string[];
  readonly options: Options;
}

const SHORT_ACTIONS: Readonly<Record<string, Action>> = {
  c: 'check', u: 'update', x: 'check-update', m: 'mark', f: 'force', M: 'list-dirty', L: 'list-db', T: 'compare', R: 'remove-stale',
};
const SUBCOMMANDS: Readonly<Record<string, Action>> = {
  daemon: 'daemon', status: 'status', restore: 'restore', wait: 'wait', demo: 'demo', help: 'help', version: 'version', 'import-csync2': 'import-csync2',
};
const VALUE_FLAGS = new Set(['C', 'N', 'D', 'G', 'P', 'k']);

/** Usage text printed by `csync --help` and after usage errors. */
export const USAGE = `usage: csync [options] -c|-u|-x|-m|-f [-r] [PATH…]
       csync -M | -L | -T [PATH] | -R | -k FILE | -ii
       csync daemon | status [--cluster] | wait [PATH…] [--timeout 30s] | demo [--live] | config check
       csync tls init | tls pin | tls pins [--collect]
       csync trust list | trust forget PEER
       csync restore PATH [--generation N]    csync import-csync2 /etc/csync2.cfg > csync.toml

  -c  check: scan, record changes, mark them dirty      -u  update: send dirty entries to peers
  -x  check, then update (cron and hook command)        -m  mark PATH dirty for every peer
  -f  force: this node's version of PATH wins           -M  list dirty entries (exit 2 if none)
  -L  list the state database (exit 2 if empty)         -T  compare files with every peer
  -R  drop rows of paths no longer in any group         -k FILE  write a new group key
  -ii run the daemon (same as \`csync daemon\`)

options: -r recursive  -C PATH config  -N NAME node  -D DIR state dir  -G g1,g2 groups  -P p1,p2 peers
         -d dry run  -v verbose  -q quiet  --json  --allow-mass-delete  --wait (with -u/-x)  --timeout T
exit: 0 ok, 1 failures/conflicts, 2 nothing listed, 64 usage, 69 no peer reachable, 77 auth, 78 config
\`csync COMMAND --help\` (e.g. \`csync -u --help\`): that command's options and exit statuses; man csync`;

/** What `csync COMMAND --help` prints: usage, what it does, its options, its exit statuses. */
export const COMMAND_HELP: Readonly<Partial<Record<Action, string>>> = {
  check: `usage: csync -c [-r] [-G GROUPS] [-d] [-v] [PATH…]
Scans the roots (or PATHs; -r below them too), records what changed and marks it dirty for every
peer. Nothing is sent: \`csync -u\` does that. A PATH may be real or as csync prints it (%prefix%/…);
one that neither exists nor was recorded is a usage error.
  -r recursive  -G only these groups  -d dry run: print what would be recorded  -v say why each changed
exit: 0 ok, 1 some entries could not be read or a group halted (safety rail), 64 usage, 78 config`,
  update: `usage: csync -u [-G GROUPS] [-P PEERS] [-d] [--allow-mass-delete] [--json] [PATH…]
Sends dirty entries to every peer (or those of -P), concurrently; one line per peer.
exit: 0 all delivered, 1 some peers or entries failed or conflicts remain, 69 no peer could be
reached, 77 a peer failed authentication, 64 unknown group or peer, 78 config`,
  'check-update': `usage: csync -x [-G GROUPS] [-P PEERS] [--allow-mass-delete] [PATH…]
Check (-c -r), then update (-u) the same paths: the cron and hook command.
exit: as -u, or 1 when the check found problems and the update succeeded`,
  mark: `usage: csync -m [-r] PATH…
Marks PATH dirty for every peer, changed or not (a hook after writing a file: \`csync -m F && csync -u\`).
A deleted PATH that csync recorded is marked as a deletion. exit: 0, 64 unknown path`,
  force: `usage: csync -f [-r] PATH…
Makes this node's version of PATH win: known conflicting versions are superseded and the next
\`csync -u\` overwrites the peers (their version is kept as a backup or loser copy). exit: 0, 64`,
  'list-dirty': `usage: csync -M [-v] [--json]
Lists dirty entries: \`force|chary<TAB>peer<TAB>path[<TAB>conflict]\`. chary: sent only if the peer
has not changed it meanwhile (a conflict otherwise); force: this node's version wins (-f). Also
\`held<TAB>peer<TAB>path<TAB>conflict\` for conflicts kept here and \`refused<TAB>*<TAB>"path"\` for
names csync cannot carry. -v adds the last error. exit: 0, 2 nothing listed`,
  'list-db': `usage: csync -L [--json]
Lists every recorded state as \`kind:hash:size:mode:uid:gid:mtime@version<TAB>path\`. exit: 0, 2 empty`,
  compare: `usage: csync -T [-P PEERS] [PATH…]
Compares the real files with every peer: \`X\` both differ, \`L\` only here, \`R\` only there.
exit: 0 in sync, 1 differences (or some peers not compared), 69 no peer reachable, 77 auth`,
  'remove-stale': `usage: csync -R [-d]
Forgets recorded rows of paths no group of this node holds any more, and dirty entries toward a
node that no longer shares them (a node removed from a group). exit: 0`,
  restore: `usage: csync restore PATH [--generation N]
Puts a backup generation of PATH back as a local change (0 = the newest backup); then \`csync -u\`
sends it. exit: 0, 64 no such path or generation`,
  wait: `usage: csync wait [PATH…] [-G GROUPS] [-P PEERS] [--timeout 30s]
Returns once every peer of the selected groups holds this node's recorded version of PATHs (all
when none), sending what is still dirty itself (or through the running daemon). Record changes
first: \`csync -m F && csync -u --wait\` (or \`csync -x --wait\`) is the usual form in a deploy script.
exit: 0 converged, 1 timed out (a line per lagging peer: what it lacks and why), 69 no peer could
be asked, 64 unknown path, group or peer`,
  status: `usage: csync status [--cluster [--timeout 5s]] [--json]
This node: its daemon, each group (halted ones with the override) and peer (link, last sync, dirty,
conflicts), conflicts held, refused names, and what needs attention. --cluster: one row per node
of the fleet, each peer asked over the authenticated link (an unreachable peer is a row saying so).
exit: 0 healthy, 1 needs attention (conflicts, a halted group, failing entries, refused names),
69 no daemon running for this state dir`,
  daemon: `usage: csync daemon   (or csync -ii)
Serves peers, watches the roots, pushes changes, runs actions; see systemd/csync.service.
Reloads its config on SIGHUP. exit: 0 stopped, 75 another daemon holds the state dir, 74 address
in use, 78 config`,
  'import-csync2': `usage: csync import-csync2 /etc/csync2.cfg > /etc/csync/csync.toml
Converts a csync2 configuration; notes on standard error name each line not carried over.
exit: 0, 64 unreadable file, 78 a file csync2 itself would refuse`,
};

/** A duration as csync reads it on the command line: 30s, 2m, 500ms, 1h, or plain seconds. */
export function parseTimeout(v: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const ms = n * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const)[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return Number.isFinite(ms) && ms > 0 ? Math.round(ms) : undefined;
}

function usage(message: string): CsyncError {
  return new CsyncError('CSYNC_USAGE', message, { hint: 'run `csync --help` for the usage' });
}

interface Draft {
  actions: Action[];
  args: string[];
  opts: { -readonly [K in keyof Options]: Options[K] };
  keyFile?: string;
}

/** Parses argv (without node and script). Throws CsyncError('CSYNC_USAGE') on any mistake. */
export function parseArgs(argv: readonly string[]): Command {
  const d: Draft = {
    actions: [],
    args: [],
    opts: {
      config: undefined, node: undefined, stateDir: undefined, groups: undefined, peers: undefined, recursive: false, dryRun: false,
      verbose: false, quiet: false, json: false, allowMassDelete: false, generation: undefined, live: false, collect: false, cluster: false, wait: false, timeoutMs: undefined,
    },
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') {
      d.args.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('--')) i = longOption(d, a, argv, i);
    else if (a === '-ii') d.actions.push('daemon');
    else if (a.startsWith('-') && a.length > 1) i = shortFlags(d, a, argv, i);
    else if (d.actions.length === 0 && d.args.length === 0 && a in SUBCOMMANDS) d.actions.push(SUBCOMMANDS[a] as Action);
    else if (d.actions.length === 0 && d.args.length === 0 && (a === 'config' || a === 'tls' || a === 'trust')) i = twoWord(d, a, argv, i);
    else d.args.push(a);
  }
  return finish(d);
}

function twoWord(d: Draft, a: string, argv: readonly string[], i: number): number {
  const sub = argv[i + 1];
  const map: Record<string, Action | undefined> = { 'config check': 'config-check', 'tls init': 'tls-init', 'tls pin': 'tls-pin', 'tls pins': 'tls-pins', 'trust list': 'trust-list', 'trust forget': 'trust-forget' };
  const action = map[`${a} ${sub ?? ''}`];
  if (action === undefined) throw usage(`unknown command ${JSON.stringify(`${a} ${sub ?? ''}`.trim())}`);
  d.actions.push(action);
  return i + 1;
}

function longOption(d: Draft, a: string, argv: readonly string[], i: number): number {
  const flags: Record<string, () => void> = {
    '--json': () => (d.opts.json = true),
    '--dry-run': () => (d.opts.dryRun = true),
    '--verbose': () => (d.opts.verbose = true),
    '--quiet': () => (d.opts.quiet = true),
    '--recursive': () => (d.opts.recursive = true),
    '--allow-mass-delete': () => (d.opts.allowMassDelete = true),
    '--live': () => (d.opts.live = true),
    '--collect': () => (d.opts.collect = true),
    '--cluster': () => (d.opts.cluster = true),
    '--wait': () => (d.opts.wait = true),
    '--help': () => d.actions.push('help'),
    '--version': () => d.actions.push('version'),
  };
  const flag = flags[a];
  if (flag) {
    flag();
    return i;
  }
  if (a === '--timeout' || a.startsWith('--timeout=')) {
    const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[i + 1];
    const ms = v === undefined ? undefined : parseTimeout(v);
    if (ms === undefined) throw usage('--timeout needs a duration: 30s, 2m, 500ms or plain seconds');
    d.opts.timeoutMs = ms;
    return a.includes('=') ? i : i + 1;
  }
  if (a === '--generation') {
    const v = argv[i + 1];
    const n = Number(v);
    if (v === undefined || !Number.isInteger(n) || n < 0) throw usage('--generation needs a whole number ≥ 0');
    d.opts.generation = n;
    return i + 1;
  }
  throw usage(`unknown option ${JSON.stringify(a)}`);
}

function shortFlags(d: Draft, a: string, argv: readonly string[], i: number): number {
  for (let j = 1; j < a.length; j++) {
    const f = a[j] as string;
    if (VALUE_FLAGS.has(f)) {
      const rest = a.slice(j + 1);
      const value = rest !== '' ? rest : argv[++i];
      if (value === undefined || value === '') throw usage(`option -${f} needs a value`);
      setValue(d, f, value);
      return i;
    }
    const action = SHORT_ACTIONS[f];
    if (action) d.actions.push(action);
    else if (f === 'r') d.opts.recursive = true;
    else if (f === 'd') d.opts.dryRun = true;
    else if (f === 'v') d.opts.verbose = true;
    else if (f === 'q') d.opts.quiet = true;
    else if (f === 'h') d.actions.push('help');
    else throw usage(`unknown option -${f}`);
  }
  return i;
}

function setValue(d: Draft, f: string, value: string): void {
  const list = (): string[] => value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (f === 'C') d.opts.config = value;
  else if (f === 'N') d.opts.node = value;
  else if (f === 'D') d.opts.stateDir = value;
  else if (f === 'G') d.opts.groups = list();
  else if (f === 'P') d.opts.peers = list();
  else {
    d.actions.push('keygen');
    d.keyFile = value;
  }
}

function finish(d: Draft): Command {
  const actions = [...new Set(d.actions)];
  // `csync restore --help`, `csync -T -h`: the help of that command.
  if (actions.includes('help')) return { action: 'help', args: actions.filter((a) => a !== 'help' && a !== 'version').slice(0, 1), options: d.opts };
  if (actions.includes('version')) return { action: 'version', args: [], options: d.opts };
  let action: Action | undefined = actions[0];
  if (actions.length === 2 && actions.includes('check') && actions.includes('update')) action = 'check-update';
  else if (actions.length > 1) throw usage(`choose one action, got ${actions.map((x) => JSON.stringify(x)).join(' and ')}`);
  if (action === undefined) throw usage(d.args.length ? `unknown command ${JSON.stringify(d.args[0])}` : 'no action given');
  const args = action === 'keygen' ? [d.keyFile as string, ...d.args] : d.args;
  if ((action === 'mark' || action === 'force' || action === 'restore') && args.length === 0) throw usage(`${action === 'restore' ? 'restore' : `-${action[0]}`} needs at least one PATH`);
  if (action === 'trust-forget' && args.length !== 1) throw usage('trust forget needs exactly one PEER');
  if (action === 'import-csync2' && args.length !== 1) throw usage('import-csync2 needs the path of a csync2.cfg');
  if (d.opts.generation !== undefined && action !== 'restore') throw usage('--generation goes with restore');
  if (d.opts.collect && action !== 'tls-pins') throw usage('--collect goes with `tls pins`');
  if (d.opts.cluster && action !== 'status') throw usage('--cluster goes with `status`');
  if (d.opts.wait && action !== 'update' && action !== 'check-update') throw usage('--wait goes with -u or -x (or use `csync wait`)');
  if (d.opts.timeoutMs !== undefined && !d.opts.wait && action !== 'wait' && !(action === 'status' && d.opts.cluster)) throw usage('--timeout goes with `wait`, --wait or `status --cluster`');
  return { action, args, options: d.opts };
}
