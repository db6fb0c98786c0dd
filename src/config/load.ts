// ⚙ Reads csync.toml and the group key files from disk. Parsing and resolving stay pure
// (parse.ts, resolve.ts); this file only adds the file system. Used by cli/ and daemon/.
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { ConfigError, CsyncError, type ConfigIssue } from '../core/errors.ts';
import { indexKeyLines, lineOf } from './locate.ts';
import { parseConfig } from './parse.ts';
import { resolveNode } from './resolve.ts';
import type { Config, NodeView } from './types.ts';

/** Where the config lives unless `-C PATH` or `CSYNC_CONFIG` says otherwise. */
export const DEFAULT_CONFIG_PATH = '/etc/csync/csync.toml';

/** The shortest group key accepted, in bytes (`csync -k` writes longer ones). */
export const MIN_KEY_BYTES = 32;

/** Chooses the config path: `-C PATH`, else `CSYNC_CONFIG`, else DEFAULT_CONFIG_PATH. Blank counts as absent. */
export function pickConfigPath(input: { readonly flag?: string | undefined; readonly env?: string | undefined }): string {
  for (const candidate of [input.flag, input.env]) {
    if (candidate !== undefined && candidate.trim() !== '') return candidate;
  }
  return DEFAULT_CONFIG_PATH;
}

/**
 * Reads the config file as UTF-8. Throws CsyncError CSYNC_CONFIG_INVALID when it is missing,
 * unreadable or not a regular file (a bad config must not restart-loop under systemd).
 */
export function readConfigText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : `cannot read (${code ?? 'unknown error'})`;
    const hint = code === 'EACCES'
      ? 'run csync as a user that can read it (usually root)'
      : 'create it (see csync.example.toml), or pass -C PATH or set CSYNC_CONFIG';
    throw new CsyncError('CSYNC_CONFIG_INVALID', `config ${JSON.stringify(path)}: ${why}`, { cause: err, hint });
  }
}

/** Reads and validates the config at `path`. Throws as readConfigText() does, or ConfigError. */
export function loadConfig(path: string): Config {
  return parseConfig(readConfigText(path), path);
}

/**
 * Reports, for each group of `view`, a key file that is missing, unreadable, not a regular file
 * or shorter than MIN_KEY_BYTES, at key path `groups.NAME.key`. Pass the config text to get line
 * numbers. Never throws for file problems; the caller merges the issues into one ConfigError.
 */
export function checkKeyFiles(view: NodeView, configText?: string): ConfigIssue[] {
  const index = configText === undefined ? undefined : indexKeyLines(configText);
  const issues: ConfigIssue[] = [];
  for (const [name, group] of view.groups) {
    const problem = keyFileProblem(group.keyFile);
    if (problem === undefined) continue;
    const keyPath = `groups.${name}.key`;
    const line = index === undefined ? undefined : lineOf(index, keyPath);
    issues.push({ keyPath, message: problem, ...(line === undefined ? {} : { line }) });
  }
  return issues;
}

/** Permission bits that make a key file unusable: read or write access for other users. */
const KEY_OTHERS_BITS = 0o006;
/** Permission bits that earn a warning: access for the file's group. */
const KEY_GROUP_BITS = 0o060;

function keyFileProblem(path: string): string | undefined {
  const quoted = JSON.stringify(path);
  try {
    const st = statSync(path);
    if (!st.isFile()) return `key file ${quoted} is not a regular file`;
    if (st.size < MIN_KEY_BYTES) {
      return `key file ${quoted} has ${st.size} bytes, needs at least ${MIN_KEY_BYTES}: make one with \`csync -k ${path}\` and copy it to every host`;
    }
    if ((st.mode & KEY_OTHERS_BITS) !== 0) {
      return `key file ${quoted} is ${(st.mode & 0o004) !== 0 ? 'readable' : 'writable'} by other users (mode ${octal(st.mode)}): run \`chmod 600 ${path}\` on this host`;
    }
    accessSync(path, constants.R_OK);
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return `key file ${quoted} does not exist: make one with \`csync -k ${path}\` and copy it to every host`;
    return `key file ${quoted} cannot be read (${code ?? 'unknown error'})`;
  }
}

/**
 * Warnings for key files that are usable but looser than 0600: access for the file's group (whose
 * members could then prove the group key). One sentence per file, for `config check` and the log.
 * Never throws: a file that cannot be stat'ed is checkKeyFiles()'s business.
 */
export function keyFileWarnings(view: NodeView): string[] {
  const out: string[] = [];
  for (const [name, group] of view.groups) {
    try {
      const st = statSync(group.keyFile);
      if ((st.mode & KEY_GROUP_BITS) !== 0) {
        out.push(`groups.${name}.key: key file ${JSON.stringify(group.keyFile)} is accessible to its group (mode ${octal(st.mode)}); run \`chmod 600 ${group.keyFile}\` unless that group is meant to hold the key`);
      }
    } catch {
      // Missing or unreadable: reported as an error by checkKeyFiles(), not as a warning here.
      continue;
    }
  }
  return out;
}

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

/**
 * Reads, validates and resolves the config for `nodeName` in one step, as cli/ and daemon/ need:
 * with `checkKeys`, key file problems are reported in the same ConfigError.
 */
export function loadNodeView(opts: { readonly configPath: string; readonly nodeName: string; readonly checkKeys: boolean }): NodeView {
  const text = readConfigText(opts.configPath);
  const view = resolveNode(parseConfig(text, opts.configPath), opts.nodeName);
  const issues = opts.checkKeys ? checkKeyFiles(view, text) : [];
  if (issues.length > 0) throw new ConfigError(opts.configPath, issues);
  return view;
}
