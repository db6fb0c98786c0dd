// Applies one incoming state to this node's disk (docs/semantics.md, "Applying a change"): parents, backups, atomic writes, deletes.
// It decides nothing: the receiver has already chosen to apply. Throws CsyncError on refusal or I/O failure.
import { CsyncError } from '../core/errors.ts';
import { ancestorsRel } from '../core/paths.ts';
import type { FileMeta, RelPath } from '../core/types.ts';
import type { FileSystem, FsMetaUpdate, FsStat } from '../fs/filesystem.ts';
import { backupBeforeOverwrite } from '../backup/rotate.ts';
import type { Hasher } from '../scanner/hasher.ts';
import type { GroupConfig, NodeGroup } from '../config/types.ts';

/** Where and how to apply: the target's group (for ignore/backup settings) and paths. */
export interface ApplyTarget {
  readonly group: NodeGroup;
  readonly absRoot: string;
  readonly rel: RelPath;
  /**
   * Directories already seen to exist as real directories during this batch, so their existence is
   * not checked again for every file (the receiver clears it whenever it applies anything but a
   * file, and after a second). Only an optimisation: every write still opens its parent confined
   * (fs/node-fs.ts), so a directory swapped for a symlink since is refused, never written through.
   */
  readonly verifiedDirs?: Set<string>;
}

/** Ports apply needs. */
export interface ApplyPorts {
  readonly fs: FileSystem;
  readonly hasher: Hasher;
}

/** Setuid and setgid: stripped from what a peer sends unless the group sets `allow_setid`. */
const SETID_BITS = 0o6000;

/**
 * The metadata to set for `meta`, leaving out what the group ignores. A non-directory loses its
 * setuid/setgid bits unless the group allows them (`allow_setid`); a directory keeps them (setgid
 * on a directory only makes new entries inherit its group). The receiver records the mode it
 * finds on disk afterwards, so a stripped bit is not seen as a local change.
 */
export function metaUpdate(meta: FileMeta, group: Pick<GroupConfig, 'ignore' | 'allowSetid'>): FsMetaUpdate {
  const ignore = group.ignore;
  const mode = meta.kind === 'dir' || group.allowSetid === true ? meta.mode : meta.mode & ~SETID_BITS;
  return {
    ...(ignore.includes('mode') || meta.kind === 'symlink' ? {} : { mode }),
    ...(ignore.includes('uid') ? {} : { uid: meta.uid }),
    ...(ignore.includes('gid') ? {} : { gid: meta.gid }),
    ...(meta.kind === 'dir' ? {} : { mtimeNs: meta.mtimeNs }),
  };
}

/** Absolute path of a target on this node. */
function absOf(t: ApplyTarget): string {
  return t.rel === '' ? t.absRoot : `${t.absRoot}/${t.rel}`;
}

/**
 * Makes sure every parent of the target exists as a real directory: refuses symlinked or
 * file parents (CSYNC_PATH_UNSAFE), refuses a missing root (it may be an unmounted disk), and
 * creates missing directories with `dirMode`.
 */
export async function ensureParents(fs: FileSystem, t: ApplyTarget, dirMode = 0o755): Promise<void> {
  const verified = t.verifiedDirs;
  for (const anc of ancestorsRel(t.rel)) {
    const abs = anc === '' ? t.absRoot : `${t.absRoot}/${anc}`;
    if (verified?.has(abs)) continue;
    const st = fs.lstat(abs);
    if (st === undefined && anc === '') {
      throw new CsyncError('CSYNC_SYNC_HALTED_FOR_SAFETY', `root ${JSON.stringify(t.absRoot)}: missing on this node`, {
        hint: 'create or mount the directory, then run the update again',
      });
    }
    if (st === undefined) await fs.mkdir(abs, { mode: dirMode });
    else if (st.kind === 'symlink' && anc !== '') throw unsafeParent(abs, 'is a symlink');
    else if (st.kind !== 'dir' && !(st.kind === 'symlink' && anc === '')) throw unsafeParent(abs, 'is not a directory');
    verified?.add(abs);
  }
}

function unsafeParent(abs: string, why: string): CsyncError {
  return new CsyncError('CSYNC_PATH_UNSAFE', `parent ${JSON.stringify(abs)}: ${why}`, {
    hint: 'csync never writes through a symlinked or non-directory parent; fix the tree on this node',
  });
}

/** Backs up the entry at `abs` if the group keeps generations and it is a file or symlink. */
export async function backupIfConfigured(fs: FileSystem, t: ApplyTarget, st: FsStat | undefined): Promise<void> {
  const g = t.group;
  if (st === undefined || st.kind === 'dir' || g.backupDir === undefined || g.config.backupGenerations <= 0) return;
  await backupBeforeOverwrite(fs, { backupDir: g.backupDir, generations: g.config.backupGenerations, path: absOf(t) });
}

