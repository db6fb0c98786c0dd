// ⚙ ChildProcessRunner: the CommandRunner port on node:child_process. Runs `/bin/sh -c` in its own
// process group, feeds stdin, appends output to the logfile, and kills the group on timeout.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { STDERR_TAIL_BYTES, type ActionCommand, type ActionResult, type CommandRunner } from './runner.ts';

/** setTimeout's largest delay; a longer timeout would fire at once, so it is clamped to this. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * How long to wait, after the shell exited, for its output pipe to close. A background process
 * the action started may hold stderr open forever; the result must not wait for it.
 */
const EXIT_GRACE_MS = 1000;

/** Options of ChildProcessRunner. */
export interface ChildProcessRunnerOptions {
  /** The shell run with `-c commandLine` (default "/bin/sh"). */
  readonly shell?: string;
  /** The environment the command's env is added to (default process.env). */
  readonly baseEnv?: NodeJS.ProcessEnv;
  /** The commands' working directory (default: this process's). */
  readonly cwd?: string;
}

/** Opens `logfile` for appending (creating its parent dirs), or says why it could not. */
async function openLog(logfile: string | undefined): Promise<{ handle: FileHandle | undefined; error: string | undefined }> {
  if (logfile === undefined) return { handle: undefined, error: undefined };
  try {
    await mkdir(dirname(logfile), { recursive: true });
    return { handle: await open(logfile, 'a'), error: undefined };
  } catch (err) {
    return { handle: undefined, error: `logfile ${JSON.stringify(logfile)}: ${err instanceof Error ? err.message : String(err)}` };
  }
}

/** Keeps the last STDERR_TAIL_BYTES bytes written to a stream. */
function tailCollector(): { push(chunk: Buffer): void; text(): string } {
  let chunks: Buffer[] = [];
  let size = 0;
  return {
    push(chunk) {
      chunks.push(chunk);
      size += chunk.length;
      if (size > 2 * STDERR_TAIL_BYTES) {
        const joined = Buffer.concat(chunks).subarray(-STDERR_TAIL_BYTES);
        chunks = [joined];
        size = joined.length;
      }
    },
    text: () => Buffer.concat(chunks).subarray(-STDERR_TAIL_BYTES).toString('utf8'),
  };
}

/** SIGKILLs the process group led by `pid` (the shell and everything it started). */
function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // ESRCH: the group is already gone, which is what we wanted.
  }
}

/**
 * Runs action commands as real processes. Each command runs as `shell -c commandLine` in a new
 * session (so a timeout can kill everything it started), with stdout and stderr appended to its
 * logfile, or stdout discarded and the tail of stderr kept. Never rejects (see CommandRunner).
 */
export class ChildProcessRunner implements CommandRunner {
  readonly #shell: string;
  readonly #baseEnv: NodeJS.ProcessEnv;
  readonly #cwd: string | undefined;

  constructor(opts: ChildProcessRunnerOptions = {}) {
    this.#shell = opts.shell ?? '/bin/sh';
    this.#baseEnv = opts.baseEnv ?? process.env;
    this.#cwd = opts.cwd;
  }

  async run(command: ActionCommand): Promise<ActionResult> {
    const startedMs = performance.now();
    const log = await openLog(command.logfile);
    const stdio: StdioOptions = log.handle === undefined ? ['pipe', 'ignore', 'pipe'] : ['pipe', log.handle.fd, log.handle.fd];
    let child: ChildProcess;
    try {
      // CSYNC_FILES from our own environment must not stand in for a list left out as too long.
      const env = { ...this.#baseEnv, CSYNC_FILES: undefined, ...command.env };
      child = spawn(this.#shell, ['-c', command.commandLine], { env, stdio, detached: true, ...(this.#cwd === undefined ? {} : { cwd: this.#cwd }) });
    } catch (err) {
      // Synchronous spawn failures, e.g. E2BIG when %% expanded to more than the kernel accepts.
      await log.handle?.close();
      const why = `cannot start ${JSON.stringify(this.#shell)}: ${err instanceof Error ? err.message : String(err)}`;
      const durationMs = performance.now() - startedMs;
      return { exitCode: null, signal: null, durationMs, timedOut: false, stderrTail: '', error: why, logfileError: log.error };
    }
    // Listen before anything else awaits: a quick command may exit (and emit) during any await.
    const result = this.#supervise(child, command, { startedMs, logError: log.error });
    // The child has its own copy of the descriptor; ours is no longer needed.
    await log.handle?.close();
    return result;
  }

  /** Feeds stdin, collects the stderr tail, enforces the timeout, and resolves once it ended. */
  #supervise(child: ChildProcess, command: ActionCommand, ctx: { startedMs: number; logError: string | undefined }): Promise<ActionResult> {
    return new Promise((resolve) => {
      const tail = tailCollector();
      let timedOut = false;
      let settled = false;
      let graceTimer: NodeJS.Timeout | undefined;
      const killTimer = setTimeout(() => {
        timedOut = true;
        killGroup(child.pid);
      }, Math.min(command.timeoutMs, MAX_TIMER_MS));
      const finish = (exitCode: number | null, signal: string | null, startError?: string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(killTimer);
        clearTimeout(graceTimer);
        child.stderr?.destroy();
        const durationMs = performance.now() - ctx.startedMs;
        resolve({ exitCode, signal, durationMs, timedOut, stderrTail: tail.text(), error: startError, logfileError: ctx.logError });
      };
      child.stderr?.on('data', (chunk: Buffer) => tail.push(chunk));
      child.on('error', (err) => finish(null, null, `cannot start ${JSON.stringify(this.#shell)}: ${err.message}`));
      child.on('close', (code, signal) => finish(code, signal));
      child.on('exit', (code, signal) => {
        graceTimer = setTimeout(() => finish(code, signal), EXIT_GRACE_MS);
      });
      // EPIPE when the command exits without reading its stdin: harmless, the list is also in the env.
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(command.stdin);
    });
  }
}
