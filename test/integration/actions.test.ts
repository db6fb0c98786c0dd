// Actions for real (docs/security.md, docs/daemon.md "Actions"): ChildProcessRunner on /bin/sh in temp dirs, alone and behind
// ActionExecutor with a SQLite file: %% expansion, CSYNC_FILES, stdin, logfile, timeout, and
// hostile file names that must run nothing.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ChildProcessRunner } from '../../src/actions/child-process-runner.ts';
import { ActionExecutor } from '../../src/actions/executor.ts';
import { STDERR_TAIL_BYTES, type ActionCommand } from '../../src/actions/runner.ts';
import { buildActionCommand, MAX_ENV_FILES_LENGTH, shellQuote } from '../../src/actions/select.ts';
import type { ActionConfig, NodeGroup } from '../../src/config/types.ts';
import { manualClock } from '../../src/core/clock.ts';
import { memoryLogger, type LogRecord } from '../../src/core/logger.ts';
import { SqliteStateStore } from '../../src/store/sqlite-store.ts';

const TMP = mkdtempSync(join(tmpdir(), 'csync-actions-it-'));
after(() => rmSync(TMP, { recursive: true, force: true }));
let dirCounter = 0;
/** A fresh directory under TMP. */
const freshDir = (name: string): string => {
  const dir = join(TMP, `${++dirCounter}-${name}`);
  mkdirSync(dir, { recursive: true });
  return dir;
};

const HOSTILE_NAMES = ['x; touch pwned', "it's", 'two  spaces', 'new\nline', '$(touch pwned2)', '`touch pwned3`', '$HOME', '"dq" \\ ü', '-n'];
const PWNED = ['pwned', 'pwned2', 'pwned3'];

const action = (over: Partial<ActionConfig>): ActionConfig => ({
  pattern: ['*'],
  exec: 'true',
  logfile: undefined,
  doLocal: false,
  doLocalOnly: false,
  timeoutMs: 10_000,
  ...over,
});

/** Group "web" with one root %r% at `root`, as this node (n1) sees it. */
const nodeGroup = (root: string, actions: ActionConfig[]): NodeGroup => ({
  config: {
    name: 'web',
    hosts: ['n1', 'n2'],
    receiveOnly: [],
    keyFile: '/k',
    include: ['%r%'],
    exclude: [],
    auto: 'none',
    backupDir: undefined,
    backupGenerations: 0,
    ignore: [],
    watch: true,
    checkIntervalMs: 3_600_000,
    maxDeletePercent: 50,
    actions,
  },
  roots: new Map([['%r%', root]]),
  peers: ['n2'],
  receiveOnly: false,
  keyFile: '/k',
  backupDir: undefined,
});

const command = (over: Partial<ActionCommand>): ActionCommand => ({ commandLine: 'true', env: {}, stdin: '', logfile: undefined, timeoutMs: 10_000, ...over });

/** True when `pid` is gone or a zombie (a container's init may not reap it at once). */
function processGone(pid: number): boolean {
  try {
    return /^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true; // no /proc entry: the process no longer exists
  }
}

/**
 * Whether `pid` is gone within `ms`. A SIGKILLed process that is not our child sends no event we
 * could await, and the kernel finishes killing it (and init reaps it) a moment after the signal:
 * on a loaded machine that moment can outlast the shell's exit, so its state is polled.
 */
