// Composition root for one node: loads the config, opens the store, builds the adapters and the
// SyncContext. cli/ and the daemon both start here. Owns what it opens: call close().
import { mkdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { CsyncError } from '../core/errors.ts';
import type { Clock } from '../core/clock.ts';
import type { Logger } from '../core/logger.ts';
import type { GroupName } from '../core/types.ts';
import { compileMatcher } from '../core/matcher.ts';
import { keyFileWarnings, loadNodeView, pickConfigPath } from '../config/load.ts';
import { confinementAnchors } from '../sync/scope.ts';
import { pickNodeName } from '../config/resolve.ts';
import type { NodeView } from '../config/types.ts';
import { NodeFileSystem } from '../fs/node-fs.ts';
import { SqliteStateStore } from '../store/sqlite-store.ts';
import type { StateStore } from '../store/state-store.ts';
import { loadHasher } from '../scanner/hasher.ts';
import type { GroupMatcher, SyncContext } from '../sync/context.ts';

/** The wall clock (the only place besides tests that reads real time). */
export const systemClock: Clock = {
  nowMs: () => Date.now(),
  setTimer: (fn, delayMs) => {
    const t = setTimeout(fn, delayMs);
    return () => clearTimeout(t);
  },
};

/** How to find the config and which node this is (from -C/-N/-D and the environment). */
export interface RuntimeOptions {
  readonly configPath?: string | undefined;
  readonly nodeName?: string | undefined;
  readonly stateDir?: string | undefined;
  readonly checkKeys: boolean;
  readonly log: Logger;
}

/** A node's open resources. */
export interface Runtime {
  /** Replaced in place by reloadRuntime() (SIGHUP); holders of the old value keep a consistent one. */
  ctx: SyncContext;
  view: NodeView;
  readonly store: StateStore;
  readonly stateDir: string;
  /** The root logger the context's logger was derived from (for reloads). */
  readonly log: Logger;
  /** Group name → key bytes (loaded only with checkKeys). */
  keys: ReadonlyMap<GroupName, Uint8Array>;
  close(): void;
}

/** Resolves the config path and node name as docs/csync.1.md says (-C/CSYNC_CONFIG, -N/CSYNC_NODE/hostname). */
export function locateNode(opts: { configPath?: string | undefined; nodeName?: string | undefined }): { configPath: string; nodeName: string } {
  // Absolute from here on: the thread pool is never handed a relative path (see homeDir in fs/node-fs.ts).
  return {
    configPath: resolve(pickConfigPath({ flag: opts.configPath, env: process.env.CSYNC_CONFIG })),
    nodeName: pickNodeName({ flag: opts.nodeName, env: process.env.CSYNC_NODE, hostname: hostname() }),
  };
}

/** Opens a node: config (all problems at once), state dir, store, hasher. */
export async function openRuntime(opts: RuntimeOptions): Promise<Runtime> {
  const { configPath, nodeName } = locateNode(opts);
  const view = loadNodeView({ configPath, nodeName, checkKeys: opts.checkKeys });
  const stateDir = resolve(opts.stateDir ?? view.stateDir);
  const store = openStore(stateDir);
  const { ctx, keys } = await buildContext(view, store, stateDir, opts);
  return { ctx, view, store, stateDir, keys, log: opts.log, close: () => store.close() };
}

/**
 * Re-reads the config (SIGHUP). On any problem it throws and `rt` is left exactly as it was; on
 * success the new view, keys and context replace the old ones. The state dir and store stay.
 */
export async function reloadRuntime(rt: Runtime, opts: RuntimeOptions): Promise<void> {
  const { configPath, nodeName } = locateNode(opts);
  const view = loadNodeView({ configPath, nodeName, checkKeys: opts.checkKeys });
  const { ctx, keys } = await buildContext(view, rt.store, rt.stateDir, opts);
  rt.view = view;
  rt.ctx = ctx;
  rt.keys = keys;
}

function openStore(stateDir: string): SqliteStateStore {
  try {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new CsyncError('CSYNC_IO', `state dir ${JSON.stringify(stateDir)}: cannot create it`, {
      cause: err,
      hint: 'set state_dir in the config or pass -D DIR with a writable directory',
    });
  }
  return SqliteStateStore.open(join(stateDir, 'csync.db'));
}

async function buildContext(view: NodeView, store: StateStore, stateDir: string, opts: RuntimeOptions): Promise<{ ctx: SyncContext; keys: Map<GroupName, Uint8Array> }> {
  const matchers = new Map<GroupName, GroupMatcher>();
  for (const [name, g] of view.groups) matchers.set(name, compileMatcher(g.config.exclude));
  const keys = new Map<GroupName, Uint8Array>();
  if (opts.checkKeys) {
    for (const [name, g] of view.groups) keys.set(name, readKey(g.keyFile));
    for (const warning of keyFileWarnings(view)) opts.log.warn({ node: view.self, code: 'CSYNC_KEY_INVALID', reason: warning }, 'Group key file is accessible to its group');
  }
  const conflictDir = join(stateDir, 'conflicts');
  const ctx: SyncContext = {
    view,
    fs: new NodeFileSystem({ anchors: confinementAnchors(view, conflictDir) }),
    store,
    hasher: await loadHasher(),
    clock: systemClock,
    log: opts.log.child({ node: view.self }),
    matchers,
    conflictDir,
  };
  return { ctx, keys };
}

/** Reads a group key: the file's bytes without surrounding white space. */
export function readKey(path: string): Uint8Array {
  const text = readFileSync(path);
  let start = 0;
  let end = text.length;
  while (start < end && isSpace(text[start] as number)) start++;
  while (end > start && isSpace(text[end - 1] as number)) end--;
  return new Uint8Array(text.subarray(start, end));
}

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}
