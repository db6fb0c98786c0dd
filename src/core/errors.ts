// The closed set of csync error codes, their exit statuses and the CsyncError class.
// Pure: no I/O. Only cli/ turns an error into an exit status (via EXIT_STATUS below).

/** Every code csync can fail with. Adding one means adding it to ERROR_CATALOGUE too. */
export type ErrorCode =
  | 'CSYNC_USAGE'
  | 'CSYNC_CONFIG_INVALID'
  | 'CSYNC_PATH_UNSAFE'
  | 'CSYNC_STORE_FAILED'
  | 'CSYNC_STORE_SCHEMA_NEWER'
  | 'CSYNC_PEER_UNREACHABLE'
  | 'CSYNC_AUTH_FAILED'
  | 'CSYNC_CERT_CHANGED'
  | 'CSYNC_PROTO_INVALID_FRAME'
  | 'CSYNC_PROTO_INVALID_MESSAGE'
  | 'CSYNC_PROTO_VERSION'
  | 'CSYNC_PROTO_TIMEOUT'
  | 'CSYNC_SYNC_HALTED_FOR_SAFETY'
  | 'CSYNC_CONFLICT_UNRESOLVED'
  | 'CSYNC_ACTION_FAILED'
  | 'CSYNC_KEY_INVALID'
  | 'CSYNC_LOCAL_CHANGE'
  | 'CSYNC_DAEMON_RUNNING'
  | 'CSYNC_IO';

/** One catalogue row: the exit status cli/ uses and a one-line description for the docs. */
export interface ErrorCatalogueEntry {
  readonly exitStatus: number;
  readonly description: string;
}

/** The catalogue: every ErrorCode with its sysexits status (docs/reference.md, "Exit statuses"). */
export const ERROR_CATALOGUE: Readonly<Record<ErrorCode, ErrorCatalogueEntry>> = {
  CSYNC_USAGE: { exitStatus: 64, description: 'the command line is wrong' },
  CSYNC_CONFIG_INVALID: { exitStatus: 78, description: 'the configuration file has problems' },
  CSYNC_PATH_UNSAFE: { exitStatus: 65, description: 'a path is outside the group, hostile or behind a symlink' },
  CSYNC_STORE_FAILED: { exitStatus: 74, description: 'the state database could not be read or written' },
  CSYNC_STORE_SCHEMA_NEWER: { exitStatus: 78, description: 'the state database was written by a newer csync' },
  CSYNC_PEER_UNREACHABLE: { exitStatus: 69, description: 'a peer could not be reached' },
  CSYNC_AUTH_FAILED: { exitStatus: 77, description: 'a peer did not prove the group key' },
  CSYNC_CERT_CHANGED: { exitStatus: 77, description: 'a peer presented a certificate other than the pinned one' },
  CSYNC_PROTO_INVALID_FRAME: { exitStatus: 76, description: 'a peer sent a malformed or oversized frame' },
  CSYNC_PROTO_INVALID_MESSAGE: { exitStatus: 76, description: 'a peer sent a message that failed validation' },
  CSYNC_PROTO_VERSION: { exitStatus: 76, description: 'a peer speaks an incompatible protocol version' },
  CSYNC_PROTO_TIMEOUT: { exitStatus: 69, description: 'a peer did not answer in time' },
  CSYNC_SYNC_HALTED_FOR_SAFETY: { exitStatus: 1, description: 'a safety rail halted a group' },
  CSYNC_CONFLICT_UNRESOLVED: { exitStatus: 1, description: 'a conflict needs an operator decision' },
  CSYNC_ACTION_FAILED: { exitStatus: 1, description: 'an action command failed' },
  CSYNC_KEY_INVALID: { exitStatus: 78, description: 'a group key file is missing, short or unsafe' },
  CSYNC_LOCAL_CHANGE: { exitStatus: 1, description: 'a local entry changed while csync read or replaced it; the local version is kept and checked again' },
  CSYNC_DAEMON_RUNNING: { exitStatus: 75, description: 'another daemon holds the state dir (EX_TEMPFAIL: retry once it stopped)' },
  CSYNC_IO: { exitStatus: 74, description: 'a local file could not be read or written' },
};

/**
 * The one error class csync throws for expected failures. `message` follows `<what>: <why>`
 * (lowercase, no trailing period); `hint` says what the operator should do.
 */
export class CsyncError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  constructor(code: ErrorCode, message: string, opts: { cause?: unknown; hint?: string } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'CsyncError';
    this.code = code;
    this.hint = opts.hint;
  }
}

/** One problem found in a configuration file. `line`/`column` are 1-based when known. */
export interface ConfigIssue {
  readonly keyPath: string;
  readonly message: string;
  readonly line?: number;
  readonly column?: number;
}

/** Thrown once per config load with every problem found. */
export class ConfigError extends CsyncError {
  readonly issues: readonly ConfigIssue[];
  readonly source: string;
  constructor(source: string, issues: readonly ConfigIssue[]) {
    super(
      'CSYNC_CONFIG_INVALID',
      `config ${source} has ${issues.length} problem${issues.length === 1 ? '' : 's'}`,
      { hint: 'fix the lines above, then run `csync config check`' },
    );
    this.issues = issues;
    this.source = source;
  }
}

/** True when `err` is a CsyncError with one of `codes` (match on code, never on text). */
export function hasCode(err: unknown, ...codes: ErrorCode[]): err is CsyncError {
  return err instanceof CsyncError && codes.includes(err.code);
}