async function goneWithin(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!processGone(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
}

describe('ChildProcessRunner', () => {
  it('expands %% to quoted names and passes the same list in CSYNC_FILES and on stdin', async () => {
    const dir = freshDir('expand');
    const out = (f: string) => shellQuote(join(dir, f));
    const files = HOSTILE_NAMES.map((n) => join(dir, n));
    const exec = `printf '%s\\0' %% > ${out('args')}; printf '%s' "$CSYNC_FILES" > ${out('env')}; cat > ${out('stdin')}; printf '%s/%s' "$CSYNC_GROUP" "$CSYNC_NODE" > ${out('ids')}`;
    const cmd = buildActionCommand({ action: action({ exec }), abs: files }, { groupName: 'web', self: 'n1' });
    const result = await new ChildProcessRunner({ cwd: dir }).run(cmd);
    assert.deepEqual({ exitCode: result.exitCode, timedOut: result.timedOut, error: result.error }, { exitCode: 0, timedOut: false, error: undefined });
    assert.deepEqual(readFileSync(join(dir, 'args'), 'utf8').split('\0').slice(0, -1), files);
    assert.equal(readFileSync(join(dir, 'env'), 'utf8'), files.join('\n'));
    assert.equal(readFileSync(join(dir, 'stdin'), 'utf8'), files.map((f) => `${f}\n`).join(''));
    assert.equal(readFileSync(join(dir, 'ids'), 'utf8'), 'web/n1');
    for (const p of PWNED) assert.equal(existsSync(join(dir, p)), false, `${p} must not exist`);
  });

  it('appends stdout and stderr to the logfile, creating its directory, and reports the exit status', async () => {
    const dir = freshDir('logfile');
    const logfile = join(dir, 'nested', 'deeper', 'action.log');
    const runner = new ChildProcessRunner();
    const cmd = command({ commandLine: 'echo "out $CSYNC_NODE"; echo err >&2; exit 3', env: { CSYNC_NODE: 'n1' }, logfile });
    const first = await runner.run(cmd);
    const second = await runner.run(cmd);
    assert.equal(first.exitCode, 3);
    assert.equal(second.exitCode, 3);
    assert.equal(first.stderrTail, '', 'stderr went to the logfile');
    assert.equal(readFileSync(logfile, 'utf8'), 'out n1\nerr\nout n1\nerr\n');
    assert.ok(first.durationMs >= 0 && first.durationMs < 10_000);
  });

  it('without a logfile keeps only the last STDERR_TAIL_BYTES of stderr', async () => {
    const result = await new ChildProcessRunner().run(command({ commandLine: `i=0; while [ $i -lt 500 ]; do echo "line $i of noise" >&2; i=$((i+1)); done; echo END >&2; exit 1` }));
    assert.equal(result.exitCode, 1);
    assert.ok(result.stderrTail.length <= STDERR_TAIL_BYTES && result.stderrTail.length > STDERR_TAIL_BYTES - 40, `tail is ${result.stderrTail.length} bytes`);
    assert.ok(result.stderrTail.endsWith('line 499 of noise\nEND\n'));
  });

  it('kills a hung action and everything it started after timeoutMs', async () => {
    const dir = freshDir('timeout');
    const pidFile = join(dir, 'bg.pid');
    // 1 s leaves the shell time to start the background sleep and write its pid even on a loaded
    // machine (with 200 ms it was sometimes killed before, and there was no pid to check).
    const result = await new ChildProcessRunner().run(command({ commandLine: `sleep 30 & echo $! > ${shellQuote(pidFile)}; sleep 30`, timeoutMs: 1000 }));
    assert.equal(result.timedOut, true);
    assert.equal(result.exitCode, null);
    assert.equal(result.signal, 'SIGKILL');
    assert.ok(result.durationMs >= 990 && result.durationMs < 6000, `took ${result.durationMs} ms`);
    const bgPid = Number(readFileSync(pidFile, 'utf8'));
    assert.ok(await goneWithin(bgPid, 2000), 'the background sleep of the same process group was killed too');
  });

  it('does not wait for a background process that keeps stderr open after the shell exited', async (t) => {
    const dir = freshDir('background');
    const pidFile = join(dir, 'bg.pid');
    const result = await new ChildProcessRunner().run(command({ commandLine: `sleep 30 & echo $! > ${shellQuote(pidFile)}; exit 0` }));
    const bgPid = Number(readFileSync(pidFile, 'utf8'));
    t.after(() => {
      try {
        process.kill(bgPid, 'SIGKILL');
      } catch {
        // already gone: nothing to clean up
      }
    });
    assert.equal(result.exitCode, 0);
    assert.equal(result.timedOut, false);
    assert.ok(result.durationMs < 5000, `took ${result.durationMs} ms`);
  });

  it('survives a command that never reads a large stdin', async () => {
    const result = await new ChildProcessRunner().run(command({ commandLine: 'exit 0', stdin: 'x'.repeat(4 * 1024 * 1024) }));
    assert.equal(result.exitCode, 0);
  });

  it('reports a shell that cannot start as an error result, not an exception', async () => {
    const result = await new ChildProcessRunner({ shell: join(TMP, 'no-such-shell') }).run(command({}));
    assert.equal(result.exitCode, null);
    assert.match(result.error ?? '', /ENOENT/);
  });

  it('reports a %% expansion too long for the kernel as an error result', async () => {
    const files = Array.from({ length: 2000 }, (_, i) => `/srv/${'d'.repeat(100)}/f${i}`);
    const cmd = buildActionCommand({ action: action({ exec: 'echo %% > /dev/null' }), abs: files }, { groupName: 'web', self: 'n1' });
    const result = await new ChildProcessRunner().run(cmd);
    assert.equal(result.exitCode, null);
    assert.match(result.error ?? '', /E2BIG/);
  });

  it('runs a list too long for the environment with CSYNC_FILES unset and the full list on stdin', async () => {
    const files = Array.from({ length: 2000 }, (_, i) => `/srv/${'d'.repeat(100)}/f${i}`);
    assert.ok(files.join('\n').length > MAX_ENV_FILES_LENGTH);
    const dir = freshDir('long-list');
    const exec = `wc -l > ${shellQuote(join(dir, 'count'))}; printf '%s' "\${CSYNC_FILES-unset}" > ${shellQuote(join(dir, 'env'))}`;
    const cmd = buildActionCommand({ action: action({ exec }), abs: files }, { groupName: 'web', self: 'n1' });
    const result = await new ChildProcessRunner({ baseEnv: { ...process.env, CSYNC_FILES: '/stale/from/parent' } }).run(cmd);
    assert.equal(result.exitCode, 0);
    assert.equal(readFileSync(join(dir, 'count'), 'utf8').trim(), '2000');
    assert.equal(readFileSync(join(dir, 'env'), 'utf8'), 'unset');
  });

  it('still runs the command when its logfile cannot be opened, and says why', async () => {
    const dir = freshDir('bad-log');
    writeFileSync(join(dir, 'file'), '');
    const marker = join(dir, 'ran');
    const result = await new ChildProcessRunner().run(command({ commandLine: `touch ${shellQuote(marker)}`, logfile: join(dir, 'file', 'x.log') }));
    assert.equal(result.exitCode, 0);
    assert.match(result.logfileError ?? '', /ENOTDIR|EEXIST/);
    assert.ok(existsSync(marker));
  });
});

describe('ActionExecutor with ChildProcessRunner and a SQLite file', () => {
  it('runs the action once for a batch with hostile names: nothing injected, the names intact', async (t) => {
    const dir = freshDir('executor');
    const root = join(dir, 'root');
    mkdirSync(root);
    for (const n of HOSTILE_NAMES) writeFileSync(join(root, n), n);
    const seen = join(dir, 'seen');
    const logfile = join(dir, 'log', 'action.log');
    // Prints each name given by %% that exists as a file: proves the quoted names arrive whole.
    const exec = `printf '%s\\n' "$CSYNC_FILES" >> ${shellQuote(seen)}; for f in %%; do [ -f "$f" ] && printf '%s\\n' "$f"; done`;
    const group = nodeGroup(root, [
      action({ pattern: ['%r%'], exec, logfile }),
      action({ pattern: ['*.never'], exec: `touch ${shellQuote(join(dir, 'wrong'))}` }),
    ]);
    const store = SqliteStateStore.open(join(dir, 'state.db'));
    t.after(() => store.close());
    const records: LogRecord[] = [];
    const ex = new ActionExecutor({
      store, runner: new ChildProcessRunner({ cwd: root }), groups: () => new Map([['web', group]]), self: 'n1', log: memoryLogger(records), clock: manualClock(),
    });
    const changes = HOSTILE_NAMES.map((n) => ({ logical: `%r%/${n}`, abs: join(root, n) }));
    ex.enqueue('web', changes, 'received');
    await ex.idle();

    const sorted = changes.map((c) => c.abs).sort();
    assert.equal(readFileSync(seen, 'utf8'), `${sorted.join('\n')}\n`, 'ran once, CSYNC_FILES intact');
    for (const p of PWNED) assert.equal(existsSync(join(root, p)), false, `${p} must not exist`);
    assert.equal(existsSync(join(dir, 'wrong')), false, 'the non-matching action did not run');
    assert.equal(readFileSync(logfile, 'utf8'), `${sorted.join('\n')}\n`, 'every file was found by its quoted name');
    assert.deepEqual(store.listPendingActions(), []);
    const done = records.find((r) => r.msg === 'Action finished');
    assert.equal(done?.fields['exitCode'], 0);
    assert.equal(done?.fields['files'], HOSTILE_NAMES.length);
  });

  it('replays a row persisted by a previous process at start', async (t) => {
    const dir = freshDir('replay');
    const file = join(dir, 'state.db');
    const before = SqliteStateStore.open(file);
    before.addPendingAction({ groupName: 'web', actionIndex: 0, paths: [join(dir, 'a b')], createdAtMs: 1 });
    before.close();
    const out = join(dir, 'out');
    const group = nodeGroup(dir, [action({ exec: `printf '%s' %% > ${shellQuote(out)}` })]);
    const store = SqliteStateStore.open(file);
    t.after(() => store.close());
    const ex = new ActionExecutor({ store, runner: new ChildProcessRunner(), groups: () => new Map([['web', group]]), self: 'n1', log: memoryLogger(), clock: manualClock() });
    ex.replayPending();
    await ex.idle();
    assert.equal(readFileSync(out, 'utf8'), join(dir, 'a b'));
    assert.deepEqual(store.listPendingActions(), []);
  });
});
