// Named FileMeta / FileState fixtures for table tests (mutagen's F1, F2, DIR, GONE style), plus
// memoryNode(): one node's SyncContext on memory ports (MemoryFileSystem, ':memory:' store, manual
// clock) from inline TOML. The fixtures' hashes are fake but well-formed (16 hex digits).
import { manualClock } from '../../src/core/clock.ts';
import type { ManualClock } from '../../src/core/clock.ts';
import { memoryLogger } from '../../src/core/logger.ts';
import type { LogRecord } from '../../src/core/logger.ts';
import { compileMatcher } from '../../src/core/matcher.ts';
import type { FileMeta, FileState, LogicalPath, VersionVector } from '../../src/core/types.ts';
import { parseConfig } from '../../src/config/parse.ts';
import { resolveNode } from '../../src/config/resolve.ts';
import { MemoryFileSystem } from '../../src/fs/memory-fs.ts';
import type { FileSystem } from '../../src/fs/filesystem.ts';
import { loadHasher } from '../../src/scanner/hasher.ts';
import { confinementAnchors } from '../../src/sync/scope.ts';
import { SqliteStateStore } from '../../src/store/sqlite-store.ts';
import type { GroupMatcher, SyncContext } from '../../src/sync/context.ts';

/** A fixed mtime (ns) every fixture starts from: 2023-11-14T22:13:20Z. */
export const T0_NS = 1_700_000_000_000_000_000n;
/** One second later, in ns. */
export const T1_NS = T0_NS + 1_000_000_000n;

/** Fake xxh64 hashes of two different contents. */
export const HASH_1 = '1111111111111111';
export const HASH_2 = '2222222222222222';

/** A regular file (content 1), 0644, owned by 1000:1000. */
export const F1: FileMeta = { kind: 'file', sizeBytes: 5, mtimeNs: T0_NS, mode: 0o644, uid: 1000, gid: 1000, hash: HASH_1 };
/** F1 with different content (and size). */
export const F2: FileMeta = { ...F1, sizeBytes: 7, hash: HASH_2 };
/** F1 with only the mode changed. */
export const F1_CHMOD: FileMeta = { ...F1, mode: 0o600 };
/** F1 with only the owner changed. */
export const F1_CHOWN: FileMeta = { ...F1, uid: 0 };
/** F1 with only the group changed. */
export const F1_CHGRP: FileMeta = { ...F1, gid: 0 };
/** F1 with only the mtime changed (same content). */
export const F1_TOUCHED: FileMeta = { ...F1, mtimeNs: T1_NS };
/** A directory, 0755. */
export const DIR: FileMeta = { kind: 'dir', sizeBytes: 0, mtimeNs: T0_NS, mode: 0o755, uid: 1000, gid: 1000 };
/** DIR with a later mtime (a child changed): not a difference. */
export const DIR_LATER: FileMeta = { ...DIR, mtimeNs: T1_NS };
/** DIR with a different mode. */
export const DIR_CHMOD: FileMeta = { ...DIR, mode: 0o700 };
/** A symlink to "target-1". */
export const LINK: FileMeta = { kind: 'symlink', sizeBytes: 0, mtimeNs: T0_NS, mode: 0o777, uid: 1000, gid: 1000, target: 'target-1' };
/** LINK pointing elsewhere. */
export const LINK2: FileMeta = { ...LINK, target: 'target-2' };
/** A tombstone. */
export const GONE: FileMeta = { kind: 'deleted', sizeBytes: 0, mtimeNs: 0n, mode: 0, uid: 0, gid: 0 };

/** The logical path every fixture state lives at unless told otherwise. */
export const P = '/srv/www/index.html' as LogicalPath;

/** Builds a FileState of `meta` at `version` (origin = the first node of the vector, or "a"). */
export function state(meta: FileMeta, version: VersionVector, opts: { path?: string; origin?: string; changedAtMs?: number } = {}): FileState {
  return {
    path: (opts.path ?? P) as LogicalPath,
    meta,
    version,
    origin: opts.origin ?? Object.keys(version)[0] ?? 'a',
    changedAtMs: opts.changedAtMs ?? 1_700_000_000_000,
  };
}

/**
 * A three-node config over memory roots: group "g" (a, b, c; c receive_only) on /data excluding
 * "*.log", and group "other" (a, b) on /other. Nodes a and b may originate changes in both.
 */
export const MEMORY_TOML = `
state_dir = "/state"
[hosts]
a = "127.0.0.1:40000"
b = "127.0.0.1:40001"
c = "127.0.0.1:40002"

[groups.g]
hosts = ["a", "b", "c"]
receive_only = ["c"]
key = "/keys/g.key"
include = ["/data"]
exclude = ["*.log"]

[groups.other]
hosts = ["a", "b"]
key = "/keys/other.key"
include = ["/other"]
`;

/** One node on memory ports. `close()` closes the store; call it from after()/t.after(). */
export interface MemoryNode {
  readonly ctx: SyncContext;
  /** The MemoryFileSystem under `ctx.fs` (which may be a wrapper of it). */
  readonly mem: MemoryFileSystem;
  readonly store: SqliteStateStore;
  readonly clock: ManualClock;
  readonly logs: LogRecord[];
  close(): void;
}

/**
 * Builds node `self` of `toml` (default MEMORY_TOML) with every include root created as a directory
 * in a fresh MemoryFileSystem. `wrap` may wrap the filesystem (e.g. in a FailingFileSystem).
 */
export async function memoryNode(self: string, opts: { toml?: string; wrap?: (fs: MemoryFileSystem) => FileSystem } = {}): Promise<MemoryNode> {
  const view = resolveNode(parseConfig(opts.toml ?? MEMORY_TOML, 'inline.toml'), self);
  const clock = manualClock();
  let tick = 0;
  const mem = new MemoryFileSystem({ nowNs: () => BigInt(clock.nowMs()) * 1_000_000n + BigInt(++tick) * 1000n });
  for (const g of view.groups.values()) for (const abs of g.roots.values()) mem.mkdirpSync(abs);
  const store = SqliteStateStore.open(':memory:');
  const logs: LogRecord[] = [];
  const matchers = new Map<string, GroupMatcher>([...view.groups].map(([name, g]) => [name, compileMatcher(g.config.exclude)]));
  const ctx: SyncContext = {
    view,
    fs: opts.wrap ? opts.wrap(mem) : mem,
    store,
    hasher: await loadHasher(),
    clock,
    log: memoryLogger(logs),
    matchers,
    conflictDir: '/state/conflicts',
  };
  ctx.fs.confine(confinementAnchors(view, ctx.conflictDir));
  return { ctx, mem, store, clock, logs, close: () => store.close() };
}