/** Clears whatever is at the target so a different kind can take its place (backing it up first). */
async function clearWay(fs: FileSystem, t: ApplyTarget, st: FsStat | undefined): Promise<void> {
  if (st === undefined) return;
  const abs = absOf(t);
  if (st.kind === 'dir') {
    if (fs.readdir(abs).length > 0) {
      throw new CsyncError('CSYNC_IO', `apply ${JSON.stringify(abs)}: a non-empty directory is in the way`, {
        hint: 'the peer replaced a directory by a file; move the directory away or resolve with `csync -f`',
      });
    }
    await fs.rmdir(abs);
    return;
  }
  await backupIfConfigured(fs, t, st);
  await fs.unlink(abs);
}

/**
 * Writes a file's content from `chunks` atomically, verifying the xxh64 hash before the rename.
 * A mismatch aborts the temp file and throws CSYNC_IO ("content hash mismatch"); nothing changes.
 * With `syncDir: false` the caller must fsync the directory before reporting success. Resolves
 * with the file's stat as committed.
 */
export async function applyFile(
  ports: ApplyPorts,
  t: ApplyTarget,
  meta: FileMeta,
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  opts: { syncDir?: boolean } = {},
): Promise<FsStat> {
  const abs = absOf(t);
  await ensureParents(ports.fs, t);
  const st = ports.fs.lstat(abs);
  const pending = await ports.fs.beginWrite(abs);
  const h = ports.hasher.start();
  let size = 0;
  try {
    for await (const chunk of chunks) {
      h.update(chunk);
      size += chunk.length;
      await pending.write(chunk);
    }
    const got = h.digestHex();
    if (got !== meta.hash || size !== meta.sizeBytes) {
      throw new CsyncError('CSYNC_IO', `apply ${JSON.stringify(abs)}: content hash mismatch (got ${got}, ${size} bytes)`, {
        hint: 'the file changed on the sender during transfer; the next update retries it',
      });
    }
    if (st?.kind === 'dir') await clearWay(ports.fs, t, st);
    else await backupIfConfigured(ports.fs, t, st);
    // What was there when the write began (nothing, once a directory in the way is gone) must still
    // be there at the rename: a local edit made meanwhile is kept (CSYNC_LOCAL_CHANGE), not replaced.
    const expectTarget = st === undefined || st.kind === 'dir' ? null : st;
    return await pending.commit(metaUpdate(meta, t.group.config), { syncDir: opts.syncDir ?? true, expectTarget });
  } catch (err) {
    await pending.abort();
    throw err;
  }
}

/** Applies metadata only (same content already here). */
export async function applyMetaOnly(fs: FileSystem, t: ApplyTarget, meta: FileMeta): Promise<void> {
  await fs.setMeta(absOf(t), metaUpdate(meta, t.group.config));
}

/** Creates or updates a directory. */
export async function applyDir(fs: FileSystem, t: ApplyTarget, meta: FileMeta): Promise<void> {
  const abs = absOf(t);
  await ensureParents(fs, t);
  const st = fs.lstat(abs);
  const update = metaUpdate(meta, t.group.config);
  if (st?.kind === 'dir') {
    await fs.setMeta(abs, update);
    return;
  }
  await clearWay(fs, t, st);
  await fs.mkdir(abs, update);
  // A child's parent creation may have made the directory first (with default metadata): apply ours.
  await fs.setMeta(abs, update);
}

/** Creates or replaces a symlink (never following it). */
export async function applySymlink(fs: FileSystem, t: ApplyTarget, meta: FileMeta): Promise<void> {
  const abs = absOf(t);
  await ensureParents(fs, t);
  const st = fs.lstat(abs);
  if (st?.kind === 'dir') await clearWay(fs, t, st);
  else await backupIfConfigured(fs, t, st);
  await fs.symlink(meta.target ?? '', abs, metaUpdate(meta, t.group.config));
}

/**
 * Deletes the entry (backing up files and symlinks); refuses a non-empty directory. A missing parent
 * means there is nothing to delete: no directory is created for a deletion.
 */
export async function applyDelete(fs: FileSystem, t: ApplyTarget): Promise<void> {
  const abs = absOf(t);
  for (const anc of ancestorsRel(t.rel)) {
    const st = fs.lstat(anc === '' ? t.absRoot : `${t.absRoot}/${anc}`);
    if (st === undefined) return;
    if (anc !== '' && st.kind !== 'dir') throw unsafeParent(`${t.absRoot}/${anc}`, st.kind === 'symlink' ? 'is a symlink' : 'is not a directory');
  }
  await clearWay(fs, t, fs.lstat(abs));
}
