// The CLI: argv → command → exit status. The only layer that maps errors to exit statuses.
import type { Command } from './args.ts';
import { COMMAND_HELP, parseArgs, USAGE } from './args.ts';
import type { Action } from './args.ts';
import type { Io } from './output.ts';
import { renderError } from './output.ts';
import { commandConfigCheck, commandImportCsync2, commandKeygen, commandStatus, commandTlsInit, commandTrustForget, commandTrustList } from './admin-commands.ts';
import { commandTlsPin, commandTlsPins } from './pin-commands.ts';
import { commandCheck, commandCheckUpdate, commandListDb, commandListDirty, commandRemoveStale, commandRestore, commandUpdate, commandCompare, commandWait } from './sync-commands.ts';
import { makeCliLogger, makeDaemonLogger } from '../daemon/log.ts';
import { locateNode, openRuntime } from '../daemon/runtime.ts';
import type { Runtime } from '../daemon/runtime.ts';
import { CSYNC_VERSION } from '../daemon/summary.ts';

/** The package version printed by --version. */
export const VERSION = CSYNC_VERSION;

const processIo: Io = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  isTty: process.stderr.isTTY === true,
};

/** Runs one command line and returns its exit status; never throws. */
export async function runCommand(argv: readonly string[], io: Io = processIo): Promise<number> {
  let cmd: Command | undefined;
  try {
    cmd = parseArgs(argv);
    return await dispatch(cmd, io);
  } catch (err) {
    const status = renderError(io, err, cmd?.options.verbose ?? argv.includes('-v'));
    return status;
  }
}

/** Entry point used by src/main.ts: runs and exits with the status. */
export async function runCli(argv: readonly string[]): Promise<void> {
  const status = await runCommand(argv.slice(2));
  process.exitCode = status;
  // Exit once output is flushed, even if a library left a handle open.
  process.stdout.write('', () => process.exit(status));
}

async function dispatch(cmd: Command, io: Io): Promise<number> {
  switch (cmd.action) {
    case 'help': {
      const topic = cmd.args[0] as Action | undefined;
      io.out(`${(topic && COMMAND_HELP[topic]) ?? USAGE}\n`);
      return 0;
    }
    case 'version':
      io.out(`csync ${VERSION}\n`);
      return 0;
    case 'keygen':
      return commandKeygen(cmd, io);
    case 'import-csync2':
      return commandImportCsync2(cmd, io);
    case 'demo': {
      const { runDemo } = await import('./demo.ts');
      return runDemo(cmd, io);
    }
    default:
      return withRuntime(cmd, io);
  }
}

const KEYLESS = new Set(['tls-init', 'tls-pin', 'trust-list', 'trust-forget', 'list-dirty', 'list-db', 'status']);

async function withRuntime(cmd: Command, io: Io): Promise<number> {
  const daemon = cmd.action === 'daemon';
  const level = io.logs === false ? 'silent' : cmd.options.verbose ? 'debug' : cmd.options.quiet ? 'error' : daemon ? 'info' : 'warn';
  const logOpts = { level, pretty: io.isTty } as const;
  const log = daemon ? await makeDaemonLogger(logOpts) : makeCliLogger(logOpts);
  const rt = await openRuntime({
    configPath: cmd.options.config,
    nodeName: cmd.options.node,
    stateDir: cmd.options.stateDir,
    checkKeys: !KEYLESS.has(cmd.action) || cmd.options.cluster,
    log,
  });
  try {
    return await runWith(rt, cmd, io);
  } finally {
    rt.close();
  }
}

async function runWith(rt: Runtime, cmd: Command, io: Io): Promise<number> {
  switch (cmd.action) {
    case 'check':
    case 'mark':
    case 'force':
      return commandCheck(rt, cmd, io);
    case 'update':
    case 'check-update': {
      const status = cmd.action === 'update' ? await commandUpdate(rt, cmd, io) : await commandCheckUpdate(rt, cmd, io);
      // --wait: a pass that reached peers (0, or 1 for some failures) goes on until they all hold it.
      return cmd.options.wait && (status === 0 || status === 1) ? commandWait(rt, { ...cmd, action: 'wait' }, io) : status;
    }
    case 'wait':
      return commandWait(rt, cmd, io);
    case 'list-dirty':
      return commandListDirty(rt, cmd, io);
    case 'list-db':
      return commandListDb(rt, cmd, io);
    case 'remove-stale':
      return commandRemoveStale(rt, cmd, io);
    case 'tls-init':
      return commandTlsInit(rt, cmd, io);
    case 'tls-pin':
      return commandTlsPin(rt, cmd, io);
    case 'tls-pins':
      return commandTlsPins(rt, cmd, io);
    case 'trust-list':
      return commandTrustList(rt, cmd, io);
    case 'trust-forget':
      return commandTrustForget(rt, cmd, io);
    case 'config-check':
      return commandConfigCheck(rt, cmd, io);
    case 'status':
      return commandStatus(rt, cmd, io);
    case 'daemon': {
      const { runDaemon } = await import('../daemon/run-daemon.ts');
      const { ChokidarSource } = await import('../watcher/chokidar-source.ts');
      const { handoffHandler } = await import('./handoff.ts');
      const { preAuthLimitsFromEnv } = await import('../daemon/server.ts');
      const identity = locateNode({ configPath: cmd.options.config, nodeName: cmd.options.node });
      return runDaemon(rt, {
        runtimeOptions: { configPath: cmd.options.config, nodeName: cmd.options.node, stateDir: cmd.options.stateDir, checkKeys: true, log: rt.log },
        watchSource: new ChokidarSource(),
        control: (d) => handoffHandler(d, identity),
        preAuth: preAuthLimitsFromEnv(process.env),
      });
    }
    case 'restore':
      return commandRestore(rt, cmd, io);
    case 'compare':
      return commandCompare(rt, cmd, io);
    case 'help':
    case 'version':
    case 'keygen':
    case 'demo':
    case 'import-csync2':
      throw new Error(`bug: ${cmd.action} dispatched with a runtime`);
    default: {
      const never: never = cmd.action;
      throw new Error(`bug: unknown action ${String(never)}`);
    }
  }
}
