// Unit tests for ActionExecutor: RecordingRunner + a real ':memory:' SqliteStateStore (docs/daemon.md, "Actions").
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ActionExecutor } from '../../../src/actions/executor.ts';
import { okResult, RecordingRunner, type ActionCommand, type ActionResult } from '../../../src/actions/runner.ts';
import type { ActionConfig, NodeGroup } from '../../../src/config/types.ts';
import { manualClock } from '../../../src/core/clock.ts';
import { memoryLogger, type LogRecord } from '../../../src/core/logger.ts';
import { SqliteStateStore } from '../../../src/store/sqlite-store.ts';

const T0_MS = 1_700_000_000_000;

const action = (over: Partial<ActionConfig>): ActionConfig => ({
  pattern: ['*'],
  exec: 'true',
  logfile: undefined,
  doLocal: false,
  doLocalOnly: false,
  timeoutMs: 300_000,
  ...over,
});

const A_CSS = action({ pattern: ['*.css'], exec: 'css %%' });
const A_HTML = action({ pattern: ['*.html'], exec: 'html %%', doLocal: true });

const nodeGroup = (actions: ActionConfig[]): NodeGroup => ({
  config: {
    name: 'web',
    hosts: ['n1', 'n2'],
    receiveOnly: [],
    keyFile: '/k',
    include: ['%www%'],
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
  roots: new Map([['%www%', '/srv/www']]),
  peers: ['n2'],
  receiveOnly: false,
  keyFile: '/k',
  backupDir: undefined,
});

const change = (rel: string) => ({ logical: `%www%/${rel}`, abs: `/srv/www/${rel}` });
const C_A_CSS = change('a.css');
const C_B_CSS = change('b.css');
const C_INDEX = change('index.html');

/** A promise with its resolve function exposed (Node 20 has no Promise.withResolvers). */
function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

const failed = (exitCode: number): ActionResult => ({ ...okResult(12), exitCode, stderrTail: 'boom\n' });

describe('ActionExecutor', () => {
  let store: SqliteStateStore;
  let records: LogRecord[];
  let groups: Map<string, NodeGroup>;

  beforeEach(() => {
    store = SqliteStateStore.open(':memory:');
    records = [];
    groups = new Map([['web', nodeGroup([A_CSS, A_HTML])]]);
  });
  afterEach(() => store.close());

  const executor = (runner: RecordingRunner): ActionExecutor =>
    new ActionExecutor({ store, runner, groups: () => groups, self: 'n1', log: memoryLogger(records), clock: manualClock(T0_MS) });

  it('persists the row before the command runs and removes it after it finished', async () => {
    let seenDuringRun: unknown;
    const runner = new RecordingRunner((_cmd, i) => {
      if (i === 0) seenDuringRun = store.listPendingActions().map((r) => ({ ...r, id: 0 }));
      return okResult(5);
    });
    const ex = executor(runner);
    ex.enqueue('web', [C_B_CSS, C_INDEX, C_A_CSS], 'received');
    await ex.idle();
    assert.deepEqual(seenDuringRun, [
      { id: 0, groupName: 'web', actionIndex: 0, paths: [C_A_CSS.abs, C_B_CSS.abs], createdAtMs: T0_MS },
      { id: 0, groupName: 'web', actionIndex: 1, paths: [C_INDEX.abs], createdAtMs: T0_MS },
    ]);
    assert.deepEqual(store.listPendingActions(), []);
    assert.deepEqual(runner.calls.map((c) => c.commandLine), [`css '/srv/www/a.css' '/srv/www/b.css'`, `html '/srv/www/index.html'`]);
    assert.deepEqual(runner.calls[0]?.env, { CSYNC_GROUP: 'web', CSYNC_NODE: 'n1', CSYNC_FILES: '/srv/www/a.css\n/srv/www/b.css' });
  });

  it('runs check, then exec, then verify, each with the same files', async () => {
    groups = new Map([['web', nodeGroup([action({ pattern: ['*.conf'], check: 'nginx -t', exec: 'nginx -s reload', verify: 'probe %%' })])]]);
    const runner = new RecordingRunner(() => okResult(3));
    const ex = executor(runner);
    ex.enqueue('web', [change('a.conf')], 'received');
    await ex.idle();
    assert.deepEqual(runner.calls.map((c) => c.commandLine), ['nginx -t', 'nginx -s reload', `probe '/srv/www/a.conf'`]);
    for (const call of runner.calls) assert.equal(call.stdin, '/srv/www/a.conf\n');
    assert.deepEqual(records.filter((r) => r.level === 'info').map((r) => r.msg), ['Action check passed', 'Action finished', 'Action verified']);
  });

  it('does not run exec when check fails (no reload of a config the check refuses), and says so', async () => {
    groups = new Map([['web', nodeGroup([action({ pattern: ['*.conf'], check: 'nginx -t', exec: 'nginx -s reload', verify: 'probe' })])]]);
    const runner = new RecordingRunner((cmd) => (cmd.commandLine === 'nginx -t' ? failed(1) : okResult()));
    const ex = executor(runner);
    ex.enqueue('web', [change('bad.conf')], 'received');
    await ex.idle();
    assert.deepEqual(runner.calls.map((c) => c.commandLine), ['nginx -t']);
    const warn = records.find((r) => r.msg === 'Action check failed; exec not run');
    assert.deepEqual(warn?.fields, { group: 'web', action: 'nginx -s reload', check: 'nginx -t', files: 1, code: 'CSYNC_ACTION_FAILED' });
    assert.ok(records.some((r) => r.msg === 'Action check failed' && r.fields.stderr === 'boom\n'), 'the check\'s own output is logged');
    assert.deepEqual(store.listPendingActions(), [], 'the row is done: a failed check is not retried in a loop');
  });

  it('reports a failed verify', async () => {
    groups = new Map([['web', nodeGroup([action({ pattern: ['*.conf'], exec: 'nginx -s reload', verify: 'probe' })])]]);
    const ex = executor(new RecordingRunner((cmd) => (cmd.commandLine === 'probe' ? failed(7) : okResult())));
    ex.enqueue('web', [change('a.conf')], 'received');
    await ex.idle();
    const warn = records.find((r) => r.msg === 'Action verify failed');
    assert.equal(warn?.fields.exitCode, 7);
    assert.equal(warn?.fields.phase, 'verify');
  });

  it('logs each finished action with group, exec, file count, exit status and duration', async () => {
    const ex = executor(new RecordingRunner(() => okResult(41.6)));
    ex.enqueue('web', [C_A_CSS], 'received');
    await ex.idle();
    const finished = records.filter((r) => r.msg === 'Action finished');
    assert.deepEqual(finished, [{ level: 'info', msg: 'Action finished', fields: { group: 'web', action: 'css %%', files: 1, exitCode: 0, durationMs: 42 } }]);
  });

  it('runs commands one at a time in enqueue order, never overlapping', async () => {
    const gates = [deferred<ActionResult>(), deferred<ActionResult>(), deferred<ActionResult>()];
    const runner = new RecordingRunner((_cmd, i) => gates[i]?.promise ?? okResult());
    const ex = executor(runner);
    ex.enqueue('web', [C_A_CSS], 'received');
    ex.enqueue('web', [C_INDEX], 'received');
    ex.enqueue('web', [C_B_CSS], 'received');
    assert.equal(runner.calls.length, 1, 'only the first command started');
    assert.equal(store.listPendingActions().length, 3, 'all three are persisted at once');
    for (const gate of gates) {
      gate.resolve(okResult());
      await new Promise<void>((r) => setImmediate(r));
    }
    await ex.idle();
    assert.equal(runner.maxConcurrent, 1);
    assert.deepEqual(runner.calls.map((c) => c.env['CSYNC_FILES']), [C_A_CSS.abs, C_INDEX.abs, C_B_CSS.abs]);
    assert.deepEqual(store.listPendingActions(), []);
  });

  it('runs only do_local actions for a local batch', async () => {
    const runner = new RecordingRunner();
    const ex = executor(runner);
    ex.enqueue('web', [C_A_CSS, C_INDEX], 'local');
    await ex.idle();
    assert.deepEqual(runner.calls.map((c) => c.commandLine), [`html '/srv/www/index.html'`]);
  });

  it('logs a failure with CSYNC_ACTION_FAILED, removes the row and does not retry it', async () => {
    const runner = new RecordingRunner(() => failed(3));
    const ex = executor(runner);
    ex.enqueue('web', [C_A_CSS], 'received');
    await ex.idle();
    ex.replayPending();
    await ex.idle();
    assert.equal(runner.calls.length, 1);
    assert.deepEqual(store.listPendingActions(), []);
    const failure = records.find((r) => r.msg === 'Action failed');
    assert.equal(failure?.level, 'warn');
    assert.deepEqual(failure?.fields, {
      group: 'web', action: 'css %%', files: 1, exitCode: 3, durationMs: 12, code: 'CSYNC_ACTION_FAILED', signal: null, timedOut: false, stderr: 'boom\n',
    });
  });

  it('reports a timed-out action as such', async () => {
    const ex = executor(new RecordingRunner(() => ({ ...okResult(200), exitCode: null, signal: 'SIGKILL', timedOut: true })));
    ex.enqueue('web', [C_A_CSS], 'received');
    await ex.idle();
    const rec = records.find((r) => r.msg === 'Action timed out and was killed');
    assert.equal(rec?.fields['code'], 'CSYNC_ACTION_FAILED');
    assert.equal(rec?.fields['signal'], 'SIGKILL');
  });

  it('keeps going after a runner that rejects (a bug), logging the failure', async () => {
    const runner = new RecordingRunner((_cmd, i) => (i === 0 ? Promise.reject(new Error('kaput')) : okResult()));
    const ex = executor(runner);
    ex.enqueue('web', [C_A_CSS], 'received');
    ex.enqueue('web', [C_INDEX], 'received');
    await ex.idle();
    assert.equal(runner.calls.length, 2);
    assert.equal(records.find((r) => r.msg === 'Action failed')?.fields['error'], 'runner failed: kaput');
    assert.deepEqual(store.listPendingActions(), []);
  });

  it('replayPending runs rows left over from a crash in insertion order', async () => {
    store.addPendingAction({ groupName: 'web', actionIndex: 1, paths: ['/srv/www/x.html'], createdAtMs: 1 });
    store.addPendingAction({ groupName: 'web', actionIndex: 0, paths: ['/srv/www/y.css', '/srv/www/z.css'], createdAtMs: 2 });
    const runner = new RecordingRunner();
    const ex = executor(runner);
    ex.replayPending();
    await ex.idle();
    assert.deepEqual(runner.calls.map((c) => c.commandLine), [`html '/srv/www/x.html'`, `css '/srv/www/y.css' '/srv/www/z.css'`]);
    assert.deepEqual(store.listPendingActions(), []);
    assert.deepEqual(records.find((r) => r.msg === 'Replaying pending actions')?.fields, { count: 2 });
  });

  it('replayPending does not queue a row twice while it is queued or running', async () => {
    const gate = deferred<ActionResult>();
    const runner = new RecordingRunner((_cmd, i) => (i === 0 ? gate.promise : okResult()));
    const ex = executor(runner);
    ex.enqueue('web', [C_A_CSS], 'received');
    ex.enqueue('web', [C_INDEX], 'received');
    ex.replayPending();
    gate.resolve(okResult());
    await ex.idle();
    assert.equal(runner.calls.length, 2);
  });

  it('drops a persisted row whose action is no longer configured, with a warning', async () => {
    store.addPendingAction({ groupName: 'web', actionIndex: 7, paths: ['/srv/www/a'], createdAtMs: 1 });
    store.addPendingAction({ groupName: 'gone', actionIndex: 0, paths: ['/srv/www/b'], createdAtMs: 1 });
    const runner = new RecordingRunner();
    const ex = executor(runner);
    ex.replayPending();
    await ex.idle();
    assert.equal(runner.calls.length, 0);
    assert.deepEqual(store.listPendingActions(), []);
    assert.equal(records.filter((r) => r.msg === 'Pending action no longer configured, dropped').length, 2);
  });

  it('ignores a group it does not know and a batch that triggers nothing', async () => {
    const runner = new RecordingRunner();
    const ex = executor(runner);
    ex.enqueue('other', [C_A_CSS], 'received');
    ex.enqueue('web', [change('readme.txt')], 'received');
    await ex.idle();
    assert.equal(runner.calls.length, 0);
    assert.deepEqual(store.listPendingActions(), []);
  });

  it('close lets the running command finish and leaves queued rows for the next start', async () => {
    const gate = deferred<ActionResult>();
    const runner = new RecordingRunner((_cmd: ActionCommand, i) => (i === 0 ? gate.promise : okResult()));
    const ex = executor(runner);
    ex.enqueue('web', [C_A_CSS], 'received');
    ex.enqueue('web', [C_INDEX], 'received');
    ex.close();
    ex.enqueue('web', [C_B_CSS], 'received');
    gate.resolve(okResult());
    await ex.idle();
    assert.equal(runner.calls.length, 1);
    assert.deepEqual(store.listPendingActions().map((r) => r.paths), [[C_INDEX.abs]]);

    const next = executor(runner);
    next.replayPending();
    await next.idle();
    assert.equal(runner.calls.length, 2);
    assert.deepEqual(store.listPendingActions(), []);
  });

  it('idle resolves at once when nothing is queued', async () => {
    await executor(new RecordingRunner()).idle();
  });
});
