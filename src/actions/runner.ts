// The CommandRunner port: runs one prepared action command and reports how it ended. Also the
// RecordingRunner fake for tests. Knows nothing about patterns, queues or the state store.

/** One action command, fully prepared (see buildActionCommand in select.ts). */
export interface ActionCommand {
  /** Run as `/bin/sh -c commandLine`; every file name in it is already shell-quoted. */
  readonly commandLine: string;
  /** Added to the daemon's own environment (CSYNC_FILES, CSYNC_GROUP, CSYNC_NODE). */
  readonly env: Readonly<Record<string, string>>;
  /** Written to the command's stdin, which is then closed. */
  readonly stdin: string;
  /** Absolute path that stdout and stderr are appended to, or undefined to discard them. */
  readonly logfile: string | undefined;
  /** After this long, the command's whole process group is killed (SIGKILL). */
  readonly timeoutMs: number;
}

/** How a command ended. A command that ran and failed is a result, not an exception. */
export interface ActionResult {
  /** The shell's exit status, or null when it was killed by a signal or never started. */
  readonly exitCode: number | null;
  /** The signal that ended the shell (e.g. "SIGKILL"), or null. */
  readonly signal: string | null;
  /** Wall time from start to end, in milliseconds. */
  readonly durationMs: number;
  /** True when the command outlived its timeoutMs and was killed. */
  readonly timedOut: boolean;
  /** The last STDERR_TAIL_BYTES of stderr when there is no logfile (for the log record); '' otherwise. */
  readonly stderrTail: string;
  /** Why the command could not start (then exitCode and signal are null); undefined when it started. */
  readonly error: string | undefined;
  /** Why the logfile could not be opened (the command then ran with its output discarded). */
  readonly logfileError: string | undefined;
}

/** How much of stderr a result keeps when there is no logfile. */
export const STDERR_TAIL_BYTES = 4096;

/**
 * Runs action commands. `run` never rejects for anything the command does (non-zero exit,
 * signal, timeout, failure to start): all of that is in the ActionResult.
 */
export interface CommandRunner {
  run(command: ActionCommand): Promise<ActionResult>;
}

/** True when the command started, exited with status 0 and did not time out. */
export function actionSucceeded(result: ActionResult): boolean {
  return result.exitCode === 0 && !result.timedOut && result.error === undefined;
}

/** A successful result with the given duration, for fakes. */
export function okResult(durationMs = 0): ActionResult {
  return { exitCode: 0, signal: null, durationMs, timedOut: false, stderrTail: '', error: undefined, logfileError: undefined };
}

/**
 * A CommandRunner that runs nothing: it records every command in `calls` and answers with
 * `respond(command, index)` (default: exit 0 at once). `respond` may return a promise the test
 * settles later; `maxConcurrent` records how many runs were ever in progress at once.
 */
export class RecordingRunner implements CommandRunner {
  readonly calls: ActionCommand[] = [];
  #running = 0;
  #maxConcurrent = 0;
  readonly #respond: (command: ActionCommand, index: number) => ActionResult | Promise<ActionResult>;

  constructor(respond: (command: ActionCommand, index: number) => ActionResult | Promise<ActionResult> = () => okResult()) {
    this.#respond = respond;
  }

  /** The largest number of run() calls that were in progress at the same time. */
  get maxConcurrent(): number {
    return this.#maxConcurrent;
  }

  async run(command: ActionCommand): Promise<ActionResult> {
    const index = this.calls.push(command) - 1;
    this.#running++;
    this.#maxConcurrent = Math.max(this.#maxConcurrent, this.#running);
    try {
      return await this.#respond(command, index);
    } finally {
      this.#running--;
    }
  }
}
